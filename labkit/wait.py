"""``wait``: kubectl's ``wait --for=...`` with a timeout message that explains.

Supported ``for_`` forms, as kubectl spells them (a leading ``--for=`` is
accepted too): ``condition=Complete``, ``condition=Ready=False``,
``jsonpath={.status.phase}=Succeeded``, ``delete`` and ``create``.

On timeout a :class:`~labkit.errors.WaitTimeout` says what state the object
was in and shows its last events. A wait that can no longer succeed (a Job
that has Failed while you wait for Complete) stops early and says so.
"""

from __future__ import annotations

import re
import time

from .client import Api, Kind
from .errors import LabkitError, WaitTimeout
from .states import describe, job_outcome

POLL = 0.25


def parse_target(target: str, kind: str | None = None) -> tuple[str, str]:
    """``"job/test-job"`` → ``("job", "test-job")``; ``kind`` is used for a bare name."""
    if "/" in target:
        word, _, name = target.partition("/")
        return word, name
    if kind is None:
        raise LabkitError(f"'{target}': name the kind too, as kubectl does, e.g. 'job/{target}'")
    return kind, target


def jsonpath(obj, path: str):
    """A small subset of kubectl's JSONPath: ``{.status.phase}``, ``{.a.b[0].c}``.

    Examples
    --------
    >>> jsonpath({"status": {"containerStatuses": [{"restartCount": 2}]}},
    ...          "{.status.containerStatuses[0].restartCount}")
    2
    """
    inner = path.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    if "?" in inner or "*" in inner or ".." in inner:
        raise LabkitError(f"jsonpath {path}: labkit supports plain paths such as "
                          "{.status.phase} or {.status.containerStatuses[0].restartCount}")
    value = obj
    for part in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", inner):
        key, index = part
        if value is None:
            return None
        if key:
            value = value.get(key) if isinstance(value, dict) else None
        else:
            i = int(index)
            value = value[i] if isinstance(value, list) and i < len(value) else None
    return value


class Condition:
    """A parsed ``--for`` value: ``test(obj) -> bool`` and ``never(obj) -> reason | None``."""

    def __init__(self, spec: str):
        self.spec = spec.removeprefix("--for=").strip()
        self.mode, _, rest = self.spec.partition("=")
        self.mode = self.mode.lower()
        if self.mode == "condition":
            ctype, _, value = rest.partition("=")
            self.ctype, self.value = ctype, value or "True"
        elif self.mode == "jsonpath":
            m = re.fullmatch(r"(\{.*\})(?:=(.*))?", rest)
            if not m:
                raise LabkitError(f"'{spec}': write jsonpath={{.status.phase}}=Succeeded")
            self.path, self.value = m.group(1), m.group(2)
        elif self.mode not in ("delete", "create"):
            raise LabkitError(f"unknown wait condition '{spec}': use condition=Complete, "
                              "jsonpath={.status.phase}=Succeeded, delete or create")

    def test(self, obj: dict | None) -> bool:
        if self.mode == "delete":
            return obj is None
        if obj is None:
            return False
        if self.mode == "create":
            return True
        if self.mode == "condition":
            return any(c.get("type", "").lower() == self.ctype.lower()
                       and str(c.get("status")).lower() == self.value.lower()
                       for c in (obj.get("status") or {}).get("conditions") or [])
        value = jsonpath(obj, self.path)
        if self.value is None:
            return value not in (None, "", [], {})
        return str(value).lower() == self.value.lower() if isinstance(value, bool) else str(value) == self.value

    def never(self, kind: str, obj: dict | None) -> str | None:
        """Why the wait can no longer succeed, for states that cannot change back."""
        if obj is None or self.test(obj):
            return None
        if kind == "Job" and self.mode == "condition" and self.value == "True":
            outcome = job_outcome(obj)
            if outcome and outcome["type"].lower() != self.ctype.lower():
                reason = f" ({outcome['reason']})" if outcome.get("reason") else ""
                return f"it has already finished with condition {outcome['type']}{reason}"
        if kind == "Pod" and self.mode == "jsonpath" and self.path.replace(" ", "") == "{.status.phase}":
            phase = (obj.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed") and self.value in ("Running", "Pending", "Succeeded", "Failed"):
                return f"its phase is {phase}, which is final"
        return None


def get_or_none(api: Api, kind: Kind, name: str, namespace: str) -> dict | None:
    """The object as a dict, or None if it does not exist."""
    from kubernetes.dynamic.exceptions import NotFoundError

    res = api.resource(kind)
    try:
        return res.get(name=name, namespace=namespace if res.namespaced else None).to_dict()
    except NotFoundError:
        return None


def last_events(api: Api, namespace: str, kind: str, name: str, limit: int = 5) -> list[str]:
    """The object's most recent events as ``Type  Reason  Message`` lines."""
    try:
        events = api.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name},involvedObject.kind={kind}").items
    except Exception:
        return []

    def when(e):
        stamp = e.last_timestamp or e.event_time or e.metadata.creation_timestamp
        return stamp.timestamp() if stamp else 0.0

    events.sort(key=when)
    return [f"{e.type}  {e.reason}  {(e.message or '').strip()}"
            + (f" (x{e.count})" if e.count and e.count > 1 else "") for e in events[-limit:]]


def wait(api: Api, namespace: str, target: str, for_: str, *, timeout: float = 60,
         quiet: bool = False) -> dict:
    """Wait until ``target`` satisfies ``for_``; return the object (``{}`` after a delete).

    Raises
    ------
    WaitTimeout
        With the object's state and last events when the timeout passes, or
        earlier when the state is final and can no longer match.

    Examples
    --------
    >>> wait(api, "lab-03", "job/test-job", "condition=Complete", timeout=60)  # doctest: +SKIP
    job.batch/test-job condition met
    """
    word, name = parse_target(target)
    kind = api.kind(word)
    cond = Condition(for_)
    deadline = time.monotonic() + timeout
    while True:
        obj = get_or_none(api, kind, name, namespace)
        if cond.test(obj):
            if not quiet:
                print(f"{kind.ref(name)} {'deleted' if cond.mode == 'delete' else 'condition met'}")
            return obj or {}
        never = cond.never(kind.kind, obj)
        if never or time.monotonic() >= deadline:
            raise WaitTimeout(_timeout_message(api, namespace, kind, name, cond, obj, timeout, never))
        time.sleep(max(0.01, min(POLL, deadline - time.monotonic())))


def _timeout_message(api, namespace, kind: Kind, name, cond, obj, timeout, never) -> str:
    head = (f"{kind.short(name)} in {namespace} will never reach {cond.spec}: {never}"
            if never else f"{kind.short(name)} in {namespace} did not reach {cond.spec} within {timeout:g}s")
    lines = [head, f"State: {describe(kind.kind, obj)}"]
    events = last_events(api, namespace, kind.kind, name) if obj is not None else []
    if events:
        lines.append("Last events:")
        lines += [f"  {e}" for e in events]
    elif obj is not None:
        lines.append("Last events: none")
    if obj is None and cond.mode != "delete":
        lines.append(f"Check the name, or list what exists with lab.kubectl('get {kind.plural}').")
    elif not never:
        lines.append("Try a longer timeout if it is still progressing, or look at lab.kubectl("
                     f"'describe {kind.kind.lower()} {name}').")
    return "\n".join(lines)
