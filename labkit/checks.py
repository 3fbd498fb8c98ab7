"""Exercise checks: declare the expected state, wait for it, render ✅ or ❌ with a hint.

Kubernetes is eventually consistent, so a check *waits* (up to a timeout) for
the cluster to reach one of the acceptable states, and stops early when the
object is in a state that can no longer change (a finished Job or pod).
Expectations are data::

    expect.pod("test-job").status("Completed").restarts(0)
    expect.job("test-job").failed(3).condition("Failed", reason="BackoffLimitExceeded")
    any_of(expect.job("j").condition("Complete").hint("…"),
           expect.job("j").condition("Failed").hint("…"))

``check("03.2", expectation, hint=...)`` records the result in the progress
file and returns a :class:`CheckResult` that Jupyter shows as a coloured box
and plain-text tools (papermill, nbval, a terminal) as one deterministic line.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from . import progress_file
from .kubectl_columns import pod_restarts, pod_status
from .states import job_outcome, last_exit, true_conditions

__all__ = ["expect", "any_of", "check", "CheckResult", "Expectation"]

POLL = 0.5


@dataclass
class Outcome:
    """One evaluation of an expectation against the cluster."""

    passed: bool
    subject: str
    summary: str = ""          # what was seen, for the ✅ line
    expected: str = ""         # the first unmet expectation, for the ❌ line
    seen: str = ""
    hint: str | None = None    # the hint attached to this expectation
    final: bool = False        # the state can no longer change: stop waiting
    met: int = 0               # how many parts were met (picks the closest alternative)
    note: str | None = None    # for a passing any_of alternative: its hint


@dataclass
class _Pred:
    expected: str
    test: object  # callable(obj) -> (ok: bool, seen: str)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Expectation:
    """The expected state of one object; build with :data:`expect`."""

    kind = ""

    def __init__(self, name: str):
        self.name = name
        self._preds: list[_Pred] = []
        self._hint: str | None = None

    @property
    def subject(self) -> str:
        return f"{self.kind.lower()}/{self.name}"

    def hint(self, text: str) -> "Expectation":
        """Attach a hint: shown when this outcome is the one seen (or the closest to it)."""
        self._hint = text
        return self

    def _add(self, expected: str, test) -> "Expectation":
        self._preds.append(_Pred(expected, test))
        return self

    def field(self, path: str, value) -> "Expectation":
        """A JSONPath (``{.spec.parallelism}``) equals ``value``: for what no named check covers.

        Examples
        --------
        >>> expect.job("work").field("{.spec.parallelism}", 2).succeeded(3).subject
        'job/work'
        """
        from .wait import jsonpath

        def test(obj):
            seen = jsonpath(obj, path)
            return seen == value, f"{path} = {seen!r}"
        return self._add(f"{path} = {value!r}", test)

    def fetch(self, lab) -> dict | None:
        from .wait import get_or_none

        return get_or_none(lab.api, lab.api.kind(self.kind), self.name, lab.namespace)

    def summary(self, obj: dict) -> str:
        return "exists"

    def final(self, obj: dict) -> bool:
        return False

    def evaluate(self, lab) -> Outcome:
        obj = self.fetch(lab)
        if obj is None:
            first = self._preds[0].expected if self._preds else "it to exist"
            return Outcome(False, self.subject, expected=first,
                           seen=f"no {self.kind.lower()} named {self.name} in namespace {lab.namespace}",
                           hint=self._hint)
        met = 0
        for pred in self._preds:
            ok, seen = pred.test(obj)
            if not ok:
                return Outcome(False, self.subject, expected=pred.expected, seen=seen, hint=self._hint,
                               final=self.final(obj), met=met, summary=self.summary(obj))
            met += 1
        return Outcome(True, self.subject, summary=self.summary(obj), hint=self._hint, met=met,
                       final=True)


# -- pods -------------------------------------------------------------------------------

def _container_status(pod: dict, container: str | None) -> dict | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if container is None:
        return statuses[0] if statuses else None
    return next((s for s in statuses if s.get("name") == container), None)


def _termination(pod: dict, container: str | None) -> dict | None:
    cs = _container_status(pod, container)
    if cs is None:
        return None
    return (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")


class PodExpectation(Expectation):
    """Expectations about a pod, in kubectl's words (STATUS, RESTARTS)."""

    kind = "Pod"

    def __init__(self, name: str):
        super().__init__(name)
        self._shows_exit = False

    def status(self, value: str) -> "PodExpectation":
        """kubectl's STATUS column: ``Running``, ``Completed``, ``CrashLoopBackOff``, ``Error`` …"""
        def test(pod):
            seen = pod_status(pod)
            return seen == value, f"status {seen}"
        return self._add(f"status {value}", test)

    def phase(self, value: str) -> "PodExpectation":
        """``status.phase``: Pending, Running, Succeeded, Failed."""
        def test(pod):
            seen = (pod.get("status") or {}).get("phase")
            return seen == value, f"phase {seen}"
        return self._add(f"phase {value}", test)

    def restarts(self, exactly: int | None = None, *, at_least: int | None = None,
                 at_most: int | None = None) -> "PodExpectation":
        """kubectl's RESTARTS count: ``restarts(0)`` or ``restarts(at_least=2)``."""
        if exactly is not None:
            want, ok = _plural(exactly, "restart"), lambda n: n == exactly
        elif at_least is not None and at_most is not None:
            want, ok = f"{at_least} to {at_most} restarts", lambda n: at_least <= n <= at_most
        elif at_least is not None:
            want, ok = f"at least {_plural(at_least, 'restart')}", lambda n: n >= at_least
        elif at_most is not None:
            want, ok = f"at most {_plural(at_most, 'restart')}", lambda n: n <= at_most
        else:
            raise ValueError("restarts() needs a number, at_least= or at_most=")

        def test(pod):
            n = pod_restarts(pod)
            return ok(n), _plural(n, "restart")
        return self._add(want, test)

    def exit_code(self, code: int, *, container: str | None = None) -> "PodExpectation":
        """The container's exit code (its current run if finished, else its previous run)."""
        self._shows_exit = True

        def test(pod):
            term = _termination(pod, container)
            if term is None:
                return False, "no finished run yet"
            return term.get("exitCode") == code, f"exit code {term.get('exitCode')}"
        return self._add(f"exit code {code}", test)

    def reason(self, value: str, *, container: str | None = None) -> "PodExpectation":
        """The ``reason`` of the container's termination (``Completed``, ``Error``, ``OOMKilled``)."""
        self._shows_exit = True

        def test(pod):
            term = _termination(pod, container)
            if term is None:
                return False, "no finished run yet"
            return term.get("reason") == value, f"reason {term.get('reason')}"
        return self._add(f"reason {value}", test)

    def summary(self, pod: dict) -> str:
        text = f"{pod_status(pod)}, {_plural(pod_restarts(pod), 'restart')}"
        term = last_exit(pod)
        if self._shows_exit and term:
            text += f", exit code {term.get('exitCode')} ({term.get('reason') or 'no reason'})"
        return text

    def final(self, pod: dict) -> bool:
        return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


# -- jobs -------------------------------------------------------------------------------

class JobExpectation(Expectation):
    """Expectations about a Job: pod counts and its Complete/Failed condition."""

    kind = "Job"

    def _count(self, key: str, n: int, word: str) -> "JobExpectation":
        def test(job):
            seen = (job.get("status") or {}).get(key, 0)
            return seen == n, f"{seen} {word}"
        return self._add(f"{n} {word}", test)

    def succeeded(self, n: int) -> "JobExpectation":
        """``status.succeeded``: pods that finished successfully."""
        return self._count("succeeded", n, "succeeded")

    def failed(self, n: int) -> "JobExpectation":
        """``status.failed``: pods that failed (1 + retries when the back-off limit is hit)."""
        return self._count("failed", n, "failed")

    def active(self, n: int) -> "JobExpectation":
        """``status.active``: pods running now."""
        return self._count("active", n, "active")

    def condition(self, ctype: str, *, reason: str | None = None) -> "JobExpectation":
        """A True condition: ``Complete``, or ``Failed`` (``reason="BackoffLimitExceeded"``)."""
        want = f"condition {ctype}" + (f" with reason {reason}" if reason else "")

        def test(job):
            conds = true_conditions(job)
            match = next((c for c in conds if c.get("type") == ctype), None)
            if match is not None and (reason is None or match.get("reason") == reason):
                return True, want
            if match is not None:
                return False, f"condition {ctype} with reason {match.get('reason')}"
            outcome = job_outcome(job)
            if outcome is not None:
                return False, outcome["type"] + (f" ({outcome['reason']})" if outcome.get("reason") else "")
            return False, "no condition yet (still running)"
        return self._add(want, test)

    def summary(self, job: dict) -> str:
        st = job.get("status") or {}
        outcome = job_outcome(job)
        if outcome and outcome["type"] == "Failed":
            n = st.get("failed", 0)
            return f"failed {n} time{'' if n == 1 else 's'}: {outcome.get('reason') or 'Failed'}"
        if outcome and outcome["type"] == "Complete":
            extra = f", {st['failed']} failed" if st.get("failed") else ""
            return f"completed: {st.get('succeeded', 0)} succeeded{extra}"
        return f"running: {st.get('active', 0)} active, {st.get('succeeded', 0)} succeeded, {st.get('failed', 0)} failed"

    def final(self, job: dict) -> bool:
        return job_outcome(job) is not None


# -- any object ---------------------------------------------------------------------------

class ObjectExpectation(Expectation):
    """Any kind: ``expect.obj("cronjob", "hello").field("{.spec.suspend}", True)``."""

    def __init__(self, kind: str, name: str):
        super().__init__(name)
        self._kind_word = kind

    @property
    def subject(self) -> str:
        # kubectl's word for the kind once resolved ("cm" reads as configmap/…).
        return f"{(self.kind or self._kind_word).lower()}/{self.name}"

    def fetch(self, lab) -> dict | None:
        from .wait import get_or_none

        return get_or_none(lab.api, lab.api.kind(self._kind_word), self.name, lab.namespace)

    def evaluate(self, lab) -> Outcome:
        self.kind = lab.api.kind(self._kind_word).kind
        return super().evaluate(lab)

    def summary(self, obj: dict) -> str:
        return "exists" if not self._preds else ", ".join(p.expected for p in self._preds)


class Gone(ObjectExpectation):
    """The object does not exist (deleted, or cleaned up by a TTL)."""

    def evaluate(self, lab) -> Outcome:
        self.kind = lab.api.kind(self._kind_word).kind
        obj = self.fetch(lab)
        if obj is None:
            return Outcome(True, self.subject, summary="is gone", hint=self._hint, met=1, final=True)
        deleting = " (being deleted)" if obj["metadata"].get("deletionTimestamp") else ""
        return Outcome(False, self.subject, expected="it to be gone", seen=f"it still exists{deleting}",
                       hint=self._hint)


class AnyOf:
    """Several acceptable outcomes; the first that holds wins, with its own hint as a note."""

    def __init__(self, *alternatives: Expectation):
        if not alternatives:
            raise ValueError("any_of() needs at least one expectation")
        self.alternatives = alternatives

    def evaluate(self, lab) -> Outcome:
        outcomes = [alt.evaluate(lab) for alt in self.alternatives]
        for out in outcomes:
            if out.passed:
                out.note = out.hint
                return out
        closest = max(outcomes, key=lambda o: o.met)  # first of the best on ties
        closest.final = all(o.final for o in outcomes)
        if len({o.subject for o in outcomes}) == 1:
            closest.expected = " or ".join(dict.fromkeys(o.expected for o in outcomes))
        return closest


class _Expect:
    """What an exercise expects of the cluster; pass it to :func:`check`.

    Entry points: ``expect.pod(name)``, ``expect.job(name)``,
    ``expect.gone(kind, name)`` and ``expect.obj(kind, name)``; chain the
    parts that must all hold, and ``.hint(...)`` for the hint of that outcome.

    Examples
    --------
    >>> e = expect.job("test-job").failed(3).condition("Failed", reason="BackoffLimitExceeded")
    >>> [p.expected for p in e._preds]
    ['3 failed', 'condition Failed with reason BackoffLimitExceeded']
    """

    @staticmethod
    def pod(name: str) -> PodExpectation:
        """Expectations about pod ``name``.

        Examples
        --------
        >>> expect.pod("test-job").status("Completed").restarts(0).subject
        'pod/test-job'
        """
        return PodExpectation(name)

    @staticmethod
    def job(name: str) -> JobExpectation:
        """Expectations about Job ``name``.

        Examples
        --------
        >>> expect.job("test-job").failed(3).condition("Failed", reason="BackoffLimitExceeded").subject
        'job/test-job'
        """
        return JobExpectation(name)

    @staticmethod
    def gone(kind: str, name: str) -> Gone:
        """The object no longer exists.

        Examples
        --------
        >>> expect.gone("job", "test-job").subject
        'job/test-job'
        """
        return Gone(kind, name)

    @staticmethod
    def obj(kind: str, name: str) -> ObjectExpectation:
        """Any object, checked with ``.field(jsonpath, value)``.

        Examples
        --------
        >>> expect.obj("daemonset", "logger").field("{.status.numberReady}", 2).subject
        'daemonset/logger'
        """
        return ObjectExpectation(kind, name)


expect = _Expect()


def any_of(*alternatives: Expectation) -> AnyOf:
    """Pass when any alternative holds; each may carry its own ``.hint()``.

    Examples
    --------
    >>> any_of(expect.job("j").condition("Complete"), expect.job("j").condition("Failed")).alternatives[0].subject
    'job/j'
    """
    return AnyOf(*alternatives)


# -- check and its rendering ---------------------------------------------------------------

@dataclass
class CheckResult:
    """The result of :func:`check`: ``.passed``, ``.line`` (plain text) and an HTML box.

    Jupyter shows the box (✅ or ❌, what was seen, the hint); papermill, nbval
    and terminals show ``.line``, which holds nothing time-dependent.

    Examples
    --------
    >>> result = check("03.2", expect.job("test-job").failed(3), timeout=60)  # doctest: +SKIP
    >>> result.passed, result.line  # doctest: +SKIP
    (True, '✅ 03.2 job/test-job failed 3 times: BackoffLimitExceeded')
    """

    exercise: str
    passed: bool
    outcome: Outcome
    hint: str | None = None
    entry: dict = field(default_factory=dict)

    @property
    def line(self) -> str:
        o = self.outcome
        if self.passed:
            return f"✅ {self.exercise} {o.subject} {o.summary}" + (f" — {o.note}" if o.note else "")
        text = f"❌ {self.exercise} {o.subject}: expected {o.expected}, saw {o.seen}"
        return text + (f" — hint: {self.hint}" if self.hint else "")

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.line

    def __str__(self) -> str:
        return self.line

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.line)

    def _repr_html_(self) -> str:
        o = self.outcome
        colour, mark = ("#1a7f37", "✅") if self.passed else ("#cf222e", "❌")
        title = f"{mark} Exercise {html.escape(self.exercise)}: {'passed' if self.passed else 'not yet'}"
        rows = [f"<div><code>{html.escape(o.subject)}</code> "
                f"{html.escape(o.summary if self.passed else 'expected ' + o.expected)}</div>"]
        if not self.passed:
            rows.append(f"<div>saw: {html.escape(o.seen)}</div>")
        extra = o.note if self.passed else self.hint
        if extra:
            rows.append(f"<div style='margin-top:4px'>💡 {html.escape(extra)}</div>")
        return (f"<div style='border:2px solid {colour};border-radius:6px;padding:8px 12px;margin:4px 0'>"
                f"<div style='font-weight:bold;color:{colour}'>{title}</div>{''.join(rows)}</div>")


def _gap_left(expectation, lab) -> str | None:
    """Where the exercise cell behind this expectation's object still has a gap, if it does."""
    from .exercises import pending_gap

    for alt in getattr(expectation, "alternatives", None) or [expectation]:
        kind = alt.kind or getattr(alt, "_kind_word", "")
        gap = pending_gap(lab.namespace, kind, alt.name)
        if gap:
            return gap
    return None


def check(exercise: str, expectation, *, timeout: float = 30, hint: str | None = None,
          lab=None, record: bool = True) -> CheckResult:
    """Wait until ``expectation`` holds (or ``timeout`` passes), record and render the result.

    Parameters
    ----------
    exercise : str
        The exercise id, e.g. ``"03.2"``.
    expectation : Expectation or AnyOf
        Built with :data:`expect` and :func:`any_of`.
    timeout : float
        Seconds to wait for the cluster to get there; the check stops early
        when the object is in a final state that does not match.
    hint : str, optional
        What to try when it fails (an alternative's own hint is used otherwise).
    lab : Lesson, optional
        Defaults to the active lesson.

    Examples
    --------
    >>> check("03.2", expect.job("test-job").failed(3)
    ...       .condition("Failed", reason="BackoffLimitExceeded"), timeout=120)  # doctest: +SKIP
    ✅ 03.2 job/test-job failed 3 times: BackoffLimitExceeded
    """
    from .lesson import active

    lab = lab or active()
    deadline = time.monotonic() + timeout
    while True:
        outcome = expectation.evaluate(lab)
        gap = None if outcome.passed else _gap_left(expectation, lab)
        if gap:  # the learner has not filled in the exercise yet: nothing to wait for
            outcome.final = True
            outcome.seen += f"; its exercise cell still has a gap ({gap})"
        if outcome.passed or outcome.final or time.monotonic() >= deadline:
            break
        time.sleep(max(0.01, min(POLL, deadline - time.monotonic())))
    result = CheckResult(exercise, outcome.passed, outcome,
                         hint=None if outcome.passed else (hint or outcome.hint))
    if record:
        result.entry = progress_file.record(exercise, outcome.passed,
                                            seen=outcome.summary if outcome.passed else outcome.seen)
    return result


@dataclass
class Skipped:
    """A check that does not apply to this cluster: one ``⏭`` line, never recorded as passed."""

    exercise: str
    reason: str
    passed = False

    @property
    def line(self) -> str:
        return f"⏭ {self.exercise} skipped: {self.reason}"

    def __repr__(self) -> str:
        return self.line

    __str__ = __repr__

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.line)

    def _repr_html_(self) -> str:
        return (f"<div style='border:2px solid #888;border-radius:6px;padding:8px 12px;margin:4px 0'>"
                f"<b>⏭ Exercise {html.escape(self.exercise)}: skipped</b>"
                f"<div>{html.escape(self.reason)}</div></div>")


def skip(exercise: str, reason: str) -> Skipped:
    """Say that a check does not apply here (e.g. it needs two nodes), instead of failing it.

    ``labkit course run`` counts it as skipped, not failed.

    Examples
    --------
    >>> skip("03.5", "the cluster has one node")
    ⏭ 03.5 skipped: the cluster has one node
    """
    return Skipped(exercise, reason)
