"""``labkit check <exercise>``: run a notebook's exercise checks from a terminal.

Check cells are the code cells tagged ``check``. The notebook is found by the
exercise id's prefix (``03.2`` → ``notebooks/03-*.ipynb``), its lesson name
from its ``labkit.lesson("...")`` call. Only the ``parameters`` cell and the
matching check cells run, in the lesson's namespace, without resetting it:
the cluster state the learner built is what gets checked.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import LabkitError

_LESSON_CALL = re.compile(r"""lesson\(\s*["']([^"']+)["']""")
_CHECK_ID = re.compile(r"""check\(\s*["']([^"']+)["']""")


def notebooks_dir(start: Path | None = None) -> Path:
    """``notebooks/`` in the current folder or a parent, else next to the labkit package."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir():
            return folder / "notebooks"
    packaged = Path(__file__).resolve().parent.parent / "notebooks"
    if packaged.is_dir():
        return packaged
    raise LabkitError("no notebooks/ folder here or above: run `labkit check` from the course folder")


def find_notebook(exercise: str, folder: Path | None = None) -> Path:
    """The notebook of an exercise: ``03.2`` → ``notebooks/03-*.ipynb``."""
    folder = folder or notebooks_dir()
    prefix = exercise.split(".")[0]
    found = sorted(folder.glob(f"{prefix}-*.ipynb")) or sorted(folder.glob(f"{prefix}*.ipynb"))
    if not found:
        known = ", ".join(sorted(p.stem for p in folder.glob("*.ipynb"))) or "none"
        raise LabkitError(f"no notebook for exercise {exercise} in {folder} (notebooks: {known})")
    return found[0]


def _code(cell) -> str:
    """A cell's Python, without IPython's ``!shell`` and ``%magic`` lines."""
    return "\n".join(line for line in cell.source.splitlines()
                     if not line.lstrip().startswith(("!", "%")))


def plan(path: Path, exercise: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(lesson name, parameters code, [(exercise id, check code)]) for a notebook."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    lesson = next((m.group(1) for c in code_cells for m in [_LESSON_CALL.search(c.source)] if m), None)
    if lesson is None:
        raise LabkitError(f"{path.name} never calls labkit.lesson(...): cannot tell its namespace")
    params = "\n".join(_code(c) for c in code_cells if "parameters" in c.metadata.get("tags", []))
    checks = []
    for cell in code_cells:
        if "check" not in cell.metadata.get("tags", []):
            continue
        m = _CHECK_ID.search(cell.source)
        ex_id = m.group(1) if m else ""
        if ex_id == exercise or "." not in exercise:
            checks.append((ex_id, _code(cell)))
    if not checks:
        ids = [m.group(1) for c in code_cells if "check" in c.metadata.get("tags", [])
               for m in [_CHECK_ID.search(c.source)] if m]
        raise LabkitError(f"{path.name} has no check for exercise {exercise} "
                          f"(its checks: {', '.join(ids) or 'none'})")
    return lesson, params, checks


def run(exercise: str, *, backend: str = "auto", folder: Path | None = None,
        timeout: float | None = None) -> list:
    """Run the checks of ``exercise`` (or of a whole notebook: ``"03"``); return the results.

    ``timeout`` caps each check's wait (a terminal user usually wants the answer now).

    Examples
    --------
    >>> [r.line for r in run("00.1")]  # doctest: +SKIP
    ['✅ 00.1 pod/hello Completed, 0 restarts']
    """
    import labkit

    from .checks import CheckResult

    path = find_notebook(exercise, folder)
    lesson_name, params, checks = plan(path, exercise)
    conn = labkit.connect(backend, quiet=True)
    lab = labkit.lesson(lesson_name, reset=False, connection=conn)
    def capped_check(*args, **kwargs):
        if timeout is not None:
            kwargs["timeout"] = min(kwargs.get("timeout", 30), timeout)
        return labkit.check(*args, **kwargs)

    scope = {"labkit": labkit, "lab": lab, "conn": conn, "check": capped_check,
             "expect": labkit.expect, "any_of": labkit.any_of, "__name__": "__labkit_check__"}
    exec(compile(params or "pass", f"{path.name}:parameters", "exec"), scope)
    # The notebook's own choice of backend is the learner's, not this terminal's.
    scope.update(lab=lab, conn=conn, check=capped_check)
    results = []
    for ex_id, code in checks:
        value = _exec_cell(code, scope, f"{path.name}:check {ex_id}")
        if isinstance(value, CheckResult):
            results.append(value)
    return results


def _exec_cell(code: str, scope: dict, label: str):
    """Run a cell's code; return the value of its last expression, as Jupyter shows it."""
    import ast

    tree = ast.parse(code, label)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, label, "exec"), scope)
    return eval(compile(last, label, "eval"), scope) if last is not None else None
