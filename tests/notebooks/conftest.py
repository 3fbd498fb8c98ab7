"""Helpers for the course tests: the lesson notebooks, and labkit/pytest run as a learner's CI would.

Everything runs against the session sandbox (``sandbox`` fixture in tests/conftest.py), in
subprocesses with that cluster's name and kubeconfig, and with a progress file of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from labkit import course

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
LABKIT = str(Path(sys.executable).with_name("labkit"))


def lesson_notebooks() -> list[Path]:
    """The lesson notebooks in the checkout (picked up as authors add them)."""
    return course.find_notebooks(NOTEBOOKS)


def read(path: Path):
    return nbformat.read(str(path), as_version=4)


def cluster_env(sandbox, tmp: Path, **extra) -> dict:
    """The environment of a learner's terminal pointed at the session sandbox."""
    env = dict(os.environ, LABKIT_CLUSTER=sandbox.name, KUBECONFIG=str(sandbox.kubeconfig),
               LABKIT_PROGRESS=str(tmp / "progress.json"), PYTHONUNBUFFERED="1")
    env.pop("LABKIT_LEARNER", None)
    env.update(extra)
    return env


def run(args: list[str], env: dict, cwd: Path = REPO, timeout: float = 1800) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    sys.stdout.write(f"$ {' '.join(args)}  (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr[-4000:]}\n")
    return proc


def one_lesson_course(folder: Path, stem: str, *cells) -> Path:
    """``folder/notebooks/<stem>.ipynb``: connect, open lesson ``stem``, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        f'import labkit\nlabkit.connect(quiet=True)\nlab = labkit.lesson("{stem}")'), *cells]
    (folder / "notebooks").mkdir()
    path = folder / "notebooks" / f"{stem}.ipynb"
    nbformat.write(nb, str(path))
    return path
