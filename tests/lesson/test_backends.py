"""Backends: minikube's exact commands, any kubeconfig cluster, and ``connect(backend="auto")``.

minikube cannot run here, so its tests put a STAND-IN ``minikube`` executable first on
PATH: a small script that records its arguments and prints canned ``status -o json``
output. What is tested is the commands labkit runs, exactly as a learner would type
them. The same goes for the stand-in ``docker`` of the kind tests. Everything else
(pods, nodes, kubeconfigs) is the real sandbox.
"""

from __future__ import annotations

import importlib

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

import labkit
from labkit import LabkitError, NotSupported, backends, kubeconfigs
from labkit.backends.minikube import MinikubeBackend
from labkit.connect import Connection

from ..conftest import TEST_CLUSTER
from .conftest import pod

connect_module = importlib.import_module("labkit.connect")

RUNNING = [{"Name": "minikube", "Host": "Running", "Kubelet": "Running", "APIServer": "Running",
            "Kubeconfig": "Configured", "Worker": False},
           {"Name": "minikube-m02", "Host": "Running", "Kubelet": "Running", "APIServer": "Irrelevant",
            "Kubeconfig": "Irrelevant", "Worker": True}]
STOPPED = {"Name": "minikube", "Host": "Stopped", "Kubelet": "Stopped", "APIServer": "Stopped",
           "Kubeconfig": "Stopped", "Worker": False}


class StandIn:
    """A stand-in CLI (``minikube`` or ``docker``) on PATH that records each call's argv."""

    def __init__(self, folder: Path, name: str, monkeypatch):
        self.name = name
        self.log = folder / f"{name}.calls"
        self.status_file = folder / f"{name}.status"
        self.fail_file = folder / f"{name}.fail"
        script = folder / name
        script.write_text(textwrap.dedent(f"""\
            #!{sys.executable}
            # STAND-IN for `{name}` in labkit's tests: records argv, prints canned answers.
            import json, pathlib, sys, time
            args = sys.argv[1:]
            with open({str(self.log)!r}, "a") as f:
                f.write(json.dumps(args) + "\\n")
            fail = pathlib.Path({str(self.fail_file)!r})
            if args[:1] == ["status"]:
                status = pathlib.Path({str(self.status_file)!r})
                print(status.read_text() if status.exists() else "")
                sys.exit(0 if status.exists() and "Stopped" not in status.read_text() else 7)
            if args[:1] == ["start"]:
                for line in ["😄  minikube v1.36.0 on Debian 12", "👍  Starting control plane node",
                             "🏄  Done! kubectl is now configured to use \\"minikube\\" cluster"]:
                    print(line, flush=True)
                    time.sleep(0.05)
            if fail.exists():
                print(fail.read_text(), file=sys.stderr)
                sys.exit(1)
        """))
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    def status(self, value) -> None:
        self.status_file.write_text(json.dumps(value))

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def minikube(tmp_path, monkeypatch) -> StandIn:
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    return StandIn(folder, "minikube", monkeypatch)


@pytest.fixture
def docker(tmp_path, monkeypatch) -> StandIn:
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    return StandIn(folder, "docker", monkeypatch)


@pytest.fixture
def running_pod(lab) -> dict:
    """A real running pod of the sandbox, as a dict (its containerID is ``labkit://…``)."""
    lab.apply(pod("target", "sleep 60"), quiet=True)
    return lab.wait("pod/target", "jsonpath={.status.phase}=Running", timeout=60)


def renamed_kubeconfig(sandbox, folder: Path, context: str) -> Path:
    """The sandbox's kubeconfig with its context, cluster and user all called ``context``."""
    doc = kubeconfigs.read(sandbox.kubeconfig)
    doc["clusters"][0]["name"] = doc["users"][0]["name"] = context
    doc["contexts"][0] = {"name": context, "context": {"cluster": context, "user": context}}
    doc["current-context"] = context
    path = folder / f"{context}.kubeconfig"
    import yaml

    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def isolated_connect(monkeypatch, tmp_path):
    """connect() may set KUBECONFIG and the kernel's connection: restore both afterwards."""
    monkeypatch.setenv("KUBECONFIG", os.environ.get("KUBECONFIG", ""))
    monkeypatch.setattr(connect_module, "_current", connect_module._current)


# -- minikube ------------------------------------------------------------------------------

def test_minikube_status_is_read_from_status_json(minikube):
    backend = MinikubeBackend()
    assert backend.available()
    assert not backend.ready()  # no cluster: empty output
    minikube.status(STOPPED)
    assert not backend.ready()
    minikube.status(RUNNING)
    assert backend.ready()
    assert backend.status()[1]["Name"] == "minikube-m02"
    assert minikube.calls() == [["status", "-o", "json"]] * 4


def test_minikube_up_streams_start_and_is_idempotent(minikube, capsys):
    minikube.status(STOPPED)
    MinikubeBackend().up(2)
    assert minikube.calls() == [["status", "-o", "json"], ["start", "--nodes=2"]]
    assert capsys.readouterr().out.splitlines() == [
        "😄  minikube v1.36.0 on Debian 12", "👍  Starting control plane node",
        '🏄  Done! kubectl is now configured to use "minikube" cluster']
    minikube.status(RUNNING)
    MinikubeBackend().up(2)
    assert capsys.readouterr().out == "minikube is already running\n"
    assert minikube.calls()[2:] == [["status", "-o", "json"]]


def test_a_failing_minikube_start_shows_its_output(minikube, capsys):
    minikube.status(STOPPED)
    minikube.fail_file.write_text("❌  Exiting due to DRV_NOT_DETECTED")
    with pytest.raises(LabkitError) as err:
        MinikubeBackend().up(quiet=True)
    assert str(err.value).startswith("`minikube start` failed (exit 1):\n😄  minikube v1.36.0")
    assert "DRV_NOT_DETECTED" in str(err.value)
    assert str(err.value).endswith("See `minikube logs`, or use connect(backend='sandbox').")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("node, runtime, signal, command", [
    ("minikube", "docker://27.4.1", "KILL", ["ssh", "--", "docker", "kill", "{id}"]),
    ("minikube-m02", "docker://27.4.1", "TERM", ["ssh", "-n", "minikube-m02", "--", "docker", "kill",
                                                 "--signal=TERM", "{id}"]),
    ("minikube", "containerd://1.7.24", "KILL", ["ssh", "--", "sudo", "crictl", "stop", "--timeout", "0",
                                                 "{id}"]),
    ("minikube-m02", "cri-o://1.30.0", "KILL", ["ssh", "-n", "minikube-m02", "--", "sudo", "crictl", "stop",
                                                "--timeout", "0", "{id}"]),
])
def test_minikube_kill_uses_the_nodes_container_runtime(minikube, running_pod, node, runtime, signal,
                                                        command):
    target = dict(running_pod, spec=dict(running_pod["spec"], nodeName=node))
    asked = []
    backend = MinikubeBackend(node_runtime=lambda n: asked.append(n) or runtime)
    said = backend.kill_container(target, "main", signal=signal)
    cid = running_pod["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    expected = [cid if a == "{id}" else a for a in command]
    assert minikube.calls() == [expected]
    assert asked == [node]
    assert said == (f"killed container main of pod {running_pod['metadata']['namespace']}/target on node "
                    f"{node}: minikube {' '.join(expected)}")


def test_minikube_kill_errors(minikube, running_pod):
    on_containerd = MinikubeBackend(node_runtime=lambda n: "containerd://1.7.24")
    with pytest.raises(NotSupported, match=r"on the containerd runtime labkit can only SIGKILL a container"):
        on_containerd.kill_container(running_pod, "main", signal="TERM")
    with pytest.raises(NotSupported, match=r"unknown container runtime 'rkt://1' on node labkit-node-"):
        MinikubeBackend(node_runtime=lambda n: "rkt://1").kill_container(running_pod, "main")
    minikube.fail_file.write_text("ssh: Process exited with status 1")
    with pytest.raises(LabkitError, match=r"`minikube ssh -- docker kill \w+` failed \(exit 1\): ssh: Process"):
        MinikubeBackend(node_runtime=lambda n: "docker://27").kill_container(
            dict(running_pod, spec=dict(running_pod["spec"], nodeName="minikube")), "main")
    with pytest.raises(LabkitError, match="not connected: call labkit.connect"):
        MinikubeBackend().kill_container(running_pod, "main")


def test_minikube_nodes_and_stop(minikube):
    backend = MinikubeBackend()
    assert backend.fail_node("minikube-m02") == "node minikube-m02 stopped (minikube node stop minikube-m02)"
    assert backend.recover_node("minikube-m02") == ("node minikube-m02 started again "
                                                    "(minikube node start minikube-m02)")
    backend.down()  # nothing there: status is empty, no stop
    minikube.status(RUNNING)
    backend.down()
    assert minikube.calls() == [["node", "stop", "minikube-m02"], ["node", "start", "minikube-m02"],
                                ["status", "-o", "json"], ["status", "-o", "json"], ["stop"]]


def test_without_minikube_installed(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    backend = MinikubeBackend()
    assert not backend.available() and not backend.ready()
    with pytest.raises(NotSupported, match="minikube is not installed: see https://minikube.sigs.k8s.io"):
        backend.up(quiet=True)


def test_connect_to_minikube_reads_the_node_runtime_from_the_cluster(
        minikube, sandbox, tmp_path, monkeypatch, isolated_connect, namespace, capsys):
    """The minikube context here is the sandbox under another name; only the CLI is a stand-in."""
    minikube.status(RUNNING)
    monkeypatch.setenv("KUBECONFIG", str(renamed_kubeconfig(sandbox, tmp_path, "minikube")))
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "state"))  # where the kubeconfig copy goes
    conn = labkit.connect("minikube")
    assert capsys.readouterr().out == "minikube: Kubernetes v1.37.2, 2 nodes\n"
    assert conn.backend == "minikube" and conn.context == "minikube"
    assert os.environ["KUBECONFIG"] == str(conn.kubeconfig)
    assert conn.kubeconfig.parent == tmp_path / "state" / "kubeconfigs"
    assert conn.kubeconfig.stat().st_mode & 0o077 == 0
    assert conn.impl.node_runtime("labkit-node-1").startswith("labkit://")
    lab = labkit.Lesson(namespace, conn, namespace)
    lab.apply(pod("target", "sleep 60"), quiet=True)
    with pytest.raises(NotSupported, match=r"unknown container runtime 'labkit://[^']+' on node labkit-node-"):
        lab.kill("target")
    assert minikube.calls() == [["status", "-o", "json"]]


# -- any kubeconfig cluster -------------------------------------------------------------------

def test_the_sandbox_as_any_kubeconfig_cluster(sandbox, namespace, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(sandbox.kubeconfig))
    impl = backends.get("kubeconfig")
    assert impl.available() and impl.ready()
    doc = impl.kubeconfig_doc()
    conn = Connection(impl, sandbox.kubeconfig, doc)
    assert conn.describe() == f"kubeconfig context '{doc['current-context']}': Kubernetes v1.37.2, 2 nodes"
    lab = labkit.Lesson(namespace, conn, namespace)
    lab.apply(pod("target", "sleep 60"), quiet=True)
    with pytest.raises(NotSupported) as err:
        lab.kill("target")
    assert str(err.value) == (
        f"killing a container is not supported on this cluster (context '{doc['current-context']}'): "
        "labkit can reach containers only on the sandbox, minikube and kind. Instead, make the program "
        "fail, or delete the pod with lab.delete('pod', name)")
    with pytest.raises(NotSupported, match="the kubeconfig backend cannot crash node labkit-node-2"):
        lab.fail_node("labkit-node-2")
    with pytest.raises(NotSupported, match="labkit does not stop clusters it did not start"):
        impl.down()


def test_kind_kills_through_docker_exec_crictl(docker, sandbox, tmp_path, monkeypatch, running_pod):
    monkeypatch.setenv("KUBECONFIG", str(renamed_kubeconfig(sandbox, tmp_path, "kind-lab")))
    impl = backends.get("kubeconfig")
    assert impl.is_kind() and impl.ready()
    node = running_pod["spec"]["nodeName"]
    cid = running_pod["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    said = impl.kill_container(running_pod, "main")
    assert docker.calls() == [["exec", node, "crictl", "stop", "--timeout", "0", cid]]
    assert said.endswith(f": docker exec {node} crictl stop --timeout 0 {cid}")
    assert impl.fail_node("kind-worker") == "node kind-worker stopped (docker stop kind-worker)"
    assert impl.recover_node("kind-worker") == "node kind-worker started again (docker start kind-worker)"
    assert docker.calls()[1:] == [["stop", "kind-worker"], ["start", "kind-worker"]]
    with pytest.raises(NotSupported, match="can only SIGKILL"):
        impl.kill_container(running_pod, "main", signal="TERM")


def test_an_unreachable_context_cannot_be_started(tmp_path, monkeypatch):
    path = tmp_path / "config"
    path.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        clusters: [{name: far, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: me, user: {token: x}}]
        contexts: [{name: far, context: {cluster: far, user: me}}]
        current-context: far
        """))
    monkeypatch.setenv("KUBECONFIG", str(path))
    impl = backends.get("kubeconfig")
    assert impl.available() and not impl.ready()
    with pytest.raises(NotSupported, match="the cluster of context 'far' does not answer, and labkit cannot "
                                           "start it"):
        impl.up()
    with pytest.raises(LabkitError, match=r"kubeconfig context 'near' does not exist \(known: far\)"):
        backends.get("kubeconfig", context="near").kubeconfig_doc()


# -- connect(backend="auto") ----------------------------------------------------------------

def test_auto_picks_the_running_sandbox_first(sandbox, minikube, monkeypatch, isolated_connect, capsys):
    minikube.status(RUNNING)
    monkeypatch.setenv("LABKIT_CLUSTER", TEST_CLUSTER)
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    conn = labkit.connect()
    assert conn.backend == "sandbox"
    assert capsys.readouterr().out == f"sandbox '{TEST_CLUSTER}': Kubernetes v1.37.2, 2 nodes\n"
    assert os.environ["KUBECONFIG"] == str(sandbox.kubeconfig) == str(conn.kubeconfig)
    assert connect_module.current() is conn
    assert minikube.calls() == []  # a running sandbox wins without asking minikube


def test_auto_then_minikube_then_the_current_context(sandbox, minikube, tmp_path, monkeypatch,
                                                     isolated_connect):
    monkeypatch.setenv("LABKIT_CLUSTER", "not-started-here")
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("KUBECONFIG", str(renamed_kubeconfig(sandbox, tmp_path, "minikube")))
    minikube.status(RUNNING)
    assert labkit.connect(quiet=True).backend == "minikube"
    # minikube stopped: the current context answers (it is the sandbox, but labkit cannot tell
    # from this state folder), so it is used as any cluster.
    minikube.status(STOPPED)
    monkeypatch.setenv("KUBECONFIG", str(renamed_kubeconfig(sandbox, tmp_path, "remote")))
    conn = labkit.connect(quiet=True)
    assert (conn.backend, conn.context) == ("kubeconfig", "remote")
    assert os.environ["KUBECONFIG"] == str(conn.kubeconfig)
    assert not (tmp_path / "state" / "not-started-here").exists()


def test_a_kubeconfig_that_points_at_a_running_sandbox_gets_its_powers(sandbox, monkeypatch, tmp_path,
                                                                      isolated_connect):
    monkeypatch.setenv("KUBECONFIG", str(renamed_kubeconfig(sandbox, tmp_path, "my-context")))
    conn = labkit.connect("kubeconfig", quiet=True)
    assert conn.backend == "sandbox" and conn.impl.cluster == TEST_CLUSTER


def test_auto_starts_a_sandbox_when_nothing_runs(minikube, tmp_path, monkeypatch, isolated_connect, capsys):
    from labkit.sandbox.cluster import Sandbox

    minikube.status(STOPPED)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LABKIT_CLUSTER", "from-nothing")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    try:
        conn = labkit.connect()
        assert (conn.backend, conn.nodes()) == ("sandbox", ["labkit-node-1"])
        assert capsys.readouterr().out.endswith("sandbox 'from-nothing': Kubernetes v1.37.2, 1 node\n")
        assert os.environ["KUBECONFIG"] == str(tmp_path / "state" / "from-nothing" / "kubeconfig")
        assert ["status", "-o", "json"] in [call[:3] for call in minikube.calls()]
    finally:
        Sandbox("from-nothing").down(purge=True)
