"""`kubectl logs` against the node agent: -f, --previous, --tail, --timestamps, --limit-bytes."""

from __future__ import annotations

import os
import re
import subprocess

from ..conftest import kubectl_path, wait_for


def counter_pod(name: str, policy: str, script: str) -> dict:
    return {"metadata": {"name": name},
            "spec": {"restartPolicy": policy,
                     "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}}


def test_tail_timestamps_and_limit_bytes(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, counter_pod("count", "Never", "for i in 1 2 3 4 5; do echo line $i; done"))
    wait_for(lambda: core.read_namespaced_pod("count", namespace).status.phase == "Succeeded", what="done")
    assert kubectl("logs", "count", "-n", namespace, "--tail=2").stdout == "line 4\nline 5\n"
    stamped = kubectl("logs", "count", "-n", namespace, "--timestamps", "--tail=1").stdout
    stamp, text = stamped.rstrip("\n").split(" ", 1)
    assert text == "line 5" and stamp.endswith("Z") and "T" in stamp
    assert kubectl("logs", "count", "-n", namespace, "--limit-bytes=8").stdout == "line 1\nl"


def test_previous_shows_the_last_instance(core, kubectl, namespace):
    script = "echo run; sleep 0.2; exit 1"
    core.create_namespaced_pod(namespace, counter_pod("flaky", "Always", script))
    wait_for(lambda: (core.read_namespaced_pod("flaky", namespace).status.container_statuses or [None])[0]
             and core.read_namespaced_pod("flaky", namespace).status.container_statuses[0].restart_count >= 1,
             timeout=30, what="a restart")
    assert kubectl("logs", "flaky", "-n", namespace, "--previous").stdout == "run\n"


def test_in_crash_loop_back_off_logs_and_previous_both_read_the_run_that_crashed(core, kubectl, namespace):
    # The kubelet reads lastState's run for both while the container waits to restart.
    core.create_namespaced_pod(namespace, counter_pod("looping", "Always", "echo run $(date +%s%N); exit 1"))

    def backing_off():
        statuses = core.read_namespaced_pod("looping", namespace).status.container_statuses or []
        return (statuses and statuses[0].restart_count >= 1 and statuses[0].state.waiting
                and statuses[0].state.waiting.reason == "CrashLoopBackOff")
    wait_for(backing_off, timeout=30, what="CrashLoopBackOff after a restart")
    current = kubectl("logs", "looping", "-n", namespace).stdout
    previous = kubectl("logs", "looping", "-n", namespace, "--previous").stdout
    assert current.startswith("run ") and previous == current


def test_a_container_waiting_for_its_image_has_no_log_yet(core, kubectl, namespace):
    pod = counter_pod("nopull", "Always", "true")
    pod["spec"]["containers"][0]["image"] = "nginx:9.9"
    core.create_namespaced_pod(namespace, pod)
    wait_for(lambda: "ImagePullBackOff" in kubectl("get", "pod", "nopull", "-n", namespace).stdout,
             timeout=60, what="ImagePullBackOff")
    result = kubectl("logs", "nopull", "-n", namespace, check=False)
    assert result.returncode != 0
    assert re.search('container "main" in pod "nopull" is waiting to start: '
                     "(trying and failing to pull image|image can't be pulled)$", result.stderr.strip()), result.stderr


def test_previous_without_a_restart_is_an_error(core, kubectl, namespace):
    core.create_namespaced_pod(namespace, counter_pod("once", "Never", "echo hi"))
    wait_for(lambda: core.read_namespaced_pod("once", namespace).status.phase == "Succeeded", what="done")
    result = kubectl("logs", "once", "-n", namespace, "--previous", check=False)
    assert result.returncode != 0
    assert 'previous terminated container "main" in pod "once" not found' in result.stderr


def test_follow_streams_until_the_container_ends(core, sandbox, namespace):
    script = "for i in 1 2 3; do echo tick $i; sleep 0.5; done"
    core.create_namespaced_pod(namespace, counter_pod("ticker", "Never", script))
    wait_for(lambda: core.read_namespaced_pod("ticker", namespace).status.phase == "Running", what="running")
    env = dict(os.environ, KUBECONFIG=str(sandbox.kubeconfig))
    follow = subprocess.run([kubectl_path(), "logs", "-f", "ticker", "-n", namespace], env=env,
                            capture_output=True, text=True, timeout=30)
    assert follow.returncode == 0, follow.stderr
    assert follow.stdout == "tick 1\ntick 2\ntick 3\n"


def test_python_output_is_block_buffered_as_in_a_container(core, kubectl, namespace):
    """Without a TTY, Python buffers stdout: lines appear at exit, as on a real cluster."""
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "buffered"},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "main", "image": "python", "command": ["python", "-c",
                                                           "import time; print('starting'); time.sleep(3); print('done')"]}]}})
    wait_for(lambda: core.read_namespaced_pod("buffered", namespace).status.phase == "Running", what="running")
    assert kubectl("logs", "buffered", "-n", namespace).stdout == ""
    wait_for(lambda: core.read_namespaced_pod("buffered", namespace).status.phase == "Succeeded", what="done")
    assert kubectl("logs", "buffered", "-n", namespace).stdout == "starting\ndone\n"
