"""``lab.wait``: kubectl's ``--for`` forms; a timeout says the state and the last events."""

from __future__ import annotations

import pytest

from labkit import LabkitError, WaitTimeout

from .conftest import job, pod


def test_wait_for_a_job_to_complete(lab, capsys):
    lab.apply(job("quick", "echo done"), quiet=True)
    obj = lab.wait("job/quick", "condition=Complete", timeout=60)
    assert capsys.readouterr().out == "job.batch/quick condition met\n"
    assert obj["status"]["succeeded"] == 1


def test_wait_for_a_jsonpath_value_and_for_deletion(lab, capsys):
    lab.apply(pod("hello", "echo hi"), quiet=True)
    obj = lab.wait("pod/hello", "--for=jsonpath={.status.phase}=Succeeded", timeout=60)
    assert obj["status"]["phase"] == "Succeeded"
    assert lab.logs("hello") == "hi\n"
    lab.delete("pod", "hello", wait=False)
    assert lab.wait("pod/hello", "delete", timeout=60) == {}
    assert capsys.readouterr().out == ("pod/hello condition met\n"
                                       f'pod "hello" deleted from {lab.namespace} namespace\n'
                                       "pod/hello deleted\n")


def test_a_timeout_says_the_state_and_the_last_events(lab):
    lab.apply(job("slow", "sleep 60"), quiet=True)
    lab.wait("job/slow", "jsonpath={.status.active}=1", timeout=60)
    with pytest.raises(TimeoutError) as err:
        lab.wait("job/slow", "condition=Complete", timeout=1)
    assert isinstance(err.value, WaitTimeout)
    lines = str(err.value).splitlines()
    assert lines[0] == f"job/slow in {lab.namespace} did not reach condition=Complete within 1s"
    assert lines[1] == "State: active 1, succeeded 0, failed 0; no conditions yet"
    assert lines[2] == "Last events:"
    assert any("Normal  SuccessfulCreate  Created pod: slow-" in line for line in lines[3:])
    assert lines[-1].startswith("Try a longer timeout if it is still progressing")


def test_a_pod_timeout_describes_it_like_kubectl(lab):
    lab.apply(pod("sleepy", "sleep 60"), quiet=True)
    lab.wait("pod/sleepy", "jsonpath={.status.phase}=Running", timeout=60)
    with pytest.raises(WaitTimeout) as err:
        lab.wait("pod/sleepy", "jsonpath={.status.phase}=Succeeded", timeout=0.5)
    message = str(err.value)
    assert "State: Running, READY 1/1, 0 restarts" in message
    assert "Normal  Started  " in message


def test_a_wait_that_can_never_succeed_stops_early(failed_job):
    with pytest.raises(WaitTimeout) as err:
        failed_job.wait("job/test-job", "condition=Complete", timeout=60)
    lines = str(err.value).splitlines()
    assert lines[0] == (f"job/test-job in {failed_job.namespace} will never reach condition=Complete: "
                        "it has already finished with condition Failed (BackoffLimitExceeded)")
    assert lines[1] == ("State: active 0, succeeded 0, failed 3; conditions: "
                        "FailureTarget (BackoffLimitExceeded), Failed (BackoffLimitExceeded)")
    assert any("BackoffLimitExceeded" in line for line in lines[2:])


def test_waiting_for_something_that_does_not_exist(lab):
    with pytest.raises(WaitTimeout) as err:
        lab.wait("job/nope", "condition=Complete", timeout=0.3)
    assert str(err.value).splitlines()[1:] == [
        "State: it does not exist", "Check the name, or list what exists with lab.kubectl('get jobs')."]


@pytest.mark.parametrize("target, for_, says", [
    ("quick", "condition=Complete", "name the kind too, as kubectl does, e.g. 'job/quick'"),
    ("job/quick", "ready", "unknown wait condition 'ready'"),
    ("job/quick", "jsonpath=.status", "write jsonpath={.status.phase}=Succeeded"),
    ("jbo/quick", "delete", "unknown kind 'jbo': did you mean 'job'?"),
])
def test_wait_mistakes_are_explained(lab, target, for_, says):
    with pytest.raises(LabkitError) as err:
        lab.wait(target, for_, timeout=0.1)
    assert says in str(err.value)


def test_wait_for_creation_and_for_a_pod_condition(lab, capsys):
    lab.apply(pod("ready", "sleep 30"), quiet=True)
    assert lab.wait("pod/ready", "create", timeout=10)["metadata"]["name"] == "ready"
    lab.wait("pod/ready", "condition=Ready", timeout=60)
    lab.wait("pod/ready", "condition=ready=true", timeout=1)
    with pytest.raises(WaitTimeout, match="did not reach condition=Ready=False within 0.3s"):
        lab.wait("pod/ready", "condition=Ready=False", timeout=0.3)
    assert capsys.readouterr().out == "pod/ready condition met\n" * 3
