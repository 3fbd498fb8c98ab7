"""Nodes: registration, leases, and a node crash seen by the real node lifecycle controller."""

from __future__ import annotations

import pytest

from labkit import faults

from ..conftest import wait_for


def test_nodes_are_registered_like_kubelets(core, kube, sandbox):
    from kubernetes import client

    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert set(sandbox.config().node_names()) <= set(nodes)
    node = nodes["labkit-node-1"]
    info = node.status.node_info
    # The control plane's own version, whichever binaries run it (built, LABKIT_K8S_BIN or PATH).
    assert info.kubelet_version == client.VersionApi(kube).get_code().git_version == "v1.37.2"
    assert info.container_runtime_version.startswith("labkit://")
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses == {"InternalIP": "127.0.0.1", "Hostname": "labkit-node-1"}
    conditions = {c.type: c.status for c in node.status.conditions}
    assert conditions == {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False",
                          "PIDPressure": "False"}
    assert {"cpu", "memory", "pods"} <= set(node.status.allocatable)
    ports = {n.status.daemon_endpoints.kubelet_endpoint.port for n in nodes.values()
             if n.metadata.name.startswith("labkit-node-")}
    assert len(ports) == len(sandbox.config().node_names())


def test_each_node_renews_its_lease(kube, sandbox):
    from kubernetes import client

    coord = client.CoordinationV1Api(kube)
    first = coord.read_namespaced_lease("labkit-node-1", "kube-node-lease")
    assert first.spec.holder_identity == "labkit-node-1"
    assert first.metadata.owner_references[0].kind == "Node"
    wait_for(lambda: coord.read_namespaced_lease("labkit-node-1", "kube-node-lease").spec.renew_time
             > first.spec.renew_time, timeout=25, interval=1, what="a lease renewal (every 10 s)")


@pytest.mark.slow
def test_a_failed_node_under_a_running_job_goes_notready_and_its_pod_counts_as_failed(core, batch, namespace,
                                                                                     sandbox):
    node = "labkit-node-2"
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "victim"},
        "spec": {"backoffLimit": 1, "template": {"spec": {
            "nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "600"]}]}}}})

    def job_pods():
        return core.list_namespaced_pod(namespace, label_selector="batch.kubernetes.io/job-name=victim").items
    wait_for(lambda: [p.status.phase for p in job_pods()] == ["Running"], what="the Job's pod running")
    first = job_pods()[0].metadata.name
    try:
        message = faults.fail_node(node, cluster=sandbox.name)
        assert "crashed" in message

        def ready_status():
            conds = {c.type: c for c in core.read_node(node).status.conditions}
            return conds["Ready"].status
        wait_for(lambda: ready_status() == "Unknown", timeout=90, interval=1,
                 what="the node controller to mark the node NotReady (Unknown)")
        taints = {t.key for t in core.read_node(node).spec.taints or []}
        assert "node.kubernetes.io/unreachable" in taints
    finally:
        faults.recover_node(node, cluster=sandbox.name)
    wait_for(lambda: {c.type: c.status for c in core.read_node(node).status.conditions}["Ready"] == "True",
             timeout=60, interval=1, what="the node Ready again")
    # Back from the "reboot", the lost container is reported as the kubelet reports it...
    term = wait_for(lambda: core.read_namespaced_pod(first, namespace).status.container_statuses[0].state.terminated,
                    timeout=30, what="the lost container reported")
    assert (term.exit_code, term.reason) == (137, "ContainerStatusUnknown")
    assert core.read_namespaced_pod(first, namespace).status.phase == "Failed"
    # ...and the Job controller counts it as a failure and replaces it.
    wait_for(lambda: batch.read_namespaced_job("victim", namespace).status.failed == 1, timeout=30,
             what="the Job to count one failed pod")
    wait_for(lambda: len(job_pods()) == 2, timeout=30, what="a replacement pod")
