"""``submit``: an exercise cell applies nothing while a gap is left, and never loses an attempt."""

from __future__ import annotations

import pytest

from labkit import ApiRejected, check, expect
from labkit.exercises import submit

from .conftest import job

TTL_JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: report
spec:
  ttlSecondsAfterFinished: {ttl}
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: work
          image: busybox
          command: ["sh", "-c", "sleep 30"]
"""


def test_a_gap_left_applies_nothing_and_names_its_line(lab, capsys):
    assert submit(TTL_JOB.format(ttl="___")) == []
    assert capsys.readouterr().out == (
        "✏️  Fill in the gap first (line 7: ttlSecondsAfterFinished: ___), then run this cell again.\n")
    assert lab.get("job") == []


def test_a_new_attempt_replaces_the_earlier_one(lab, capsys):
    first = submit(TTL_JOB.format(ttl=600))[0]
    second = submit(TTL_JOB.format(ttl=5))[0]   # a Job's template is immutable: delete, then apply
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert lab.get("job", "report")["spec"]["ttlSecondsAfterFinished"] == 5
    assert capsys.readouterr().out.splitlines()[-1] == "job.batch/report created"


def test_a_rejected_attempt_keeps_the_earlier_one(lab):
    """A learner's invalid answer must not delete the Job an exercise's check then finds 'gone'."""
    earlier = submit(TTL_JOB.format(ttl=600))[0]
    with pytest.raises(ApiRejected) as e:
        submit(TTL_JOB.format(ttl=-5))
    assert "job.batch/report" in str(e.value) and "ttlSecondsAfterFinished" in str(e.value)
    assert "dry-run" not in str(e.value)
    assert lab.get("job", "report")["metadata"]["uid"] == earlier["metadata"]["uid"]
    assert not check("99.1", expect.gone("job", "report"), timeout=0.1)


def test_pod_failure_policy_with_on_failure_is_explained_as_such(lab):
    text = job("fail-fast", "exit 42", restart="OnFailure").replace(
        "  template:", "  podFailurePolicy:\n    rules:\n      - action: FailJob\n"
                       "        onExitCodes: {operator: In, values: [42]}\n  template:")
    with pytest.raises(ApiRejected) as e:
        lab.apply(text)
    assert "a Job with a podFailurePolicy must use restartPolicy Never" in str(e.value)
    assert "restarted forever" not in str(e.value)


def test_field_checks_what_no_named_check_covers(lab):
    lab.apply(job("pair", "true").replace("  template:", "  parallelism: 2\n  completions: 2\n  template:"))
    good = check("99.2", expect.job("pair").field("{.spec.parallelism}", 2).succeeded(2), timeout=60)
    assert good.line == "✅ 99.2 job/pair completed: 2 succeeded", good.line
    bad = check("99.3", expect.job("pair").field("{.spec.parallelism}", 3), timeout=0.1)
    assert bad.line == "❌ 99.3 job/pair: expected {.spec.parallelism} = 3, saw {.spec.parallelism} = 2"


def test_a_check_on_an_unfilled_exercise_says_so_without_waiting(lab, capsys):
    submit(TTL_JOB.format(ttl="___"))
    result = check("99.4", expect.job("report").succeeded(1), timeout=600)
    assert result.outcome.final, "a gap left is final: the object cannot appear until the learner acts"
    assert result.line == ("❌ 99.4 job/report: expected 1 succeeded, saw no job named report in namespace "
                           f"{lab.namespace}; its exercise cell still has a gap (line 7)")
    submit(TTL_JOB.format(ttl=600))          # filled in: the check waits for the Job again
    assert check("99.5", expect.job("report").active(1), timeout=60)
