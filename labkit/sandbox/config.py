"""A sandbox cluster's on-disk layout and settings (``config.json``).

Everything about one cluster lives in its state folder::

    <state>/config.json        ports, node count, cluster id (this module)
    <state>/state.json         what the supervisor is running right now
    <state>/pki/               certs and keys (0600)
    <state>/kubeconfig         the admin kubeconfig (0600)
    <state>/etcd/              etcd's data: objects survive `labkit down`
    <state>/logs/<component>.log
    <state>/nodes/<node>/      the node agent's pods, logs and scratch dirs
"""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ClusterStateCorrupt
from ..paths import cluster_dir

DEFAULT_NAME = "labkit"


@dataclass
class Ports:
    """Every port the sandbox listens on, all on 127.0.0.1."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kubelets: list[int]

    def all(self) -> list[int]:
        return [self.etcd_client, self.etcd_peer, self.apiserver,
                self.controller_manager, self.scheduler, *self.kubelets]


@dataclass
class ClusterConfig:
    """The settings that stay fixed across `labkit down` / `labkit up`."""

    name: str
    id: str
    nodes: int
    ports: Ports
    node_monitor_grace_period: str = "40s"
    extra: dict = field(default_factory=dict)

    # -- layout ---------------------------------------------------------------
    @property
    def dir(self) -> Path:
        return cluster_dir(self.name)

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def pki_dir(self) -> Path:
        return self.dir / "pki"

    @property
    def logs_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def node_names(self) -> list[str]:
        return [f"labkit-node-{i}" for i in range(1, self.nodes + 1)]

    # -- persistence -----------------------------------------------------------
    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "config.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.dir / "config.json")

    @classmethod
    def load(cls, name: str) -> "ClusterConfig | None":
        """The saved config, None if the cluster was never created."""
        path = cluster_dir(name) / "config.json"
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text())
            raw["ports"] = Ports(**raw["ports"])
            return cls(**raw)
        except (ValueError, TypeError, KeyError) as e:
            raise ClusterStateCorrupt(
                f"The state of sandbox cluster '{name}' in {path.parent} is unreadable ({e}).\n"
                f"Remove it and start afresh with: labkit down --name {name} --purge && labkit up"
            ) from e

    @classmethod
    def create(cls, name: str, nodes: int) -> "ClusterConfig":
        cfg = cls(name=name, id=uuid.uuid4().hex[:12], nodes=nodes,
                  ports=Ports(0, 0, 0, 0, 0, []))
        cfg.ports = pick_ports(nodes)
        return cfg


def port_free(port: int) -> bool:
    """Can we bind 127.0.0.1:port right now?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(avoid: set[int] = frozenset()) -> int:
    """A port the kernel says is free on 127.0.0.1, not in ``avoid``."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def pick_ports(nodes: int, previous: Ports | None = None) -> Ports:
    """Keep previous ports that are still free (stable kubeconfigs); replace busy ones."""
    taken: set[int] = set()

    def keep_or_pick(old: int | None) -> int:
        port = old if old and old not in taken and port_free(old) else free_port(taken)
        taken.add(port)
        return port

    prev = previous
    kubelets_prev = list(prev.kubelets) if prev else []
    kubelets_prev += [None] * (nodes - len(kubelets_prev))
    return Ports(
        etcd_client=keep_or_pick(prev and prev.etcd_client),
        etcd_peer=keep_or_pick(prev and prev.etcd_peer),
        apiserver=keep_or_pick(prev and prev.apiserver),
        controller_manager=keep_or_pick(prev and prev.controller_manager),
        scheduler=keep_or_pick(prev and prev.scheduler),
        kubelets=[keep_or_pick(p) for p in kubelets_prev[:nodes]],
    )
