"""Kubeconfig files for the sandbox's users, written 0600 with embedded certs.

Certs are embedded (not referenced by path) so a kubeconfig keeps working
when copied, e.g. into a JupyterLab terminal's environment or another user's
home during a workshop.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from ..paths import write_private
from .pki import CertPair


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def render(*, cluster: str, server: str, ca: Path, user: str, client: CertPair,
           namespace: str | None = None) -> str:
    """The YAML text of a one-context kubeconfig."""
    context: dict = {"cluster": cluster, "user": user}
    if namespace:
        context["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {
            "server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": _b64(client.cert),
            "client-key-data": _b64(client.key)}}],
        "contexts": [{"name": cluster, "context": context}],
        "current-context": cluster,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write(path: Path, **kwargs) -> Path:
    """Render and write a kubeconfig with mode 0600."""
    write_private(path, render(**kwargs))
    return path
