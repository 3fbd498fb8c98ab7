"""Exercises: a manifest with ``___`` gaps that the learner fills in, then a check.

An exercise cell ends with ``submit(manifest)``. While a gap is left, nothing
is applied and the learner is told which line still needs an answer (so "Run
All" on an untouched notebook runs cleanly and its checks simply say ❌). Once
the gaps are filled, a previous attempt is deleted first (a Job's pod template
cannot be changed in place) and the manifest is applied.

The solved cells live in ``notebooks/solutions/<notebook>.json``
(exercise id → cell source); ``labkit course run`` swaps them in.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from . import manifests
from .text import SaidList

__all__ = ["GAP", "gaps", "submit", "pending_gap", "load_solutions", "fill"]

GAP = "___"


def gaps(text: str) -> list[tuple[int, str]]:
    """The ``(line number, line)`` pairs that still contain a gap.

    Examples
    --------
    >>> gaps("kind: Pod\\nspec:\\n  restartPolicy: ___\\n")
    [(3, '  restartPolicy: ___')]
    """
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if GAP in line]


def _names(text: str) -> list[tuple[str, str]]:
    """(kind, name) of each object in a manifest, in order."""
    out = []
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind") and (doc.get("metadata") or {}).get("name"):
            out.append((doc["kind"], doc["metadata"]["name"]))
    return out


# (namespace, kind, name) -> "line 9": objects whose exercise cell still has a gap, so a
# check on them can say so at once instead of waiting for an object that cannot come.
_PENDING: dict[tuple[str, str, str], str] = {}


def _names_or_none(text: str) -> list[tuple[str, str]]:
    try:
        return _names(text)
    except yaml.YAMLError:
        return []


def pending_gap(namespace: str, kind: str, name: str) -> str | None:
    """Where the exercise cell that makes ``kind/name`` still has a gap (``"line 9"``), if it does."""
    return _PENDING.get((namespace, kind.lower(), name))


def submit(manifest: str, *, lab=None) -> list[dict]:
    """Apply an exercise's manifest once its ``___`` gaps are filled in.

    With a gap left, print which lines still need an answer and apply nothing.
    Otherwise delete the objects of a previous attempt (same kind and name),
    then apply the manifest, printing kubectl's lines.

    Parameters
    ----------
    manifest : str
        YAML text, one or more documents.
    lab : Lesson, optional
        Defaults to the active lesson.

    Returns
    -------
    list of dict
        The applied objects (empty while gaps are left).

    Examples
    --------
    >>> submit('''
    ... apiVersion: v1
    ... kind: Pod
    ... metadata: {name: run-once}
    ... spec:
    ...   restartPolicy: ___
    ...   containers: [{name: work, image: busybox, command: [echo, hi]}]
    ... ''')  # doctest: +SKIP
    ✏️  Fill in the gap first (line 6: restartPolicy: ___), then run this cell again.
    """
    from .lesson import active

    lab = lab or active()
    open_gaps = gaps(manifest)
    names = _names_or_none(manifest)
    for kind, name in names:
        _PENDING.pop((lab.namespace, kind.lower(), name), None)
    if open_gaps:
        where = "; ".join(f"line {n}: {line.strip()}" for n, line in open_gaps)
        noun = "gap" if len(open_gaps) == 1 else "gaps"
        print(f"✏️  Fill in the {noun} first ({where}), then run this cell again.")
        for kind, name in names:
            _PENDING[(lab.namespace, kind.lower(), name)] = ", ".join(f"line {n}" for n, _ in open_gaps)
        return SaidList([])
    # A manifest the API rejects must not cost the learner their earlier attempt.
    manifests.validate_as_new(lab.api, manifest, lab.namespace)
    for kind, name in reversed(_names(manifest)):
        if any(o["metadata"]["name"] == name for o in lab.get(kind)):
            lab.delete(kind, name)  # an earlier attempt: start from a clean slate
    return lab.apply(manifest)


def load_solutions(notebook: Path) -> dict[str, str]:
    """The solved exercise cells of ``notebook`` (``solutions/<stem>.json`` beside it), or {}."""
    path = Path(notebook).parent / "solutions" / f"{Path(notebook).stem}.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): ("".join(v) if isinstance(v, list) else v) for k, v in data.items()}


def fill(nb, solutions: dict[str, str]) -> list[str]:
    """Replace each exercise cell of ``nb`` (an nbformat notebook) by its solution, in place.

    Returns the exercise ids that were filled; raises ``KeyError`` naming an
    exercise that has no solution.
    """
    filled = []
    for cell in nb.cells:
        ex = exercise_id(cell)
        if ex is None:
            continue
        if ex not in solutions:
            raise KeyError(f"exercise {ex} has no solution in solutions/*.json")
        cell.source = solutions[ex]
        filled.append(ex)
    return filled


def exercise_id(cell) -> str | None:
    """The exercise id of an exercise cell (tag ``exercise``), else None."""
    if "exercise" not in cell.get("metadata", {}).get("tags", []):
        return None
    return cell["metadata"].get("labkit", {}).get("exercise")


def check_id(cell) -> str | None:
    """The check id of a check cell (tag ``check``), else None."""
    if "check" not in cell.get("metadata", {}).get("tags", []):
        return None
    return cell["metadata"].get("labkit", {}).get("check")
