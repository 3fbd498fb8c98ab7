"""The command lines of the sandbox's components: real upstream binaries, real flags.

The flags follow kubeadm's static pod manifests, minus what needs a container
network, and with every listener on 127.0.0.1. The node agent (ours) is the
last component.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from . import pki as pki_mod
from .config import ClusterConfig
from .kubeconfig import write as write_kubeconfig

SERVICE_CIDR = "10.96.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class Component:
    """One process the supervisor runs."""

    name: str
    argv: list[str]


def prepare(cfg: ClusterConfig) -> pki_mod.ClusterPKI:
    """Create certs and the kubeconfigs every component and the admin use."""
    pki = pki_mod.ensure(cfg.pki_dir, cfg.nodes)
    common = dict(cluster=cfg.name, server=cfg.server, ca=pki.ca.cert)
    write_kubeconfig(cfg.kubeconfig, user=f"{cfg.name}-admin", client=pki.admin, **common)
    write_kubeconfig(cfg.pki_dir / "controller-manager.kubeconfig",
                     user="system:kube-controller-manager", client=pki.controller_manager, **common)
    write_kubeconfig(cfg.pki_dir / "scheduler.kubeconfig",
                     user="system:kube-scheduler", client=pki.scheduler, **common)
    for node, pair in pki.nodes.items():
        write_kubeconfig(cfg.pki_dir / f"{node}.kubeconfig",
                         user=f"system:node:{node}", client=pair, **common)
    return pki


def etcd(cfg: ClusterConfig, pki: pki_mod.ClusterPKI, binary: Path) -> Component:
    client = f"https://127.0.0.1:{cfg.ports.etcd_client}"
    peer = f"https://127.0.0.1:{cfg.ports.etcd_peer}"
    tls = pki.etcd_server
    return Component("etcd", [
        str(binary),
        "--name=labkit",
        f"--data-dir={cfg.dir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=labkit={peer}",
        f"--cert-file={tls.cert}", f"--key-file={tls.key}",
        f"--trusted-ca-file={pki.ca.cert}", "--client-cert-auth=true",
        f"--peer-cert-file={tls.cert}", f"--peer-key-file={tls.key}",
        f"--peer-trusted-ca-file={pki.ca.cert}", "--peer-client-cert-auth=true",
        # A laptop sandbox trades durability on power loss for fast writes;
        # a clean `labkit down` still keeps every object.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ])


def apiserver(cfg: ClusterConfig, pki: pki_mod.ClusterPKI, binary: Path) -> Component:
    return Component("kube-apiserver", [
        str(binary),
        "--advertise-address=127.0.0.1",
        "--bind-address=127.0.0.1",
        f"--secure-port={cfg.ports.apiserver}",
        f"--etcd-servers=https://127.0.0.1:{cfg.ports.etcd_client}",
        f"--etcd-cafile={pki.ca.cert}",
        f"--etcd-certfile={pki.apiserver_etcd_client.cert}",
        f"--etcd-keyfile={pki.apiserver_etcd_client.key}",
        f"--tls-cert-file={pki.apiserver.cert}",
        f"--tls-private-key-file={pki.apiserver.key}",
        f"--client-ca-file={pki.ca.cert}",
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        # The default plugins (ServiceAccount, LimitRanger, ...) stay on;
        # NodeRestriction is added as kubeadm does.
        "--enable-admission-plugins=NodeRestriction",
        f"--kubelet-client-certificate={pki.apiserver_kubelet_client.cert}",
        f"--kubelet-client-key={pki.apiserver_kubelet_client.key}",
        f"--kubelet-certificate-authority={pki.ca.cert}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        # Endpoints may not hold loopback addresses, so the `kubernetes`
        # Service keeps no endpoints rather than logging a failure each 10 s.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
    ])


def _client_and_serving(kubeconfig: Path, port: int) -> list[str]:
    """Flags the controller-manager and the scheduler share: identity, delegated auth, loopback port."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def controller_manager(cfg: ClusterConfig, pki: pki_mod.ClusterPKI, binary: Path) -> Component:
    return Component("kube-controller-manager", [
        str(binary),
        *_client_and_serving(cfg.pki_dir / "controller-manager.kubeconfig", cfg.ports.controller_manager),
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca.cert}",
        f"--cluster-signing-cert-file={pki.ca.cert}",
        f"--cluster-signing-key-file={pki.ca.key}",
        f"--cluster-name={cfg.name}",
        "--controllers=*",
        f"--node-monitor-grace-period={cfg.node_monitor_grace_period}",
        # One process on loopback: client-side throttling (20 qps by default) only
        # slows the start of the controllers, which each fetch their own credentials.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
    ])


def scheduler(cfg: ClusterConfig, pki: pki_mod.ClusterPKI, binary: Path) -> Component:
    return Component("kube-scheduler", [
        str(binary),
        *_client_and_serving(cfg.pki_dir / "scheduler.kubeconfig", cfg.ports.scheduler),
    ])


def node_agent(cfg: ClusterConfig) -> Component:
    return Component("node-agent", [sys.executable, "-m", "labkit.sandbox.node", str(cfg.dir)])


def components(cfg: ClusterConfig, pki: pki_mod.ClusterPKI, binaries: dict[str, Path]) -> list[Component]:
    """Start order; stop order is the reverse."""
    return [
        etcd(cfg, pki, binaries["etcd"]),
        apiserver(cfg, pki, binaries["kube-apiserver"]),
        controller_manager(cfg, pki, binaries["kube-controller-manager"]),
        scheduler(cfg, pki, binaries["kube-scheduler"]),
        node_agent(cfg),
    ]
