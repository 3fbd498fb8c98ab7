"""One-line descriptions of an object's state, for waits, checks and errors.

The words are kubectl's: a pod is described by its STATUS column, READY and
RESTARTS; a Job by its active/succeeded/failed counts and conditions. Nothing
time-dependent goes in, so the same state always reads the same.
"""

from __future__ import annotations

from .kubectl_columns import pod_columns, pod_restarts, pod_status


def true_conditions(obj: dict) -> list[dict]:
    """The object's conditions whose status is True."""
    return [c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("status") == "True"]


def job_outcome(job: dict) -> dict | None:
    """The Job's terminal condition (Complete or Failed) if it has one."""
    for cond in true_conditions(job):
        if cond.get("type") in ("Complete", "Failed"):
            return cond
    return None


def last_exit(pod: dict) -> dict | None:
    """The ``terminated`` record of the first container that has one (current, else last)."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
        if term:
            return term
    return None


def describe_pod(pod: dict) -> str:
    cols = pod_columns(pod)
    text = f"{pod_status(pod)}, READY {cols['READY']}, {_count(pod_restarts(pod), 'restart')}"
    term = last_exit(pod)
    if term:
        text += f", last exit code {term.get('exitCode')} ({term.get('reason') or 'no reason'})"
    return text


def describe_job(job: dict) -> str:
    st = job.get("status") or {}
    text = (f"active {st.get('active', 0)}, succeeded {st.get('succeeded', 0)}, "
            f"failed {st.get('failed', 0)}")
    conds = [c["type"] + (f" ({c['reason']})" if c.get("reason") else "") for c in true_conditions(job)]
    return text + (f"; conditions: {', '.join(conds)}" if conds else "; no conditions yet")


def describe(kind: str, obj: dict | None) -> str:
    """A short, deterministic description of ``obj``'s state.

    Examples
    --------
    >>> describe("Job", {"status": {"failed": 3, "conditions": [
    ...     {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}})
    'active 0, succeeded 0, failed 3; conditions: Failed (BackoffLimitExceeded)'
    """
    if obj is None:
        return "it does not exist"
    if kind == "Pod":
        return describe_pod(obj)
    if kind == "Job":
        return describe_job(obj)
    st = obj.get("status") or {}
    conds = [c["type"] for c in true_conditions(obj)]
    parts = [f"phase {st['phase']}"] if st.get("phase") else []
    for key in ("replicas", "readyReplicas", "currentNumberScheduled", "numberReady"):
        if key in st:
            parts.append(f"{key} {st[key]}")
    if conds:
        parts.append("conditions: " + ", ".join(conds))
    return ", ".join(parts) or "no status yet"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
