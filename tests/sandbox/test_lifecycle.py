"""`labkit up/down/status`: idempotent, persistent, locked, orphan-free."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from labkit.progress import Progress
from labkit.sandbox import procs
from labkit.sandbox.cluster import Sandbox

from ..conftest import wait_for
from .conftest import busybox_pod, component_pids, kubeconfig_client, labkit_cli

pytestmark = pytest.mark.slow


def test_up_is_idempotent_and_leaves_the_users_kubeconfig_alone(own_cluster, tmp_path):
    from labkit.paths import cache_root

    before = own_cluster.supervisor_pid()
    pids = component_pids(own_cluster)
    env = dict(os.environ, HOME=str(tmp_path), LABKIT_CACHE=str(cache_root()))
    env.pop("KUBECONFIG", None)
    result = labkit_cli("up", "--name", own_cluster.name, env=env)
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stderr
    assert not (tmp_path / ".kube").exists()
    assert own_cluster.supervisor_pid() == before
    assert component_pids(own_cluster) == pids


def test_merge_kubeconfig_adds_a_context_and_keeps_the_others(own_cluster, tmp_path):
    import yaml

    from labkit.paths import cache_root

    kube = tmp_path / ".kube"
    kube.mkdir()
    (kube / "config").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "work",
        "clusters": [{"name": "work", "cluster": {"server": "https://work.example:6443"}}],
        "users": [{"name": "me", "user": {"token": "t"}}],
        "contexts": [{"name": "work", "context": {"cluster": "work", "user": "me"}}]}))
    env = dict(os.environ, HOME=str(tmp_path), LABKIT_CACHE=str(cache_root()))
    result = labkit_cli("up", "--name", own_cluster.name, "--merge-kubeconfig", env=env)
    assert result.returncode == 0, result.stderr
    merged = yaml.safe_load((kube / "config").read_text())
    assert {c["name"] for c in merged["contexts"]} == {"work", own_cluster.name}
    assert merged["current-context"] == own_cluster.name
    assert oct((kube / "config").stat().st_mode & 0o777) == "0o600"


def test_status_reports_every_component(own_cluster):
    result = labkit_cli("status", "--name", own_cluster.name, "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    names = {c["name"] for c in status["components"]}
    assert names == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "node-agent"}
    for comp in status["components"]:
        assert comp["healthy"], comp
        assert procs.alive(comp["pid"]), comp


def test_status_kubeconfig_prints_the_path_for_scripts(own_cluster):
    result = labkit_cli("status", "--name", own_cluster.name, "--kubeconfig")
    assert (result.returncode, result.stdout) == (0, f"{own_cluster.kubeconfig}\n"), result.stderr
    stopped = labkit_cli("status", "--name", "never-started", "--kubeconfig")
    assert (stopped.returncode, stopped.stdout) == (3, "")


def test_logs_command_shows_a_component_log(own_cluster):
    result = labkit_cli("logs", "kube-apiserver", "--name", own_cluster.name, "--tail", "5")
    assert result.returncode == 0
    assert result.stdout.strip()
    missing = labkit_cli("logs", "no-such-thing", "--name", own_cluster.name)
    assert missing.returncode == 2
    assert "known:" in missing.stderr and "kube-apiserver" in missing.stderr


def test_kubectl_works_with_the_written_kubeconfig(own_cluster):
    from ..conftest import kubectl_path

    env = dict(os.environ, KUBECONFIG=str(own_cluster.kubeconfig))
    readyz = subprocess.run([kubectl_path(), "get", "--raw", "/readyz"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert readyz.stdout.strip() == "ok", readyz.stderr
    whoami = subprocess.run([kubectl_path(), "auth", "whoami", "-o", "json"], env=env,
                            capture_output=True, text=True, timeout=30)
    info = json.loads(whoami.stdout)
    assert "system:masters" in info["status"]["userInfo"]["groups"]
    version = subprocess.run([kubectl_path(), "version", "-o", "json"], env=env,
                             capture_output=True, text=True, timeout=30)
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"] == "v1.37.2"


def _running_forking_pod(box: Sandbox, name: str):
    """A running pod whose container forks a grandchild (the hardest process to clean up)."""
    core = kubeconfig_client(box.kubeconfig)
    core.create_namespaced_pod("default", busybox_pod(name, ["sh", "-c", "sleep 300 & sleep 300"]))
    wait_for(lambda: core.read_namespaced_pod(name, "default").status.phase == "Running",
             what=f"{name} Running")
    return core


def test_down_up_keeps_objects_and_leaves_no_process(own_cluster):
    core = kubeconfig_client(own_cluster.kubeconfig)
    name = f"keep-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_config_map("default", {"metadata": {"name": name}, "data": {"k": "v"}})
    _running_forking_pod(own_cluster, "sleeper")
    cluster_id = own_cluster.config().id
    wait_for(lambda: len(procs.marked(cluster_id, role="container")) >= 2, what="container processes")
    pids = list(component_pids(own_cluster).values()) + procs.marked(cluster_id)
    supervisor = own_cluster.supervisor_pid()

    result = labkit_cli("down", "--name", own_cluster.name)
    assert result.returncode == 0, result.stderr
    assert not procs.alive(supervisor)
    assert [p for p in pids if procs.alive(p)] == []
    assert procs.marked(cluster_id) == []
    # Quiet when already down.
    again = labkit_cli("down", "--name", own_cluster.name)
    assert again.returncode == 0 and again.stdout == ""

    own_cluster.up()
    core = kubeconfig_client(own_cluster.kubeconfig)
    assert core.read_namespaced_config_map(name, "default").data == {"k": "v"}
    core.delete_namespaced_pod("sleeper", "default")


def test_a_busy_port_is_skipped(own_cluster):
    old_port = own_cluster.config().ports.apiserver
    own_cluster.down()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", old_port))
    blocker.listen()
    try:
        own_cluster.up()
        new_port = own_cluster.config().ports.apiserver
        assert new_port != old_port
        core = kubeconfig_client(own_cluster.kubeconfig)  # the kubeconfig names the new port
        assert core.read_namespace("default").metadata.name == "default"
    finally:
        blocker.close()


def test_status_leaves_the_processes_of_an_up_in_progress_alone(own_cluster, tmp_path):
    # While `up` holds the lock, components run before the supervisor records them: not orphans.
    own_cluster.down()
    cfg = own_cluster.config()
    component = procs.spawn(["sleep", "60"], env=dict(os.environ, **{procs.MARKER: cfg.id}),
                            log=tmp_path / "component.log")
    try:
        with own_cluster._lock():
            assert labkit_cli("status", "--name", own_cluster.name).returncode == 3
            assert procs.alive(component.pid)
        assert labkit_cli("status", "--name", own_cluster.name).returncode == 3
        component.wait(timeout=10)  # a true leftover once nobody holds the lock
        assert procs.marked(cfg.id) == []
    finally:
        component.kill()
        own_cluster.up()


def test_down_right_after_the_agent_was_killed_leaves_no_container(own_cluster):
    core = _running_forking_pod(own_cluster, "stray")
    cluster_id = own_cluster.config().id
    os.kill(component_pids(own_cluster)["node-agent"], signal.SIGKILL)
    result = labkit_cli("down", "--name", own_cluster.name)
    assert result.returncode == 0, result.stderr
    assert procs.marked(cluster_id) == []
    own_cluster.up()
    core = kubeconfig_client(own_cluster.kubeconfig)
    core.delete_namespaced_pod("stray", "default", grace_period_seconds=0)


def test_a_killed_supervisor_takes_its_components_along(own_cluster):
    pids = component_pids(own_cluster)
    os.kill(own_cluster.supervisor_pid(), signal.SIGKILL)
    wait_for(lambda: not any(procs.alive(p) for p in pids.values()), timeout=15,
             what="components to die with their supervisor (PDEATHSIG)")
    assert not own_cluster.running()
    own_cluster.up()
    assert own_cluster.running()


def test_a_killed_agent_leaves_no_container_and_reports_lost_ones(own_cluster):
    """The supervisor restarts the agent; it reports lost containers as a rebooted kubelet does."""
    core = _running_forking_pod(own_cluster, "survivor")
    cluster_id = own_cluster.config().id
    before = set(procs.marked(cluster_id, role="container"))
    assert len(before) >= 2
    agent = component_pids(own_cluster)["node-agent"]
    os.kill(agent, signal.SIGKILL)
    wait_for(lambda: not (before & set(procs.marked(cluster_id, role="container"))), timeout=30,
             what="the old container processes (incl. the grandchild) to be gone")

    def restarted():
        st = core.read_namespaced_pod("survivor", "default").status.container_statuses[0]
        term = st.last_state.terminated
        return st.state.running and st.restart_count == 1 and term and term
    term = wait_for(restarted, timeout=60, what="the lost container to be restarted")
    assert term.reason == "ContainerStatusUnknown"
    assert term.exit_code == 137
    core.delete_namespaced_pod("survivor", "default")


def test_concurrent_up_makes_one_cluster(private_home):
    name = f"race-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ)
    try:
        runs = [subprocess.Popen([sys.executable, "-m", "labkit.cli", "up", "--name", name],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                for _ in range(2)]
        outs = [r.communicate(timeout=300) for r in runs]
        assert [r.returncode for r in runs] == [0, 0], outs
        assert sum("already running" in err for _, err in outs) == 1, outs
        box = Sandbox(name, progress=Progress(quiet=True))
        supervisors = [p for p in _all_pids() if procs.environ_of(p).get("LABKIT_SUPERVISES") == str(box.dir)]
        assert supervisors == [box.supervisor_pid()]
    finally:
        Sandbox(name, progress=Progress(quiet=True)).down(purge=True)


def test_purge_removes_the_state(private_home):
    name = f"purge-{uuid.uuid4().hex[:6]}"
    box = Sandbox(name, progress=Progress(quiet=True))
    box.up()
    assert box.dir.exists()
    result = labkit_cli("down", "--name", name, "--purge")
    assert result.returncode == 0, result.stderr
    assert not box.dir.exists()


def test_fewer_nodes_after_a_restart_leaves_no_stale_node(private_home):
    name = f"shrink-{uuid.uuid4().hex[:6]}"
    box = Sandbox(name, progress=Progress(quiet=True))
    try:
        box.up(2)
        box.down()
        box.up(1)
        core = kubeconfig_client(box.kubeconfig)
        assert [n.metadata.name for n in core.list_node().items] == ["labkit-node-1"]
    finally:
        box.down(purge=True)


def test_a_corrupted_state_is_reported_with_the_fix(private_home):
    name = f"broken-{uuid.uuid4().hex[:6]}"
    state = private_home / name
    state.mkdir()
    (state / "config.json").write_text("{not json")
    result = labkit_cli("up", "--name", name)
    assert result.returncode == 1
    assert "unreadable" in result.stderr
    assert f"labkit down --name {name} --purge" in result.stderr
    assert labkit_cli("down", "--name", name, "--purge").returncode == 0
    assert not state.exists()


def test_a_damaged_certificate_is_reported_with_the_fix(own_cluster):
    own_cluster.down()
    ca = own_cluster.config().pki_dir / "ca.crt"
    good = ca.read_bytes()
    ca.write_text("-----BEGIN CERTIFICATE-----\ntruncated\n")
    try:
        result = labkit_cli("up", "--name", own_cluster.name)
        assert result.returncode == 1
        assert "certificates of sandbox cluster" in result.stderr and "unreadable" in result.stderr
        assert f"labkit down --name {own_cluster.name} --purge" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        ca.write_bytes(good)
        own_cluster.up()


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and procs.alive(int(p))]


def test_the_agent_survives_an_apiserver_restart(own_cluster):
    """Watches break when the API server dies; the agent re-lists and carries on."""
    core = kubeconfig_client(own_cluster.kubeconfig)
    core.create_namespaced_pod("default", busybox_pod("before", ["sleep", "2"], "Never"))
    wait_for(lambda: core.read_namespaced_pod("before", "default").status.phase == "Running", what="running")
    apiserver = component_pids(own_cluster)["kube-apiserver"]
    agent_restarts = own_cluster.state()["components"]["node-agent"]["restarts"]
    os.kill(apiserver, signal.SIGKILL)
    wait_for(lambda: component_pids(own_cluster)["kube-apiserver"] not in (None, apiserver),
             timeout=30, what="the supervisor to restart the API server")

    def phase(name):
        try:
            return core.read_namespaced_pod(name, "default").status.phase
        except Exception:
            return None
    # The pod finished while the API server was away: its final status still arrives.
    wait_for(lambda: phase("before") == "Succeeded", timeout=60, what="status reported after the restart")
    core.create_namespaced_pod("default", busybox_pod("after", ["true"], "Never"))
    wait_for(lambda: phase("after") == "Succeeded", timeout=60, what="a new pod to run")
    assert own_cluster.state()["components"]["node-agent"]["restarts"] == agent_restarts
    for name in ("before", "after"):
        core.delete_namespaced_pod(name, "default")
