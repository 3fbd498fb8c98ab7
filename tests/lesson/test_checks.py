"""Every check kind passes on a good state and fails, with the right hint, on a bad one.

Failure paths use short timeouts: a check stops at once when the object is in a
state that can no longer change (a finished pod or Job), and otherwise after
its timeout.
"""

from __future__ import annotations

import calendar
import json
import time

import pytest

from labkit import any_of, check, expect
from labkit.checks import CheckResult

from .conftest import job, pod


def test_a_completed_pod_passes_every_pod_check(lab):
    lab.apply(pod("done", "echo hi"), quiet=True)
    result = check("t.1", expect.pod("done").status("Completed").phase("Succeeded").restarts(0)
                   .exit_code(0).reason("Completed"), timeout=60)
    assert result.passed, result.line
    assert result.line == "✅ t.1 pod/done Completed, 0 restarts, exit code 0 (Completed)"
    assert str(result) == repr(result) == result.line


@pytest.mark.parametrize("expectation, line", [
    (lambda: expect.pod("done").status("Running"),
     "❌ t.2 pod/done: expected status Running, saw status Completed — hint: look again"),
    (lambda: expect.pod("done").phase("Failed"),
     "❌ t.2 pod/done: expected phase Failed, saw phase Succeeded — hint: look again"),
    (lambda: expect.pod("done").status("Completed").restarts(at_least=1),
     "❌ t.2 pod/done: expected at least 1 restart, saw 0 restarts — hint: look again"),
    (lambda: expect.pod("done").restarts(2),
     "❌ t.2 pod/done: expected 2 restarts, saw 0 restarts — hint: look again"),
    (lambda: expect.pod("done").exit_code(137),
     "❌ t.2 pod/done: expected exit code 137, saw exit code 0 — hint: look again"),
    (lambda: expect.pod("done").reason("Error"),
     "❌ t.2 pod/done: expected reason Error, saw reason Completed — hint: look again"),
])
def test_pod_checks_fail_with_what_was_seen(lab, expectation, line):
    lab.apply(pod("done", "true"), quiet=True)
    lab.wait("pod/done", "jsonpath={.status.phase}=Succeeded", timeout=60)
    started = time.monotonic()
    result = check("t.2", expectation(), timeout=30, hint="look again")
    assert not result.passed
    assert result.line == line
    # A Succeeded pod cannot change any more: the check does not sit out its timeout.
    assert time.monotonic() - started < 15


def test_a_failed_pod_shows_error_and_its_exit_code(lab):
    lab.apply(pod("fails", "exit 3"), quiet=True)
    result = check("t.3", expect.pod("fails").status("Error").phase("Failed").exit_code(3).reason("Error"),
                   timeout=60)
    assert result.line == "✅ t.3 pod/fails Error, 0 restarts, exit code 3 (Error)"


def test_a_missing_pod_fails_quickly_naming_the_namespace(lab):
    result = check("t.4", expect.pod("ghost").status("Completed"), timeout=0.5,
                   hint="apply the manifest first")
    assert not result.passed
    assert result.line == (f"❌ t.4 pod/ghost: expected status Completed, saw no pod named ghost in "
                           f"namespace {lab.namespace} — hint: apply the manifest first")


def test_restarts_at_least_waits_for_a_crash_loop(lab):
    lab.apply(pod("crash", "echo boom; exit 1", restart="Always"), quiet=True)
    # The first restart is immediate, the second comes after the 10 s back-off.
    result = check("t.5", expect.pod("crash").restarts(at_least=2), timeout=60)
    assert result.passed, result.line
    assert result.line.startswith("✅ t.5 pod/crash ")
    seen = check("t.5", expect.pod("crash").status("CrashLoopBackOff"), timeout=30)
    assert seen.passed, seen.line
    assert seen.line.startswith("✅ t.5 pod/crash CrashLoopBackOff, ")
    # A running pod may still change, so a failing check waits out its (short) timeout.
    wrong = check("t.5", expect.pod("crash").restarts(0), timeout=1, hint="use restartPolicy Never")
    assert not wrong.passed
    assert wrong.line.startswith("❌ t.5 pod/crash: expected 0 restarts, saw ")
    assert wrong.line.endswith(" restarts — hint: use restartPolicy Never")
    last = check("t.5", expect.pod("crash").exit_code(1).reason("Error"), timeout=10)
    assert last.passed, last.line  # the previous run's termination counts while it waits


def test_a_completed_job_passes_its_checks(lab):
    lab.apply(job("ok", "echo ok"), quiet=True)
    result = check("t.6", expect.job("ok").succeeded(1).active(0).failed(0).condition("Complete"),
                   timeout=60)
    assert result.line == "✅ t.6 job/ok completed: 1 succeeded"
    wrong = check("t.6", expect.job("ok").condition("Failed"), timeout=30, hint="make it fail")
    assert wrong.line.startswith("❌ t.6 job/ok: expected condition Failed, saw Complete")
    assert wrong.line.endswith(" — hint: make it fail")


def test_job_active_counts_running_pods(lab):
    lab.apply(job("long", "sleep 30"), quiet=True)
    result = check("t.7", expect.job("long").active(1), timeout=60)
    assert result.line == "✅ t.7 job/long running: 1 active, 0 succeeded, 0 failed"
    wrong = check("t.7", expect.job("long").succeeded(1), timeout=0.5, hint="wait for it")
    assert wrong.line == "❌ t.7 job/long: expected 1 succeeded, saw 0 succeeded — hint: wait for it"


def test_a_job_that_hit_its_backoff_limit(failed_job):
    result = check("03.2", expect.job("test-job").failed(3)
                   .condition("Failed", reason="BackoffLimitExceeded"), lab=failed_job, timeout=30)
    assert result.passed
    assert result.line == "✅ 03.2 job/test-job failed 3 times: BackoffLimitExceeded"


@pytest.mark.parametrize("expectation, line", [
    (lambda: expect.job("test-job").condition("Complete"),
     "❌ 03.2 job/test-job: expected condition Complete, saw Failed (BackoffLimitExceeded) — hint: H"),
    (lambda: expect.job("test-job").condition("Failed", reason="DeadlineExceeded"),
     "❌ 03.2 job/test-job: expected condition Failed with reason DeadlineExceeded, "
     "saw condition Failed with reason BackoffLimitExceeded — hint: H"),
    (lambda: expect.job("test-job").failed(7),
     "❌ 03.2 job/test-job: expected 7 failed, saw 3 failed — hint: H"),
    (lambda: expect.job("test-job").succeeded(1),
     "❌ 03.2 job/test-job: expected 1 succeeded, saw 0 succeeded — hint: H"),
])
def test_failed_job_checks_name_what_was_seen(failed_job, expectation, line):
    started = time.monotonic()
    result = check("03.2", expectation(), lab=failed_job, timeout=30, hint="H")
    assert result.line == line
    assert time.monotonic() - started < 15  # a failed Job is final: no waiting


def test_any_of_passes_with_the_hint_of_the_outcome_seen(failed_job):
    result = check("03.3", any_of(
        expect.job("test-job").condition("Complete").hint("it completed: now make it fail"),
        expect.job("test-job").condition("Failed", reason="BackoffLimitExceeded")
        .hint("it gave up after backoffLimit retries"),
    ), lab=failed_job, timeout=30)
    assert result.passed
    assert result.line == ("✅ 03.3 job/test-job failed 3 times: BackoffLimitExceeded"
                           " — it gave up after backoffLimit retries")


def test_any_of_fails_with_the_hint_of_the_closest_outcome(failed_job):
    result = check("03.4", any_of(
        expect.job("test-job").condition("Complete").hint("did the command succeed?"),
        expect.job("test-job").failed(3).condition("Failed", reason="DeadlineExceeded")
        .hint("set activeDeadlineSeconds"),
    ), lab=failed_job, timeout=30)
    assert not result.passed
    # The second alternative met one part (3 failed): its hint is the one shown.
    assert result.line == ("❌ 03.4 job/test-job: expected condition Complete or condition Failed with "
                           "reason DeadlineExceeded, saw condition Failed with reason BackoffLimitExceeded"
                           " — hint: set activeDeadlineSeconds")
    # A check's own hint= wins over the alternatives' hints.
    own = check("03.4", any_of(expect.job("test-job").condition("Complete").hint("x")),
                lab=failed_job, timeout=5, hint="own hint")
    assert own.line.endswith(" — hint: own hint")


def test_gone_passes_once_the_object_is_deleted(lab):
    assert check("t.8", expect.gone("pod", "never-made"), timeout=5).line == "✅ t.8 pod/never-made is gone"
    lab.apply(pod("short", "sleep 30"), quiet=True)
    wrong = check("t.8", expect.gone("pod", "short"), timeout=0.5, hint="delete it")
    assert wrong.line == "❌ t.8 pod/short: expected it to be gone, saw it still exists — hint: delete it"
    lab.delete("pod", "short", wait=False)
    assert check("t.8", expect.gone("pod", "short"), timeout=60).passed


def test_obj_field_compares_a_jsonpath(lab):
    lab.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n", quiet=True)
    ok = check("t.9", expect.obj("configmap", "settings").field("{.data.mode}", "fast"), timeout=5)
    assert ok.line == "✅ t.9 configmap/settings {.data.mode} = 'fast'"
    wrong = check("t.9", expect.obj("cm", "settings").field("{.data.mode}", "slow"), timeout=0.5,
                  hint="edit data.mode")
    assert wrong.line == ("❌ t.9 configmap/settings: expected {.data.mode} = 'slow', saw {.data.mode} = 'fast'"
                          " — hint: edit data.mode")
    missing = check("t.9", expect.obj("configmap", "nope").field("{.data.mode}", "fast"), timeout=0.5)
    assert missing.line == (f"❌ t.9 configmap/nope: expected {{.data.mode}} = 'fast', saw no configmap "
                            f"named nope in namespace {lab.namespace}")


def test_the_progress_file_records_every_check(lab, progress):
    before = time.time()
    check("p.1", expect.gone("pod", "nothing"), timeout=1)
    check("p.2", expect.pod("nothing").status("Running"), timeout=0.2)
    data = json.loads(progress.read_text())
    entries = data["results"]
    assert [(e["exercise"], e["passed"]) for e in entries] == [("p.1", True), ("p.2", False)]
    for e in entries:
        stamp = calendar.timegm(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ"))
        assert before - 2 <= stamp <= time.time() + 2
    assert entries[1]["seen"] == f"no pod named nothing in namespace {lab.namespace}"
    check("p.3", expect.gone("pod", "nothing"), timeout=1, record=False)
    assert len(json.loads(progress.read_text())["results"]) == 2


def test_the_jupyter_box_shows_the_mark_what_was_seen_and_the_hint(lab):
    result = check("t.10", expect.pod("absent").status("Completed"), timeout=0.2, hint="apply <it>")
    box = result._repr_html_()
    assert "❌ Exercise t.10: not yet" in box
    assert "expected status Completed" in box and f"no pod named absent in namespace {lab.namespace}" in box
    assert "apply &lt;it&gt;" in box  # escaped
    assert isinstance(result, CheckResult) and not result
