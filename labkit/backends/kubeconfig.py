"""Any cluster reachable through a kubeconfig context: kind, k3d, a remote one.

labkit cannot start or stop such clusters. It can kill a container only on
kind, whose nodes are Docker containers running containerd:
``docker exec <node> crictl stop --timeout 0 <id>``.
"""

from __future__ import annotations

import shutil

from .. import kubeconfigs
from ..errors import NotSupported
from .base import Backend, container_id, register, run_tool


@register
class KubeconfigBackend(Backend):
    """The current kubeconfig context, or the one named ``context``."""

    name = "kubeconfig"

    def __init__(self, context: str | None = None):
        self.context = context

    def available(self) -> bool:
        try:
            kubeconfigs.minify(self.context)
            return True
        except Exception:
            return False

    def ready(self) -> bool:
        if not self.available():
            return False
        from ..client import Api

        try:
            from kubernetes import client

            api = Api(self.kubeconfig_doc())
            api.client.configuration.retries = 0
            client.VersionApi(api.client).get_code(_request_timeout=3)
            return True
        except Exception:
            return False

    def context_name(self) -> str:
        return self.kubeconfig_doc()["current-context"]

    def is_kind(self) -> bool:
        return self.context_name().startswith("kind-")

    def label(self) -> str:
        return f"kubeconfig context '{self.context_name()}'"

    def up(self, nodes: int | None = None, *, quiet: bool = False) -> None:
        if not self.ready():
            raise NotSupported(f"the cluster of context '{self.context_name()}' does not answer, and "
                               "labkit cannot start it: start it with its own tool (kind, k3d, …), "
                               "or use connect(backend='sandbox')")

    def down(self) -> None:
        raise NotSupported("labkit does not stop clusters it did not start: use the cluster's own tool")

    def kubeconfig_doc(self) -> dict:
        return kubeconfigs.minify(self.context)

    def kill_command(self, pod: dict, container: str) -> list[str]:
        """``docker exec <node> crictl stop --timeout 0 <id>`` on kind; NotSupported elsewhere."""
        if not self.is_kind():
            raise NotSupported(
                f"killing a container is not supported on this cluster (context "
                f"'{self.context_name()}'): labkit can reach containers only on the sandbox, minikube "
                "and kind. Instead, make the program fail, or delete the pod with lab.delete('pod', name)")
        node = (pod.get("spec") or {}).get("nodeName", "")
        _, cid = container_id(pod, container)
        return ["docker", "exec", node, "crictl", "stop", "--timeout", "0", cid]

    def kill_container(self, pod: dict, container: str, *, signal: str = "KILL") -> str:
        if signal.upper() not in ("KILL", "SIGKILL"):
            raise NotSupported("on kind labkit can only SIGKILL a container (crictl stop --timeout 0)")
        argv = self.kill_command(pod, container)
        if shutil.which("docker") is None:
            raise NotSupported("kind nodes are reached with `docker exec`, and docker is not installed here")
        run_tool(argv, timeout=60)
        meta = pod["metadata"]
        return f"killed container {container} of pod {meta['namespace']}/{meta['name']}: {' '.join(argv)}"

    def fail_node(self, node: str) -> str:
        if not self.is_kind():
            return super().fail_node(node)
        run_tool(["docker", "stop", node], timeout=120)
        return f"node {node} stopped (docker stop {node})"

    def recover_node(self, node: str) -> str:
        if not self.is_kind():
            return super().recover_node(node)
        run_tool(["docker", "start", node], timeout=120)
        return f"node {node} started again (docker start {node})"
