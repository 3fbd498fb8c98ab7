"""The one interface every cluster backend implements, and the registry of backends.

Modelled on kwok's runtime interface: lifecycle (``available``, ``ready``,
``up``, ``down``), where to connect (``kubeconfig_doc``), and the failure
injections a lesson needs (``kill_container``, ``fail_node``,
``recover_node``). A backend that cannot do something raises
:class:`~labkit.errors.NotSupported` with a message that says what to do instead.
"""

from __future__ import annotations

import shutil
import subprocess
from abc import ABC, abstractmethod

from ..errors import LabkitError, NotSupported

_REGISTRY: dict[str, type["Backend"]] = {}


class Backend(ABC):
    """A place where a cluster runs."""

    name: str = ""

    @abstractmethod
    def available(self) -> bool:
        """Can this backend be used on this machine at all (its tool is installed)?"""

    @abstractmethod
    def ready(self) -> bool:
        """Is the cluster running and answering?"""

    @abstractmethod
    def up(self, nodes: int | None = None, *, quiet: bool = False) -> None:
        """Start the cluster, or return quietly if it is already running."""

    @abstractmethod
    def down(self) -> None:
        """Stop the cluster; quiet if it is already stopped."""

    @abstractmethod
    def kubeconfig_doc(self) -> dict:
        """A one-context kubeconfig (dict) for this cluster."""

    def label(self) -> str:
        """How :meth:`Connection.describe` names the backend."""
        return self.name

    @abstractmethod
    def kill_container(self, pod: dict, container: str, *, signal: str = "KILL") -> str:
        """Kill one running container of ``pod`` (a pod dict); say what was done."""

    def fail_node(self, node: str) -> str:
        """Simulate a node crash."""
        raise NotSupported(f"the {self.name} backend cannot crash node {node}")

    def recover_node(self, node: str) -> str:
        """Bring a crashed node back."""
        raise NotSupported(f"the {self.name} backend cannot recover node {node}")


def register(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make a backend available to ``connect(backend=cls.name)``."""
    _REGISTRY[cls.name] = cls
    return cls


def get(name: str, **options) -> Backend:
    """An instance of the backend called ``name``."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise LabkitError(f"unknown backend '{name}': choose one of "
                          f"{', '.join(sorted(_REGISTRY))} or 'auto'") from None
    return cls(**options)


def available_backends() -> list[str]:
    """Names of the registered backends."""
    return sorted(_REGISTRY)


def run_tool(argv: list[str], *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """Run a CLI tool (minikube, docker), turning failures into errors that show its output."""
    exe = shutil.which(argv[0])
    if exe is None:
        raise NotSupported(f"`{argv[0]}` is not installed or not on PATH")
    try:
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise LabkitError(f"`{' '.join(argv)}` did not finish within {timeout:.0f}s") from e
    if check and proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        raise LabkitError(f"`{' '.join(argv)}` failed (exit {proc.returncode}): {output}")
    return proc


def container_id(pod: dict, container: str) -> tuple[str, str]:
    """(runtime, id) of a running container from the pod's status, e.g. ``("docker", "3f2a…")``."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container and cs.get("containerID"):
            runtime, _, cid = cs["containerID"].partition("://")
            return runtime, cid
    meta = pod.get("metadata") or {}
    raise LabkitError(f'container "{container}" of pod {meta.get("namespace")}/{meta.get("name")} '
                      "has no container ID yet: wait until it is running")
