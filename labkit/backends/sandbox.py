"""The embedded sandbox cluster (labkit.sandbox) as a backend.

Container kills and node crashes go through the sandbox's node agent
(:mod:`labkit.faults`), the sandbox's equivalent of ``docker kill`` and of
pulling a machine's power cord.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import faults, kubeconfigs
from ..progress import Progress
from ..sandbox.cluster import Sandbox
from ..sandbox.config import DEFAULT_NAME
from .base import Backend, register


@register
class SandboxBackend(Backend):
    """The embedded cluster named ``name`` (default: ``$LABKIT_CLUSTER`` or ``labkit``)."""

    name = "sandbox"

    def __init__(self, cluster: str | None = None):
        self.cluster = cluster or os.environ.get("LABKIT_CLUSTER") or DEFAULT_NAME

    def _box(self, quiet: bool = False) -> Sandbox:
        return Sandbox(self.cluster, progress=Progress(quiet=quiet))

    def available(self) -> bool:
        return True  # binaries are built on first use when missing

    def ready(self) -> bool:
        return self._box(quiet=True).running()

    def up(self, nodes: int | None = None, *, quiet: bool = False) -> None:
        self._box(quiet).up(nodes)

    def down(self) -> None:
        self._box(quiet=True).down()

    def kubeconfig_path(self) -> Path:
        return self._box(quiet=True).kubeconfig

    def kubeconfig_doc(self) -> dict:
        return kubeconfigs.read(self.kubeconfig_path())

    def label(self) -> str:
        return "sandbox" if self.cluster == DEFAULT_NAME else f"sandbox '{self.cluster}'"

    def kill_container(self, pod: dict, container: str, *, signal: str = "KILL") -> str:
        meta = pod["metadata"]
        return faults.kill(meta["name"], namespace=meta["namespace"], container=container,
                           signal_name=signal, cluster=self.cluster)

    def fail_node(self, node: str) -> str:
        return faults.fail_node(node, cluster=self.cluster)

    def recover_node(self, node: str) -> str:
        return faults.recover_node(node, cluster=self.cluster)
