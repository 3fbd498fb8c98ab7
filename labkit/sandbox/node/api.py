"""The node agent's API access: the official client, raw JSON, one identity per node.

Each node talks with its own client certificate (``system:node:<name>``), so
the Node authorizer and the NodeRestriction admission plugin judge it exactly
as they judge a kubelet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines


class NodeClient:
    """Thin JSON-in/JSON-out wrapper over the official client for one node identity."""

    def __init__(self, server: str, pki_dir: Path, node: str):
        # Certificates are read from the cluster's PKI folder, not from temporary
        # copies as the kubeconfig loader makes: those can vanish under a long-lived agent.
        cfg = client.Configuration()
        cfg.host = server
        cfg.ssl_ca_cert = str(pki_dir / "ca.crt")
        cfg.cert_file = str(pki_dir / f"node-{node}.crt")
        cfg.key_file = str(pki_dir / f"node-{node}.key")
        cfg.verify_ssl = True
        cfg.connection_pool_maxsize = 8
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)
        self.coord = client.CoordinationV1Api(self.api)

    @staticmethod
    def _json(resp) -> dict:
        return json.loads(resp.data)

    # -- pods ------------------------------------------------------------------------
    def list_pods(self, node: str) -> dict:
        return self._json(self.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={node}", _preload_content=False))

    def watch_pods(self, node: str, resource_version: str, timeout: int = 240) -> Iterator[dict]:
        resp = self.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={node}", watch=True,
            resource_version=resource_version, allow_watch_bookmarks=True,
            timeout_seconds=timeout, _preload_content=False, _request_timeout=(5, timeout + 30))
        try:
            for line in iter_resp_lines(resp):
                if line:
                    yield json.loads(line)
        finally:
            resp.release_conn()

    def patch_pod_status(self, namespace: str, name: str, uid: str, status: dict) -> None:
        # metadata.uid makes the patch fail rather than touch a re-created namesake.
        self.core.patch_namespaced_pod_status(
            name, namespace, {"metadata": {"uid": uid}, "status": status}, _preload_content=False)

    def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        self.core.delete_namespaced_pod(
            name, namespace, body={"gracePeriodSeconds": 0, "preconditions": {"uid": uid}},
            _preload_content=False)

    def read(self, kind: str, namespace: str, name: str) -> dict:
        reader = {"configmap": self.core.read_namespaced_config_map,
                  "secret": self.core.read_namespaced_secret}[kind]
        return self._json(reader(name, namespace, _preload_content=False))

    def server_version(self) -> str:
        """The control plane's gitVersion (``v1.37.2``): a kubelet reports its own, the same."""
        return client.VersionApi(self.api).get_code().git_version

    # -- nodes and leases ----------------------------------------------------------------
    def create_node(self, body: dict) -> dict:
        return self._json(self.core.create_node(body, _preload_content=False))

    def read_node(self, name: str) -> dict:
        return self._json(self.core.read_node(name, _preload_content=False))

    def patch_node(self, name: str, body: dict) -> dict:
        return self._json(self.core.patch_node(name, body, _preload_content=False))

    def patch_node_status(self, name: str, status: dict) -> None:
        self.core.patch_node_status(name, {"status": status}, _preload_content=False)

    def renew_lease(self, node: str, body: dict) -> None:
        """Create the node's Lease, or update it with its current resourceVersion."""
        current = self.read_lease(node)
        if current is None:
            self.coord.create_namespaced_lease("kube-node-lease", body, _preload_content=False)
            return
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        self.coord.replace_namespaced_lease(node, "kube-node-lease", body, _preload_content=False)

    def read_lease(self, node: str) -> dict | None:
        try:
            return self._json(self.coord.read_namespaced_lease(node, "kube-node-lease",
                                                               _preload_content=False))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    # -- events --------------------------------------------------------------------------
    def create_event(self, namespace: str, body: dict) -> dict:
        return self._json(self.core.create_namespaced_event(namespace, body, _preload_content=False))

    def patch_event(self, namespace: str, name: str, body: dict) -> None:
        self.core.patch_namespaced_event(name, namespace, body, _preload_content=False)


__all__ = ["ApiException", "NodeClient"]
