"""kubectl's pod columns (NAME READY STATUS RESTARTS AGE), computed as kubectl does.

A transcription of ``printPod`` in kubernetes/pkg/printers/internalversion/
printers.go and of ``HumanDuration`` in apimachinery's util/duration, so a
labkit table or check says exactly what ``kubectl get pods`` would say:
``Completed`` with ``READY 0/1``, ``CrashLoopBackOff``, ``3 (12s ago)``.
Pods are plain dicts in the API's camelCase form.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["pod_columns", "pod_status", "pod_restarts", "human_duration", "age"]

NODE_UNREACHABLE_REASON = "NodeLost"


def parse_time(value) -> float | None:
    """An RFC 3339 timestamp (or datetime) as epoch seconds; None when absent."""
    if not value:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def human_duration(seconds: float) -> str:
    """kubectl's AGE format (apimachinery ``duration.HumanDuration``).

    Examples
    --------
    >>> human_duration(75), human_duration(150), human_duration(3 * 3600 + 60)
    ('75s', '2m30s', '3h1m')
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp, now: float | None = None) -> str:
    """Time since ``timestamp`` in kubectl's format, ``<unknown>`` when absent."""
    at = parse_time(timestamp)
    if at is None:
        return "<unknown>"
    return human_duration((now if now is not None else time.time()) - at)


def _restartable(container: dict | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"


def _terminated_reason(term: dict, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _condition_true(status: dict, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True"
               for c in status.get("conditions") or [])


def _analyse(pod: dict) -> tuple[int, int, str, int, float | None]:
    """(ready, total, status, restarts, last restart epoch) like printPod."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    meta = pod.get("metadata") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {c["name"]: c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(_restartable(c) for c in init_specs.values())
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last = None

    def later(current, term):
        at = parse_time((term or {}).get("finishedAt"))
        return at if at is not None and (current is None or at > current) else current

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += cs.get("restartCount", 0)
        last_term = (cs.get("lastState") or {}).get("terminated")
        last_restart = later(last_restart, last_term)
        sidecar = _restartable(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            sidecar_last = later(sidecar_last, last_term)
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += bool(cs.get("ready"))
            continue
        if term:
            reason = _terminated_reason(term, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            last_restart = later(last_restart, (cs.get("lastState") or {}).get("terminated"))
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term:
                reason = _terminated_reason(term)
            elif cs.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == NODE_UNREACHABLE_REASON:
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return ready, total, reason, restarts, last_restart


def pod_status(pod: dict) -> str:
    """The STATUS column: ``Running``, ``Completed``, ``CrashLoopBackOff``, ``Error`` …

    Examples
    --------
    >>> pod_status({"status": {"phase": "Succeeded", "containerStatuses": [
    ...     {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}})
    'Completed'
    """
    return _analyse(pod)[2]


def pod_restarts(pod: dict) -> int:
    """The number in the RESTARTS column."""
    return _analyse(pod)[3]


def pod_columns(pod: dict, now: float | None = None) -> dict[str, str]:
    """NAME, READY, STATUS, RESTARTS, AGE of one pod, as ``kubectl get pods`` prints them.

    Examples
    --------
    >>> row = pod_columns({"metadata": {"name": "test-job"}, "spec": {"containers": [{}]},
    ...                    "status": {"phase": "Pending"}})
    >>> row["NAME"], row["READY"], row["STATUS"], row["RESTARTS"], row["AGE"]
    ('test-job', '0/1', 'Pending', '0', '<unknown>')
    """
    now = time.time() if now is None else now
    ready, total, status, restarts, last = _analyse(pod)
    restarts_text = str(restarts)
    if restarts and last is not None:
        restarts_text = f"{restarts} ({human_duration(now - last)} ago)"
    meta = pod.get("metadata") or {}
    return {
        "NAME": meta.get("name", ""),
        "READY": f"{ready}/{total}",
        "STATUS": status,
        "RESTARTS": restarts_text,
        "AGE": age(meta.get("creationTimestamp"), now),
    }


def format_table(rows: list[dict[str, str]], columns=("NAME", "READY", "STATUS", "RESTARTS", "AGE")) -> str:
    """Rows laid out like kubectl's tabwriter (3 spaces between columns)."""
    if not rows:
        return "No resources found."
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = ["   ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += ["   ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)
