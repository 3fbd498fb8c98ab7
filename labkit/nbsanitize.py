"""Stored notebook outputs that nbval can compare: the shipped sanitize rules and output cleaning.

nbval compares each code cell's fresh outputs with the ones stored in the
notebook, after applying the regex rules of ``--nbval-sanitize-with`` to both.
A cell whose stored ``execution_count`` is null counts as "not run": it is
executed (so an exception still fails) but its outputs are not compared, and it
must store none. :func:`clean_outputs` turns an executed notebook into that
shape: cluster-dependent cells (tagged ``nbval-ignore-output`` or
``nbval-skip``) keep no output, every other code cell keeps its outputs
sanitized with the same rules, so a committed notebook holds no local path,
address, uid or timestamp.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from .errors import LabkitError

__all__ = ["RULES_FILE", "rules", "sanitize", "compared", "clean_outputs", "leaks"]

RULES_FILE = Path(__file__).with_name("nbval_sanitize.cfg")

_IGNORE_TAGS = {"nbval-ignore-output", "nbval-skip", "pytest-validate-ignore-output"}
_IGNORE_MARKERS = {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "PYTEST_VALIDATE_IGNORE_OUTPUT"}
_VOLATILE_CELL_META = ("papermill", "execution", "ExecuteTime")
_VOLATILE_NB_META = ("papermill", "widgets")


@lru_cache(maxsize=None)
def rules(path: str | None = None) -> tuple[tuple[re.Pattern, str], ...]:
    """The (regex, replacement) pairs of a sanitize file, parsed exactly as nbval parses them."""
    text = Path(path or RULES_FILE).read_text()
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)
    return tuple((re.compile(rx), rep) for rx, rep in pairs)


def sanitize(text: str, path: str | None = None) -> str:
    """Apply the rules in order, as nbval does.

    Examples
    --------
    >>> sanitize("test-job-x7k2p   0/1   Completed   0   12s")
    'test-job-XXXXX   0/1   Completed   0   AGE'
    """
    for rx, rep in rules(path):
        text = rx.sub(rep, text)
    return text


def compared(cell) -> bool:
    """Whether nbval compares this code cell's outputs (no ignore/skip tag or comment marker)."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    if tags & _IGNORE_TAGS:
        return False
    comments = {line.strip().lstrip("#").strip() for line in cell.source.splitlines()
                if line.strip().startswith("#")}
    return not comments & _IGNORE_MARKERS


def _sanitize_output(out: dict) -> dict:
    out = dict(out)
    if "text" in out:
        text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
        out["text"] = sanitize(text)
    if "data" in out:
        data = {}
        for mime, value in out["data"].items():
            if isinstance(value, list):
                value = "".join(value)
            data[mime] = sanitize(value) if isinstance(value, str) and mime.startswith("text/") else value
        out["data"] = data
    if "metadata" in out:
        out["metadata"] = {}
    out.pop("execution_count", None)
    return out


def clean_outputs(source_nb, executed_nb) -> None:
    """Copy ``executed_nb``'s outputs into ``source_nb`` (same cells), cleaned for committing.

    Sources are never touched. Compared cells get sanitized outputs and
    execution counts 1, 2, …; ignored cells get none (nbval runs them without
    comparing). Run metadata (papermill's, execution timings, widget state) is
    dropped.
    """
    import nbformat

    if len(source_nb.cells) != len(executed_nb.cells):
        raise LabkitError("the executed notebook has a different number of cells than its source: "
                          "was it run with injected parameters? Record without parameters.")
    count = 0
    for cell, done in zip(source_nb.cells, executed_nb.cells):
        for key in _VOLATILE_CELL_META:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        if compared(cell):
            count += 1
            cell.execution_count = count
            outs = [_sanitize_output(o) for o in done.get("outputs", [])]
            for o in outs:
                if o.get("output_type") == "execute_result":
                    o["execution_count"] = count
            cell.outputs = [nbformat.from_dict(o) for o in outs]
        else:
            cell.execution_count = None
            cell.outputs = []
    for key in _VOLATILE_NB_META:
        source_nb.metadata.pop(key, None)


def leaks(nb) -> list[str]:
    """Where stored outputs still show this machine (home folder, checkout, user name): "cell N: …"."""
    import json

    needles = {str(Path.home()), str(Path.cwd())}
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if user and len(user) >= 4 and user != "root":
        needles.add(f"/{user}/")
    needles = {n for n in needles if len(n) > 1}
    found = []
    for i, cell in enumerate(nb.cells):
        text = json.dumps(cell.get("outputs", []), ensure_ascii=False)
        for needle in sorted(needles):
            if needle in text:
                found.append(f"cell {i}: output contains {needle!r}")
    return found
