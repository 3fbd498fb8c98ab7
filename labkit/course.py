"""``labkit course run``: execute the whole course headless and report every check.

Each ``notebooks/NN-*.ipynb`` runs with papermill, in order, in a fresh
namespace (the lesson's namespace is deleted first), with its exercise cells
replaced by the solutions (``notebooks/solutions/<stem>.json``), or left as the
learner gets them with ``starter=True``. The ✅/❌ lines come from the executed
notebooks' outputs: a check cell's plain-text output is exactly that line.
Executed notebooks are saved (a failing one with papermill's banner at the cell
that failed), and the progress file of the learner is left alone.
"""

from __future__ import annotations

import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LabkitError

__all__ = ["CheckLine", "NotebookRun", "find_notebooks", "run", "execute", "summary_line"]

NOTEBOOK_NAME = re.compile(r"^\d\d-.+\.ipynb$")
CHECK_LINE = re.compile(r"^(✅|❌|⏭) (\S+)(?: |$)")
_LESSON_CALL = re.compile(r"""lesson\(\s*["']([^"']+)["']""")
_CHECK_CALL = re.compile(r"""check\(\s*["']([^"']+)["']""")
COURSE_NODES = 2          # lesson 03 fails a node: a sandbox started here gets two
DEFAULT_CELL_TIMEOUT = 600


@dataclass
class CheckLine:
    """One check's result line, as the notebook printed it."""

    notebook: str
    exercise: str
    passed: bool | None          # None: skipped (the check does not apply to this cluster)
    text: str
    expected_pass: bool = True   # False for an exercise check in a starter run

    @property
    def as_expected(self) -> bool:
        return self.passed is None or self.passed == self.expected_pass


@dataclass
class NotebookRun:
    """One executed notebook: its check lines, the error that stopped it, the time it took."""

    name: str
    output: Path
    seconds: float = 0.0
    checks: list[CheckLine] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # check cells that printed no line
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing and all(c.as_expected for c in self.checks)


def find_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The lessons ``NN-*.ipynb`` in order; ``only=["02"]`` (or a stem) keeps the matching ones."""
    found = sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))
    if only:
        wanted = [o.strip().removesuffix(".ipynb") for o in only if o.strip()]
        found = [p for p in found if any(p.stem == w or p.stem.startswith(f"{w}-") for w in wanted)]
        if not found:
            raise LabkitError(f"no notebook in {folder} matches --only {','.join(only)} "
                              "(use its number, e.g. --only 02)")
    elif not found:
        raise LabkitError(f"no lesson notebooks (NN-name.ipynb) in {folder}")
    return found


def lesson_name(nb) -> str | None:
    """The name passed to ``labkit.lesson(...)`` (its namespace, without a learner prefix)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            m = _LESSON_CALL.search(cell.source)
            if m:
                return m.group(1)
    return None


def check_ids(nb) -> list[str]:
    """The check ids of the notebook's check cells, in order."""
    from .exercises import check_id

    ids = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "check" not in cell.metadata.get("tags", []):
            continue
        ex = check_id(cell)
        m = _CHECK_CALL.search(cell.source)
        ex = ex or (m.group(1) if m else None)
        if ex:
            ids.append(ex)
    return ids


def exercise_ids(nb) -> list[str]:
    """The ids of the exercise cells (the ones a learner edits)."""
    from .exercises import exercise_id

    return [ex for cell in nb.cells for ex in [exercise_id(cell)] if ex]


def check_lines(nb) -> list[tuple[str, bool, str]]:
    """(id, passed, line) for every ✅/❌ line in the outputs, once per cell and id."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        seen = set()
        for out in cell.get("outputs", []):
            texts = []
            if out.get("output_type") in ("execute_result", "display_data"):
                texts.append(out.get("data", {}).get("text/plain", ""))
            elif out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            for text in texts:
                text = "".join(text) if isinstance(text, list) else text
                for line in text.splitlines():
                    m = CHECK_LINE.match(line)
                    if m and m.group(2) not in seen:
                        seen.add(m.group(2))
                        found.append((m.group(2), {"✅": True, "❌": False}.get(m.group(1)), line))
    return found


def first_error(nb) -> str | None:
    """Why the executed notebook stopped, named as papermill's banner does: "In [2]: ValueError: …"."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                value = str(out.get("evalue", "")).strip().splitlines()
                where = f"In [{cell.get('execution_count')}]"
                return f"{where}: {out.get('ename')}: {value[0] if value else ''}".rstrip(": ")
    return None


@contextmanager
def kernel_env(**values):
    """Set environment variables for the kernels started inside (papermill passes os.environ on)."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = str(v)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fresh_namespace(conn, lesson: str, *, timeout: float = 120) -> None:
    """Delete the lesson's namespace and wait until it is gone, so the lesson starts clean."""
    from kubernetes.client.exceptions import ApiException

    from .lesson import namespace_for

    ns = namespace_for(lesson)
    core = conn.api.core
    try:
        core.delete_namespace(ns)
    except ApiException as e:
        if e.status == 404:
            return
        raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespace(ns)
        except ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(0.25)
    raise LabkitError(f"namespace {ns} is still being deleted after {timeout:g}s: "
                      f"see `kubectl get ns {ns} -o yaml` (finalizers) and `labkit logs kube-controller-manager`")


def execute(nb, output: Path, *, cwd: Path, cell_timeout: float, parameters: dict | None = None):
    """Run ``nb`` with papermill and save it to ``output``; return (executed notebook, error or None).

    A cell that raises or runs out of time stops the run; papermill then marks
    that cell and puts a banner at the top of the saved notebook. In a terminal,
    papermill's bar shows the cell being run and the time so far.
    """
    import logging

    import nbformat
    import papermill

    # papermill warns about parameter lines it cannot parse (our `if LABKIT_FAST` override): noise here
    logging.getLogger("papermill").setLevel(logging.ERROR)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Stored outputs (recorded for nbval) would pass for results of cells that never ran.
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    try:
        executed = papermill.execute_notebook(
            nb, str(output), parameters=parameters or None, kernel_name="python3", cwd=str(cwd),
            progress_bar=sys.stderr.isatty(), log_output=False, execution_timeout=cell_timeout,
            interrupt_on_timeout=True)
        return executed, None
    except papermill.PapermillExecutionError as e:
        executed = nbformat.read(str(output), as_version=4)
        return executed, first_error(executed) or f"In [{e.exec_count}]: {e.ename}: {e.evalue}"
    except Exception as e:  # kernel died, could not start, …: keep what was saved
        executed = nbformat.read(str(output), as_version=4) if output.exists() else nb
        return executed, f"{type(e).__name__}: {e}"


def _parameters(nb, backend: str) -> dict:
    """Papermill parameters: the backend, when the notebook's parameters cell has one."""
    if backend == "auto":
        return {}
    params = "\n".join(c.source for c in nb.cells
                       if c.cell_type == "code" and "parameters" in c.metadata.get("tags", []))
    return {"backend": backend} if re.search(r"^\s*backend\s*=", params, re.MULTILINE) else {}


def run_notebook(path: Path, conn, *, output_dir: Path, starter: bool, backend: str,
                 cell_timeout: float) -> NotebookRun:
    """Execute one lesson (solutions swapped in unless ``starter``) and collect its checks."""
    import nbformat

    from .exercises import fill, load_solutions

    nb = nbformat.read(str(path), as_version=4)
    exercises = exercise_ids(nb)
    if not starter:
        solutions = load_solutions(path)
        try:
            fill(nb, solutions)
        except KeyError as e:
            raise LabkitError(f"{path.name}: {e.args[0]} (notebooks/solutions/{path.stem}.json)") from None
    result = NotebookRun(path.stem, output_dir / path.name)
    lesson = lesson_name(nb)
    if lesson is None:
        raise LabkitError(f"{path.name} never calls labkit.lesson(...): cannot give it a fresh namespace")
    start = time.monotonic()
    fresh_namespace(conn, lesson)
    executed, result.error = execute(nb, result.output, cwd=path.parent, cell_timeout=cell_timeout,
                                     parameters=_parameters(nb, backend))
    result.seconds = time.monotonic() - start
    for ex, passed, line in check_lines(executed):
        expected = not (starter and ex in exercises)
        result.checks.append(CheckLine(path.stem, ex, passed, line, expected_pass=expected))
    printed = {c.exercise for c in result.checks}
    result.missing = [ex for ex in check_ids(nb) if ex not in printed]
    return result


def summary_line(runs: list[NotebookRun]) -> str:
    """``N passed, M failed``: checks that behaved as expected, and everything else that went wrong."""
    skipped = sum(c.passed is None for r in runs for c in r.checks)
    passed = sum(c.as_expected for r in runs for c in r.checks) - skipped
    failed = sum(not c.as_expected for r in runs for c in r.checks)
    failed += sum(len(r.missing) + (r.error is not None) for r in runs)
    return f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")


def _report(run: NotebookRun, starter: bool, out) -> None:
    for c in run.checks:
        note = ""
        if starter:
            if not c.expected_pass:
                note = "  (starter: fails, as it should)" if c.as_expected else \
                    "  (starter: should fail until the learner fills the gap, but passed)"
        print(c.text + note, file=out)
    if run.error:
        print(f"❌ {run.name} stopped at {run.error} (see {run.output})", file=out)
    for ex in run.missing:
        why = "the notebook stopped before it" if run.error else "its cell printed no ✅/❌ line"
        print(f"❌ {ex} no result: {why}", file=out)
    print(f"   {run.name}: {len(run.checks)} check(s) in {run.seconds:.1f}s", file=out, flush=True)


def run(*, only: list[str] | None = None, fast: bool = False, starter: bool = False,
        backend: str = "auto", name: str | None = None, output: Path | None = None,
        folder: Path | None = None, cell_timeout: float = DEFAULT_CELL_TIMEOUT, out=None) -> list[NotebookRun]:
    """Run the course's notebooks, print one line per check and the summary; return the runs."""
    import labkit

    from .nbcheck import notebooks_dir

    out = out or sys.stdout
    folder = folder or notebooks_dir()
    output = Path(output) if output else folder / "_executed"
    if starter:
        output = output / "starter"
    paths = find_notebooks(folder, only)
    env = {"LABKIT_FAST": "1" if fast else None,
           # headless runs must not mark the learner's exercises as done
           "LABKIT_PROGRESS": os.environ.get("LABKIT_PROGRESS_COURSE") or str(output / "progress.json")}
    if name:
        env["LABKIT_CLUSTER"] = name
    runs = []
    with kernel_env(**env):
        conn = labkit.connect(backend, nodes=COURSE_NODES, name=name, quiet=True)
        mode = "starter (no solutions)" if starter else "with solutions"
        print(f"course: {len(paths)} notebook(s) {mode}{', fast' if fast else ''} on {conn.describe()}",
              file=out, flush=True)
        for path in paths:
            print(f"▶ {path.stem}", file=out, flush=True)
            result = run_notebook(path, conn, output_dir=output, starter=starter, backend=backend,
                                  cell_timeout=cell_timeout)
            _report(result, starter, out)
            runs.append(result)
    print(summary_line(runs), file=out, flush=True)
    return runs
