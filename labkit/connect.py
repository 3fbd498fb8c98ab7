"""``labkit.connect()``: find (or start) a cluster and point this kernel at it.

``backend="auto"`` picks, in order: a running sandbox, a running minikube, the
current kubeconfig context if it answers, else it starts the sandbox. The
chosen cluster's kubeconfig becomes ``$KUBECONFIG`` for this process, so
``!kubectl`` cells and JupyterLab terminals opened afterwards use it too.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import backends, kubeconfigs
from .backends.base import Backend
from .client import Api
from .errors import LabkitError
from .paths import state_root

__all__ = ["Connection", "connect", "current"]

_current: "Connection | None" = None


class Connection:
    """A cluster labkit talks to.

    Attributes
    ----------
    backend : str
        ``"sandbox"``, ``"minikube"`` or ``"kubeconfig"``.
    kubeconfig : pathlib.Path
        The file ``$KUBECONFIG`` now points at.
    context : str
        The kubeconfig context in that file.
    server : str
        The API server's URL.

    Examples
    --------
    >>> conn = labkit.connect(quiet=True)  # doctest: +SKIP
    >>> conn.backend, conn.nodes()  # doctest: +SKIP
    ('sandbox', ['labkit-node-1', 'labkit-node-2'])
    """

    def __init__(self, impl: Backend, kubeconfig: Path, doc: dict):
        self.impl = impl
        self.backend = impl.name
        self.kubeconfig = Path(kubeconfig)
        self.context = doc["current-context"]
        self.server = kubeconfigs.server_of(doc)
        self.api = Api(self.kubeconfig, self.context)

    def nodes(self) -> list[str]:
        """The cluster's node names.

        Examples
        --------
        >>> labkit.connect(quiet=True).nodes()  # doctest: +SKIP
        ['labkit-node-1', 'labkit-node-2']
        """
        return sorted(n.metadata.name for n in self.api.core.list_node().items)

    def node_runtime(self, node: str) -> str:
        """The node's ``containerRuntimeVersion``, e.g. ``containerd://1.7.24``."""
        return self.api.core.read_node(node).status.node_info.container_runtime_version

    def describe(self) -> str:
        """One plain line: backend, Kubernetes version, node count.

        Examples
        --------
        >>> labkit.connect(quiet=True).describe()  # doctest: +SKIP
        'sandbox: Kubernetes v1.37.2, 2 nodes'
        """
        count = len(self.nodes())
        return (f"{self.impl.label()}: Kubernetes {self.api.server_version()}, "
                f"{count} node{'s' if count != 1 else ''}")

    def __repr__(self) -> str:
        return f"<Connection {self.backend} context={self.context!r} server={self.server}>"


def _sandbox_serving(doc: dict) -> Backend | None:
    """The running sandbox whose API server a kubeconfig points at, if any."""
    from .sandbox.cluster import Sandbox

    server = kubeconfigs.server_of(doc)
    root = state_root()
    if not root.is_dir():
        return None
    for folder in sorted(root.iterdir()):
        if not (folder / "config.json").is_file():
            continue
        try:
            box = Sandbox(folder.name)
            cfg = box.config()
        except LabkitError:
            continue
        if cfg is not None and cfg.server == server and box.running():
            return backends.get("sandbox", cluster=folder.name)
    return None


def _choose(backend: str, *, name: str | None, context: str | None) -> Backend:
    """The backend to use; for "auto", the first cluster that is already running."""
    if backend != "auto":
        options = {"sandbox": {"cluster": name}, "kubeconfig": {"context": context}}.get(backend, {})
        return backends.get(backend, **options)
    sandbox = backends.get("sandbox", cluster=name)
    if sandbox.ready():
        return sandbox
    minikube = backends.get("minikube")
    if minikube.available() and minikube.ready():
        return minikube
    kube = backends.get("kubeconfig", context=context)
    if kube.available() and kube.ready():
        return kube
    return sandbox


def connect(backend: str = "auto", *, nodes: int | None = None, quiet: bool = False,
            name: str | None = None, context: str | None = None) -> Connection:
    """Connect to a cluster (starting the sandbox if nothing is running) and make it this kernel's.

    Parameters
    ----------
    backend : {"auto", "sandbox", "minikube", "kubeconfig"}
        Where the cluster runs. ``"auto"`` takes the first running one of
        sandbox, minikube and the current kubeconfig context, else starts the sandbox.
    nodes : int, optional
        Node count when a cluster has to be started.
    quiet : bool
        Do not print the one-line description.
    name : str, optional
        Sandbox cluster name (default ``$LABKIT_CLUSTER`` or ``labkit``).
    context : str, optional
        Kubeconfig context for the ``kubeconfig`` backend (default: current).

    Returns
    -------
    Connection

    Examples
    --------
    >>> conn = labkit.connect()  # doctest: +SKIP
    sandbox: Kubernetes v1.37.2, 1 node
    >>> conn.backend  # doctest: +SKIP
    'sandbox'
    """
    global _current
    impl = _choose(backend, name=name, context=context)
    if impl.name == "kubeconfig":
        # A kubeconfig pointing at a running sandbox gets the sandbox's powers (kill, node crash).
        impl = _sandbox_serving(impl.kubeconfig_doc()) or impl
    if not impl.ready():
        impl.up(nodes, quiet=quiet)
    if impl.name == "sandbox":
        path = impl.kubeconfig_path()
        doc = kubeconfigs.read(path)
    else:
        doc = impl.kubeconfig_doc()
        path = kubeconfigs.write_copy(doc, f"{impl.name}-{doc['current-context']}")
    os.environ["KUBECONFIG"] = str(path)
    conn = Connection(impl, path, doc)
    if impl.name == "minikube":
        impl.node_runtime = conn.node_runtime
    _current = conn
    if not quiet:
        print(conn.describe())
    return conn


def current() -> Connection:
    """The kernel's connection, connecting with ``backend="auto"`` on first use."""
    return _current if _current is not None else connect(quiet=True)
