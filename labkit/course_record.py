"""``labkit course record``: refresh the outputs stored in the notebooks, for nbval.

nbval runs the notebooks as committed (exercise gaps left, so their checks say
❌) and compares each cell's outputs with the stored ones. This executes each
notebook the same way (starter state, ``LABKIT_FAST=1``, a fresh namespace),
then writes back only outputs and execution counts, sanitized with the shipped
rules; cells tagged ``nbval-ignore-output`` keep none. Sources are untouched,
so an author can record at any time and review the diff.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from .errors import LabkitError

__all__ = ["record"]


def record_notebook(path: Path, conn, *, backend: str, cell_timeout: float, scratch: Path) -> str:
    """Execute one notebook and store its cleaned outputs in it; return a one-line report."""
    import nbformat

    from . import course, nbsanitize

    source = nbformat.read(str(path), as_version=4)
    lesson = course.lesson_name(source)
    if lesson is None:
        raise LabkitError(f"{path.name} never calls labkit.lesson(...): cannot give it a fresh namespace")
    start = time.monotonic()
    course.fresh_namespace(conn, lesson)
    executed, error = course.execute(nbformat.read(str(path), as_version=4), scratch / path.name,
                                     cwd=path.parent, cell_timeout=cell_timeout,
                                     parameters=course._parameters(source, backend))
    if error:
        raise LabkitError(f"{path.name} failed at {error}; nothing written (executed copy: "
                          f"{scratch / path.name})")
    executed.cells = [c for c in executed.cells
                      if "injected-parameters" not in c.metadata.get("tags", [])
                      and "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    nbsanitize.clean_outputs(source, executed)
    leaks = nbsanitize.leaks(source)
    if leaks:
        raise LabkitError(f"{path.name}: outputs still show this machine ({'; '.join(leaks)}): tag the cell "
                          "nbval-ignore-output or add a rule to labkit/nbval_sanitize.cfg; nothing written")
    nbformat.validate(source)
    nbformat.write(source, str(path))
    compared = sum(1 for c in source.cells if c.cell_type == "code" and c.execution_count)
    lines = len(course.check_lines(source))
    return f"{path.name}: {compared} compared cell(s), {lines} check line(s), {time.monotonic() - start:.1f}s"


def record(*, only: list[str] | None = None, backend: str = "auto", name: str | None = None,
           folder: Path | None = None, cell_timeout: float = 300, out=None) -> int:
    """Record every (or ``only`` the) lesson notebook in CI mode; return how many were written."""
    import labkit

    from . import course
    from .nbcheck import notebooks_dir

    out = out or sys.stdout
    folder = folder or notebooks_dir()
    paths = course.find_notebooks(folder, only)
    with tempfile.TemporaryDirectory(prefix="labkit-record-") as tmp:
        env = {"LABKIT_FAST": "1", "LABKIT_PROGRESS": str(Path(tmp) / "progress.json"),
               "LABKIT_LEARNER": None}
        if name:
            env["LABKIT_CLUSTER"] = name
        with course.kernel_env(**env):
            conn = labkit.connect(backend, nodes=course.COURSE_NODES, name=name, quiet=True)
            for path in paths:
                print(f"▶ {path.stem}", file=out, flush=True)
                print("  " + record_notebook(path, conn, backend=backend, cell_timeout=cell_timeout,
                                             scratch=folder / "_executed" / "record"), file=out, flush=True)
    return len(paths)
