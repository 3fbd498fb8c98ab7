"""Pod status as the kubelet reports it: phase, conditions, container statuses.

These functions transcribe the kubelet's own rules (``getPhase`` in
pkg/kubelet/kubelet_pods.go and pkg/kubelet/status/generate.go, v1.37) for the
cases the sandbox produces: no probes, no sidecars, no resizes.
"""

from __future__ import annotations

import time

from .runtime import rfc3339

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


def container_status(c) -> dict:
    """containerStatuses[] entry of one container (``c`` is a podworker.Container)."""
    status: dict = {
        "name": c.name,
        "image": c.spec.get("image", ""),
        "imageID": c.image_id or "",
        "ready": c.ready,
        "restartCount": c.restart_count,
        "started": c.started,
        "state": c.state_api(),
        "lastState": {"terminated": c.last.as_api()} if c.last else {},
    }
    cid = c.container_id()
    if cid:
        status["containerID"] = cid
    return status


def phase(spec: dict, init_statuses: list[dict], statuses: list[dict], *, terminal: bool) -> str:
    """The kubelet's getPhase for pods without restartable init containers."""
    policy = spec.get("restartPolicy", "Always")
    pending_init = failed_init = 0
    for st in init_statuses:
        state, last = st["state"], st.get("lastState") or {}
        if "running" in state:
            pending_init += 1
        elif "terminated" in state:
            if state["terminated"]["exitCode"] != 0:
                failed_init += 1
        elif "waiting" in state:
            if "terminated" in last:
                if last["terminated"]["exitCode"] != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    pending_init += len(spec.get("initContainers") or []) - len(init_statuses)

    running = waiting = stopped = succeeded = unknown = 0
    unknown += len(spec.get("containers") or []) - len(statuses)
    for st in statuses:
        state, last = st["state"], st.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"]["exitCode"] == 0:
                succeeded += 1
        elif "waiting" in state:
            if "terminated" in last:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_init > 0 and policy == "Never":
        return "Failed"
    if pending_init > 0 or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal or policy == "Never":
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        return "Succeeded" if stopped == succeeded else "Running"
    return "Pending"


def _condition(ctype: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict:
    cond = {"type": ctype, "status": "True" if ok else "False"}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def conditions(spec: dict, init_statuses: list[dict], statuses: list[dict], pod_phase: str,
               *, sandbox_ready: bool) -> list[dict]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady (kubelet order)."""
    out = [_condition("PodReadyToStartContainers", sandbox_ready)]
    # Initialized
    init_names = [c["name"] for c in spec.get("initContainers") or []]
    done = {s["name"] for s in init_statuses
            if "terminated" in s["state"] and s["state"]["terminated"]["exitCode"] == 0}
    incomplete = [n for n in init_names if n not in done]
    if pod_phase == "Succeeded" and not incomplete:
        out.append(_condition("Initialized", True, "PodCompleted"))
    elif incomplete:
        out.append(_condition("Initialized", False, "ContainersNotInitialized",
                              f"containers with incomplete status: [{' '.join(incomplete)}]"))
    else:
        out.append(_condition("Initialized", True))
    # ContainersReady and Ready
    names = [c["name"] for c in spec.get("containers") or []]
    by_name = {s["name"]: s for s in statuses}
    unknown = [n for n in names if n not in by_name]
    unready = [n for n in names if n in by_name and not by_name[n]["ready"]]
    if pod_phase == "Succeeded" and not unknown:
        ready = _condition("ContainersReady", False, "PodCompleted")
    elif pod_phase == "Failed":
        ready = _condition("ContainersReady", False, "PodFailed")
    else:
        parts = []
        if unknown:
            parts.append(f"containers with unknown status: [{' '.join(unknown)}]")
        if unready:
            parts.append(f"containers with unready status: [{' '.join(unready)}]")
        ready = (_condition("ContainersReady", False, "ContainersNotReady", ", ".join(parts))
                 if parts else _condition("ContainersReady", True))
    pod_ready = dict(ready, type="Ready")
    out += [pod_ready, ready]
    return out


def carry_transition_times(new: list[dict], old: list[dict]) -> list[dict]:
    """Keep lastTransitionTime unless a condition's status changed."""
    previous = {c["type"]: c for c in old or []}
    now = rfc3339(time.time())
    for cond in new:
        prev = previous.get(cond["type"])
        if prev and prev.get("status") == cond["status"] and prev.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prev["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = now
        cond["lastProbeTime"] = None
    return new


def qos_class(spec: dict) -> str:
    """BestEffort, Burstable or Guaranteed, from cpu and memory requests and limits only."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if any(r in req or r in lim for r in ("cpu", "memory")):
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
