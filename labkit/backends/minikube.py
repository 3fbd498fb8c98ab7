"""minikube, the course's reference setup, driven through its CLI.

What runs, exactly (so a learner can type the same):

* is it up?    ``minikube status -o json``
* start        ``minikube start`` (its output streamed to the notebook)
* stop         ``minikube stop``
* kill         ``minikube ssh -- docker kill <id>`` on the docker runtime,
               ``minikube ssh -- sudo crictl stop --timeout 0 <id>`` on containerd
               or CRI-O (there is no ``docker`` inside those nodes), chosen from
               the Node's ``status.nodeInfo.containerRuntimeVersion``
* node crash   ``minikube node stop <node>`` / ``minikube node start <node>``

The profile and kubeconfig context are both ``minikube``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from .. import kubeconfigs
from ..errors import ClusterNotRunning, LabkitError, NotSupported
from .base import Backend, container_id, register, run_tool

PROFILE = "minikube"


def _nodes_status(stdout: str) -> list[dict]:
    """``minikube status -o json`` prints one object, or a list for multi-node clusters."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return []
    return data if isinstance(data, list) else [data]


@register
class MinikubeBackend(Backend):
    """The local minikube cluster (profile and context ``minikube``)."""

    name = "minikube"

    def __init__(self, node_runtime=None):
        # node_runtime(node) -> containerRuntimeVersion; the connection supplies one that
        # reads the Node object, so kill_container can pick docker or crictl.
        self.node_runtime = node_runtime

    def available(self) -> bool:
        return shutil.which("minikube") is not None

    def status(self) -> list[dict]:
        """Parsed ``minikube status -o json`` (empty when there is no cluster)."""
        if not self.available():
            return []
        proc = run_tool(["minikube", "status", "-o", "json"], timeout=60, check=False)
        return _nodes_status(proc.stdout)

    def ready(self) -> bool:
        nodes = self.status()
        return bool(nodes) and all(n.get("Host") == "Running" for n in nodes) and any(
            n.get("APIServer") == "Running" for n in nodes)

    def up(self, nodes: int | None = None, *, quiet: bool = False) -> None:
        if self.ready():
            if not quiet:
                print("minikube is already running")
            return
        if not self.available():
            raise NotSupported("minikube is not installed: see https://minikube.sigs.k8s.io/docs/start/ "
                               "or use connect(backend='sandbox')")
        argv = ["minikube", "start"] + ([f"--nodes={nodes}"] if nodes else [])
        # Stream minikube's own progress lines: starting takes minutes and should not look stuck.
        proc = subprocess.Popen([shutil.which("minikube"), *argv[1:]], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        tail: list[str] = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-20:]
            if not quiet:
                print(line, end="", file=sys.stdout, flush=True)
        if proc.wait() != 0:
            raise LabkitError(f"`{' '.join(argv)}` failed (exit {proc.returncode}):\n"
                              + "\n".join(tail) + "\nSee `minikube logs`, or use connect(backend='sandbox').")

    def down(self) -> None:
        if self.available() and self.status():
            run_tool(["minikube", "stop"], timeout=300)

    def kubeconfig_doc(self) -> dict:
        return kubeconfigs.minify(PROFILE)

    def _ssh(self, node: str, *command: str) -> list[str]:
        # The primary node is reached without -n, exactly as the course shows; others by name.
        target = [] if node in ("", PROFILE) else ["-n", node]
        return ["minikube", "ssh", *target, "--", *command]

    def kill_command(self, pod: dict, container: str, runtime_version: str, *,
                     signal: str = "KILL") -> list[str]:
        """The command that kills ``container`` on its node, for the node's runtime."""
        node = (pod.get("spec") or {}).get("nodeName", "")
        _, cid = container_id(pod, container)
        runtime = runtime_version.partition("://")[0]
        if runtime == "docker":
            extra = [] if signal.upper() in ("KILL", "SIGKILL") else [f"--signal={signal.upper()}"]
            return self._ssh(node, "docker", "kill", *extra, cid)
        if runtime in ("containerd", "cri-o"):
            if signal.upper() not in ("KILL", "SIGKILL"):
                raise NotSupported(f"on the {runtime} runtime labkit can only SIGKILL a container "
                                   "(crictl stop --timeout 0)")
            return self._ssh(node, "sudo", "crictl", "stop", "--timeout", "0", cid)
        raise NotSupported(f"unknown container runtime '{runtime_version}' on node {node}")

    def kill_container(self, pod: dict, container: str, *, signal: str = "KILL") -> str:
        node = (pod.get("spec") or {}).get("nodeName", "")
        if self.node_runtime is None:
            raise ClusterNotRunning("the minikube backend is not connected: call labkit.connect() first")
        argv = self.kill_command(pod, container, self.node_runtime(node), signal=signal)
        run_tool(argv, timeout=60)
        meta = pod["metadata"]
        return (f"killed container {container} of pod {meta['namespace']}/{meta['name']} "
                f"on node {node}: {' '.join(argv)}")

    def fail_node(self, node: str) -> str:
        run_tool(["minikube", "node", "stop", node], timeout=300)
        return f"node {node} stopped (minikube node stop {node})"

    def recover_node(self, node: str) -> str:
        run_tool(["minikube", "node", "start", node], timeout=600)
        return f"node {node} started again (minikube node start {node})"
