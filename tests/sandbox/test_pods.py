"""Pods on the node agent behave as the kubelet makes them behave (shared/README.md, items 1, 6, 7, 8)."""

from __future__ import annotations

import pytest

from ..conftest import wait_for

COURSE_SCRIPT = "import time; print('starting'); time.sleep({n}); print('done')"


def course_pod(name: str, policy: str | None, seconds: float = 1, image: str = "python:rc-slim") -> dict:
    spec = {"containers": [{"name": "long-job", "image": image, "command": ["python"],
                            "args": ["-c", COURSE_SCRIPT.format(n=seconds)]}]}
    if policy:
        spec["restartPolicy"] = policy
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def shell_pod(name: str, policy: str, script: str, image: str = "busybox") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": policy,
                     "containers": [{"name": "main", "image": image, "command": ["sh", "-c", script]}]}}


def get_row(kubectl, namespace: str, name: str) -> dict:
    """kubectl get pod NAME, as a dict of its columns (what the learner sees)."""
    out = kubectl("get", "pod", name, "-n", namespace, "--no-headers").stdout.split()
    return {"NAME": out[0], "READY": out[1], "STATUS": out[2], "RESTARTS": out[3]}


def status_of(core, namespace, name):
    return core.read_namespaced_pod(name, namespace).status


def test_default_policy_restarts_in_place_into_crashloopbackoff(core, kubectl, namespace):
    pod = course_pod("test-job", None, seconds=0.5)
    created = core.create_namespaced_pod(namespace, pod)
    assert created.spec.restart_policy == "Always"  # the default, spelled with a capital A
    wait_for(lambda: get_row(kubectl, namespace, "test-job")["STATUS"] == "CrashLoopBackOff"
             and int(get_row(kubectl, namespace, "test-job")["RESTARTS"]) >= 1,
             timeout=40, what="CrashLoopBackOff")
    wait_for(lambda: status_of(core, namespace, "test-job").container_statuses[0].restart_count >= 2,
             timeout=40, what="a second restart (after the 10 s back-off)")
    after = core.read_namespaced_pod("test-job", namespace)
    assert after.metadata.uid == created.metadata.uid  # same pod object: restarted in place
    st = after.status.container_statuses[0]
    assert st.last_state.terminated.exit_code == 0
    assert st.last_state.terminated.reason == "Completed"
    assert after.status.phase == "Running"
    events = core.list_namespaced_event(namespace, field_selector="reason=BackOff").items
    assert any("Back-off restarting failed container long-job" in e.message for e in events)


def test_never_completes_and_keeps_its_logs(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, course_pod("test-job", "Never", seconds=1))
    wait_for(lambda: status_of(core, namespace, "test-job").phase == "Succeeded", timeout=30,
             what="Succeeded")
    row = get_row(kubectl, namespace, "test-job")
    assert row == {"NAME": "test-job", "READY": "0/1", "STATUS": "Completed", "RESTARTS": "0"}
    logs = kubectl("logs", "test-job", "-n", namespace).stdout
    assert logs == "starting\ndone\n"
    st = status_of(core, namespace, "test-job")
    term = st.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (0, "Completed")
    conditions = {c.type: (c.status, c.reason) for c in st.conditions}
    assert conditions["Ready"] == ("False", "PodCompleted")
    assert conditions["Initialized"][0] == "True"


def test_onfailure_restarts_only_failures(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, shell_pod("ok", "OnFailure", "exit 0"))
    core.create_namespaced_pod(namespace, shell_pod("bad", "OnFailure", "exit 3"))
    wait_for(lambda: status_of(core, namespace, "ok").phase == "Succeeded", what="ok Succeeded")
    assert status_of(core, namespace, "ok").container_statuses[0].restart_count == 0
    wait_for(lambda: status_of(core, namespace, "bad").container_statuses[0].restart_count >= 1,
             timeout=30, what="bad restarted")
    st = status_of(core, namespace, "bad").container_statuses[0]
    assert st.last_state.terminated.exit_code == 3
    assert st.last_state.terminated.reason == "Error"
    assert status_of(core, namespace, "bad").phase == "Running"


def test_never_with_a_failing_exit_is_error(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, shell_pod("fails", "Never", "echo oops >&2; exit 3"))
    wait_for(lambda: status_of(core, namespace, "fails").phase == "Failed", what="Failed")
    assert get_row(kubectl, namespace, "fails")["STATUS"] == "Error"
    assert kubectl("logs", "fails", "-n", namespace).stdout == "oops\n"


def test_kill_on_a_never_pod_is_error_137_and_not_restarted(core, kubectl, namespace, sandbox):
    from labkit import faults

    core.create_namespaced_pod(namespace, course_pod("test-job", "Never", seconds=60))
    wait_for(lambda: status_of(core, namespace, "test-job").phase == "Running", what="Running")
    message = faults.kill("test-job", namespace=namespace, cluster=sandbox.name)
    assert "SIGKILL" in message
    wait_for(lambda: status_of(core, namespace, "test-job").phase == "Failed", what="Failed")
    term = status_of(core, namespace, "test-job").container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (137, "Error")
    assert get_row(kubectl, namespace, "test-job") == {
        "NAME": "test-job", "READY": "0/1", "STATUS": "Error", "RESTARTS": "0"}


def test_kill_on_an_always_pod_restarts_it(core, kubectl, namespace, sandbox):
    from labkit import faults

    core.create_namespaced_pod(namespace, course_pod("web", "Always", seconds=60))
    wait_for(lambda: status_of(core, namespace, "web").phase == "Running", what="Running")
    faults.kill("web", namespace=namespace, cluster=sandbox.name)
    wait_for(lambda: (status_of(core, namespace, "web").container_statuses[0].restart_count == 1
                      and status_of(core, namespace, "web").container_statuses[0].state.running),
             timeout=30, what="restarted and running")
    last = status_of(core, namespace, "web").container_statuses[0].last_state.terminated
    assert (last.exit_code, last.reason) == (137, "Error")


def test_kill_a_container_that_is_not_running_is_explained(core, namespace, sandbox):
    from labkit import faults
    from labkit.errors import LabkitError

    core.create_namespaced_pod(namespace, shell_pod("done", "Never", "true"))
    wait_for(lambda: status_of(core, namespace, "done").phase == "Succeeded", what="Succeeded")
    with pytest.raises(LabkitError, match="not running"):
        faults.kill("done", namespace=namespace, cluster=sandbox.name)
    with pytest.raises(LabkitError, match="not running on any sandbox node"):
        faults.kill("no-such-pod", namespace=namespace, cluster=sandbox.name)


def test_an_unknown_image_ends_in_imagepullbackoff(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    wait_for(lambda: get_row(kubectl, namespace, "web")["STATUS"] == "ImagePullBackOff", timeout=30,
             what="ImagePullBackOff")
    waiting = status_of(core, namespace, "web").container_statuses[0].state.waiting
    assert "supported images" in waiting.message and "python" in waiting.message
    reasons = {e.reason for e in core.list_namespaced_event(namespace).items}
    assert {"Pulling", "Failed", "BackOff"} <= reasons


def test_env_workdir_and_field_refs(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "envy", "labels": {"app": "demo"}},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "main", "image": "busybox", "workingDir": "/data",
            "command": ["sh", "-c", "echo $GREETING $MY_POD $MY_NS $APP; pwd | sed 's|.*/fs||'"],
            "env": [{"name": "GREETING", "value": "hello"},
                    {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}],
        }]}})
    wait_for(lambda: status_of(core, namespace, "envy").phase == "Succeeded", what="Succeeded")
    assert kubectl("logs", "envy", "-n", namespace).stdout == f"hello envy {namespace} demo\n/data\n"


def test_init_containers_run_first_in_order(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "init"},
        "spec": {"restartPolicy": "Never",
                 "initContainers": [{"name": "one", "image": "busybox", "command": ["sh", "-c", "echo one"]},
                                    {"name": "two", "image": "busybox", "command": ["sh", "-c", "echo two"]}],
                 "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "echo main"]}]}})
    wait_for(lambda: status_of(core, namespace, "init").phase == "Succeeded", what="Succeeded")
    st = status_of(core, namespace, "init")
    starts = [s.state.terminated.started_at for s in st.init_container_statuses]
    assert starts == sorted(starts)
    assert st.init_container_statuses[0].state.terminated.finished_at <= st.container_statuses[0].state.terminated.started_at
    assert kubectl("logs", "init", "-c", "two", "-n", namespace).stdout == "two\n"


def test_active_deadline_fails_the_pod(core, kubectl, namespace):
    pod = shell_pod("slow", "Never", "sleep 60")
    pod["spec"].update(activeDeadlineSeconds=2, terminationGracePeriodSeconds=1)  # sleep ignores SIGTERM
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: status_of(core, namespace, "slow").phase == "Failed", timeout=30, what="Failed")
    st = status_of(core, namespace, "slow")
    assert st.reason == "DeadlineExceeded"
    assert st.message == "Pod was active on the node longer than the specified deadline"
    # kubectl's STATUS prefers a terminated container's reason over the pod's.
    assert st.container_statuses[0].state.terminated.reason == "Error"
    assert get_row(kubectl, namespace, "slow")["STATUS"] == "Error"


def test_graceful_deletion_sends_sigterm_first(core, kubectl, namespace):
    script = "trap 'echo got TERM; exit 0' TERM; echo up; while true; do sleep 0.1; done"
    core.create_namespaced_pod(namespace, shell_pod("graceful", "Always", script))
    wait_for(lambda: status_of(core, namespace, "graceful").phase == "Running", what="Running")
    wait_for(lambda: "up" in kubectl("logs", "graceful", "-n", namespace).stdout, what="started")
    pod_dir = _pod_dir(core, namespace, "graceful")
    kubectl("delete", "pod", "graceful", "-n", namespace, "--wait=true", timeout=60)
    log_text = "".join(p.read_text() for p in pod_dir.glob("main/*.log")) if pod_dir.exists() else ""
    # The pod's files are removed with it; if they are already gone, the TERM trap ran (exit 0) anyway.
    assert not pod_dir.exists() or "got TERM" in log_text
    killing = [e for e in core.list_namespaced_event(namespace, field_selector="reason=Killing").items]
    assert killing and killing[0].message == "Stopping container main"


def _pod_dir(core, namespace, name):
    pod = core.read_namespaced_pod(name, namespace)
    from labkit.paths import cluster_dir
    from ..conftest import TEST_CLUSTER

    return cluster_dir(TEST_CLUSTER) / "nodes" / pod.spec.node_name / "pods" / \
        f"{namespace}_{name}_{pod.metadata.uid}"
