"""Failure injection on the sandbox: kill a container, crash a node, bring it back.

These are the sandbox's equivalents of ``docker kill`` inside minikube and of
pulling a machine's power cord. They go through the node agent's control
socket (``<state>/nodes/agent.sock``, mode 0600), so only the cluster's owner
can use them.
"""

from __future__ import annotations

import os

from .errors import ClusterNotRunning, LabkitError
from .sandbox.cluster import Sandbox
from .sandbox.config import DEFAULT_NAME
from .sandbox.node.server import control_request


def _control(cluster: str, request: dict) -> dict:
    sandbox = Sandbox(cluster)
    sandbox.require_running()
    sock = sandbox.dir / "nodes" / "agent.sock"
    try:
        answer = control_request(sock, request)
    except OSError as e:
        raise ClusterNotRunning(
            f"The node agent of sandbox '{cluster}' does not answer ({e}). "
            f"Check `labkit status --name {cluster}` and `labkit logs node-agent`."
        ) from e
    if not answer.get("ok"):
        raise LabkitError(answer.get("error", "the node agent refused the request"))
    return answer["result"]


def _current_namespace() -> str:
    return os.environ.get("LABKIT_NAMESPACE", "default")


def kill(pod: str, *, namespace: str | None = None, container: str | None = None,
         signal_name: str = "KILL", cluster: str = DEFAULT_NAME) -> str:
    """Send a signal to a pod's container process (default SIGKILL → exit code 137).

    Examples
    --------
    >>> kill("test-job", namespace="lab-03")  # doctest: +SKIP
    'killed container long-job of pod lab-03/test-job (pid 4242) with SIGKILL'
    """
    ns = namespace or _current_namespace()
    result = _control(cluster, {"op": "kill", "namespace": ns, "pod": pod,
                                "container": container, "signal": signal_name})
    if not result.get("delivered", True):
        return (f"sent {result['signal']} to container {result['container']} of pod {ns}/{pod} "
                f"(pid {result['pid']}): no effect, its main process does not handle that signal "
                "(as PID 1 in a container, it ignores it)")
    return (f"killed container {result['container']} of pod {ns}/{pod} "
            f"(pid {result['pid']}) with {result['signal']}")


def fail_node(node: str, *, cluster: str = DEFAULT_NAME) -> str:
    """Crash a node: heartbeats stop, its container processes die, its kubelet API goes dark."""
    result = _control(cluster, {"op": "fail", "node": node})
    if not result.get("changed"):
        return f"node {node} was already failed"
    return (f"node {node} crashed: {result.get('killed', 0)} container process(es) killed, "
            "heartbeats stopped (the node controller marks it NotReady after its grace period)")


def recover_node(node: str, *, cluster: str = DEFAULT_NAME) -> str:
    """Boot a failed node again: it re-registers and reports lost containers like a rebooted kubelet."""
    result = _control(cluster, {"op": "recover", "node": node})
    if not result.get("changed"):
        return f"node {node} was not failed"
    return f"node {node} is back: heartbeats resumed"
