"""The learner's progress record: one entry per check run, in a small JSON file.

It lives next to labkit's other state (``~/.local/state/labkit/progress.json``,
moved by ``LABKIT_HOME``; ``LABKIT_PROGRESS`` names the file itself, e.g. one per
workshop learner) and is written atomically under a lock, so two kernels
checking at once do not lose an entry.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from .paths import state_root

__all__ = ["progress_path", "record", "entries", "summary", "table"]


def progress_path() -> Path:
    """Where the progress file lives: ``$LABKIT_PROGRESS``, else ``<state>/progress.json``."""
    override = os.environ.get("LABKIT_PROGRESS")
    if override:
        return Path(override).expanduser()
    return state_root() / "progress.json"


@contextmanager
def _locked():
    path = progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return data.get("results", []) if isinstance(data, dict) else []


def record(exercise: str, passed: bool, *, seen: str = "", when: float | None = None) -> dict:
    """Append one result; returns the entry.

    Examples
    --------
    >>> record("03.2", True)  # doctest: +SKIP
    {'exercise': '03.2', 'time': '2026-05-01T10:00:00Z', 'passed': True, 'seen': ''}
    """
    entry = {"exercise": exercise,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when or time.time())),
             "passed": bool(passed), "seen": seen}
    with _locked() as path:
        results = _read(path) + [entry]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "results": results}, indent=1))
        tmp.replace(path)
    return entry


def entries() -> list[dict]:
    """Every recorded result, oldest first."""
    return _read(progress_path())


def _exercise_key(exercise: str):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in exercise.replace("-", ".").split(".")]


def summary() -> list[dict]:
    """One row per exercise: attempts, passed ever, last result and time."""
    rows: dict[str, dict] = {}
    for e in entries():
        row = rows.setdefault(e["exercise"], {"exercise": e["exercise"], "attempts": 0, "passed": False})
        row["attempts"] += 1
        row["passed"] = row["passed"] or e["passed"]
        row["last"] = "passed" if e["passed"] else "failed"
        row["time"] = e["time"]
    return [rows[k] for k in sorted(rows, key=_exercise_key)]


def table() -> str:
    """The progress summary as a text table (what ``labkit progress`` prints)."""
    rows = summary()
    if not rows:
        return f"no checks recorded yet ({progress_path()})"
    head = ("EXERCISE", "DONE", "LAST", "ATTEMPTS", "LAST RUN (UTC)")
    body = [(r["exercise"], "yes" if r["passed"] else "no", r["last"], str(r["attempts"]),
             r["time"].replace("T", " ").rstrip("Z")) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["   ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    lines += ["   ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip() for b in body]
    done = sum(r["passed"] for r in rows)
    lines.append(f"\n{done} of {len(rows)} exercise(s) passed")
    return "\n".join(lines)
