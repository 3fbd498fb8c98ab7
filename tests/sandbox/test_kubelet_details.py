"""Finer kubelet behaviours the node agent must copy: stopping, QoS, init containers, env errors."""

from __future__ import annotations

import os

from ..conftest import wait_for
from .test_pods import get_row, shell_pod, status_of


def test_active_deadline_kills_a_container_that_ignores_sigterm(core, namespace):
    pod = shell_pod("stubborn", "Always", "trap '' TERM; sleep 60")
    pod["spec"].update(activeDeadlineSeconds=2, terminationGracePeriodSeconds=1)
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: status_of(core, namespace, "stubborn").phase == "Failed", timeout=30,
             what="Failed after the deadline and the 1 s grace period")
    st = status_of(core, namespace, "stubborn")
    assert st.reason == "DeadlineExceeded"
    term = st.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (137, "Error")  # SIGTERM ignored, so SIGKILL
    assert st.container_statuses[0].restart_count == 0  # Always, yet not restarted: the pod is over
    events = core.list_namespaced_event(namespace, field_selector="reason=DeadlineExceeded").items
    assert [e.type for e in events] == ["Normal"]


def test_a_container_ends_with_its_main_process(core, kubectl, namespace):
    # The main process leaves a background child behind: in a container it dies with PID 1.
    core.create_namespaced_pod(namespace, shell_pod("leaver", "Never", "sleep 300 & echo $!; exit 0"))
    wait_for(lambda: status_of(core, namespace, "leaver").phase == "Succeeded", timeout=30, what="Succeeded")
    child = int(kubectl("logs", "leaver", "-n", namespace).stdout.strip())
    wait_for(lambda: not os.path.exists(f"/proc/{child}"), timeout=10,
             what=f"the background child {child} gone")


def test_qos_class_is_the_api_servers(core, namespace):
    # Only cpu and memory count for QoS: a pod that asks for disk alone is BestEffort.
    pod = shell_pod("disk-only", "Never", "echo ok")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"ephemeral-storage": "1Gi"}}
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: status_of(core, namespace, "disk-only").phase == "Succeeded", timeout=30,
             what="Succeeded (a status the API server accepts)")
    assert status_of(core, namespace, "disk-only").qos_class == "BestEffort"


def test_init_containers_show_progress_and_become_ready(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "slow-init"},
        "spec": {"restartPolicy": "Never",
                 "initContainers": [{"name": "prepare", "image": "busybox", "command": ["sh", "-c", "sleep 3"]}],
                 "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 2"]}]}})
    wait_for(lambda: get_row(kubectl, namespace, "slow-init")["STATUS"] == "Init:0/1", timeout=30,
             what="kubectl STATUS Init:0/1 while the init container runs")
    main = status_of(core, namespace, "slow-init").container_statuses[0]
    assert main.state.waiting.reason == "PodInitializing"
    wait_for(lambda: status_of(core, namespace, "slow-init").phase == "Running", timeout=30, what="Running")
    init = status_of(core, namespace, "slow-init").init_container_statuses[0]
    assert init.state.terminated.exit_code == 0 and init.ready is True


def test_a_missing_config_map_key_is_reported_in_the_kubelets_words(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    pod = shell_pod("needs-b", "Never", "echo $B")
    pod["spec"]["containers"][0]["env"] = [
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "b"}}}]
    core.create_namespaced_pod(namespace, pod)

    def waiting():
        statuses = status_of(core, namespace, "needs-b").container_statuses or []
        return statuses and statuses[0].state.waiting
    w = wait_for(lambda: (w := waiting()) and w.reason == "CreateContainerConfigError" and w,
                 timeout=30, what="CreateContainerConfigError")
    assert w.message == f"couldn't find key b in ConfigMap {namespace}/settings"
    assert status_of(core, namespace, "needs-b").container_statuses[0].restart_count == 0


def test_every_start_ensures_the_image(core, namespace):
    core.create_namespaced_pod(namespace, shell_pod("again", "Always", "exit 1", image="busybox:1.36"))
    wait_for(lambda: (status_of(core, namespace, "again").container_statuses or [None])[0] is not None
             and status_of(core, namespace, "again").container_statuses[0].restart_count >= 1,
             timeout=30, what="a first restart")

    def pulled_count():
        events = core.list_namespaced_event(namespace, field_selector="reason=Pulled").items
        return sum(e.count or 1 for e in events)
    wait_for(lambda: pulled_count() >= 2, timeout=10, what="a Pulled event for each start")
    events = core.list_namespaced_event(namespace, field_selector="reason=Pulled").items
    assert {e.message for e in events} == {
        'Container image "busybox:1.36" already present on machine and can be accessed by the pod'}


def _last_status_before_deletion(core, namespace: str, name: str, timeout: float = 60):
    """Delete a pod and return the container status its node reported last."""
    from kubernetes import watch

    core.delete_namespaced_pod(name, namespace)
    last = None
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace,
                                      field_selector=f"metadata.name={name}", timeout_seconds=timeout):
        statuses = event["object"].status.container_statuses
        if statuses:
            last = statuses[0]
        if event["type"] == "DELETED":
            return last
    raise AssertionError(f"pod {name} was not deleted within {timeout}s")


def test_a_main_process_without_a_sigterm_handler_waits_out_the_grace_period(core, kubectl, namespace):
    # PID 1 of a container ignores signals it does not handle: only the SIGKILL at the end stops it.
    pod = shell_pod("deaf", "Always", "sleep 60")
    pod["spec"]["terminationGracePeriodSeconds"] = 2
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: status_of(core, namespace, "deaf").phase == "Running", what="Running")
    term = _last_status_before_deletion(core, namespace, "deaf").state.terminated
    assert (term.exit_code, term.reason) == (137, "Error")


def test_a_main_process_with_a_sigterm_handler_exits_on_its_own(core, kubectl, namespace):
    pod = shell_pod("polite", "Always", "trap 'exit 0' TERM; echo up; while true; do sleep 0.1; done")
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: "up" in kubectl("logs", "polite", "-n", namespace, check=False).stdout,
             what="the handler installed")
    term = _last_status_before_deletion(core, namespace, "polite").state.terminated
    assert (term.exit_code, term.reason) == (0, "Completed")
