"""The sandbox's certificates and keys, made with ``cryptography`` (no openssl).

The layout mirrors kubeadm's so that anyone who knows ``/etc/kubernetes/pki``
finds their way: one cluster CA signs the apiserver's serving cert, etcd's
certs, each client (admin, controller-manager, scheduler, the apiserver's
kubelet client, one per node) and the nodes' kubelet serving cert. ECDSA P-256
keeps generation instant. Keys are written 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..paths import write_private

VALIDITY = dt.timedelta(days=3650)
LOCAL_IPS = ("127.0.0.1",)
#: The first address of the service CIDR: the in-cluster name of the API server.
SERVICE_IP = "10.96.0.1"
APISERVER_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class CertPair:
    """Paths of a certificate and its key."""

    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes]:
        return self.cert.read_bytes(), self.key.read_bytes()


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signing only; a CA also signs certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True, key_cert_sign=ca, crl_sign=ca,
        content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, encipher_only=False, decipher_only=False,
    )


def _name(common_name: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


class Authority:
    """The cluster CA: creates itself once, then signs leaf certificates."""

    def __init__(self, pki_dir: Path):
        self.dir = pki_dir
        self.pair = CertPair(pki_dir / "ca.crt", pki_dir / "ca.key")
        if not self.pair.cert.exists():
            self._create()
        self.cert = x509.load_pem_x509_certificate(self.pair.cert.read_bytes())
        self.key = serialization.load_pem_private_key(self.pair.key.read_bytes(), None)

    def _create(self) -> None:
        key = _new_key()
        name = _name("labkit-ca")
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private(self.pair.key, _key_pem(key))
        self.pair.cert.parent.mkdir(parents=True, exist_ok=True)
        self.pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        stem: str,
        common_name: str,
        *,
        orgs: tuple[str, ...] = (),
        server: bool = False,
        client: bool = False,
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
    ) -> CertPair:
        """Sign a leaf cert (once: an existing pair is kept) and return its paths."""
        pair = CertPair(self.dir / f"{stem}.crt", self.dir / f"{stem}.key")
        if pair.cert.exists() and pair.key.exists():
            return pair
        key = _new_key()
        now = dt.datetime.now(dt.timezone.utc)
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, orgs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.cert.public_key()),
                critical=False,
            )
        )
        if dns or ips:
            names = [x509.DNSName(d) for d in dns]
            names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        write_private(pair.key, _key_pem(key))
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return pair


@dataclass(frozen=True)
class ClusterPKI:
    """Every cert the sandbox uses, by role."""

    ca: CertPair
    apiserver: CertPair
    apiserver_kubelet_client: CertPair
    apiserver_etcd_client: CertPair
    etcd_server: CertPair
    admin: CertPair
    controller_manager: CertPair
    scheduler: CertPair
    kubelet_serving: CertPair
    sa_key: Path
    sa_pub: Path
    nodes: dict[str, CertPair]


def node_name(index: int) -> str:
    """Nodes are ``labkit-node-1..K``."""
    return f"labkit-node-{index}"


def ensure(pki_dir: Path, node_count: int) -> ClusterPKI:
    """Create what is missing under ``pki_dir`` and return all the paths."""
    ca = Authority(pki_dir)
    local = dict(ips=LOCAL_IPS, dns=("localhost",))
    sa_key, sa_pub = pki_dir / "sa.key", pki_dir / "sa.pub"
    if not sa_key.exists():
        key = _new_key()
        write_private(sa_key, _key_pem(key))
        sa_pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return ClusterPKI(
        ca=ca.pair,
        apiserver=ca.issue(
            "apiserver", "kube-apiserver", server=True,
            dns=APISERVER_DNS, ips=LOCAL_IPS + (SERVICE_IP,),
        ),
        apiserver_kubelet_client=ca.issue(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
            orgs=("system:masters",), client=True,
        ),
        apiserver_etcd_client=ca.issue(
            "apiserver-etcd-client", "kube-apiserver-etcd-client", client=True
        ),
        etcd_server=ca.issue("etcd-server", "labkit-etcd", server=True, client=True, **local),
        admin=ca.issue("admin", "kubernetes-admin", orgs=("system:masters",), client=True),
        controller_manager=ca.issue(
            "controller-manager", "system:kube-controller-manager", client=True
        ),
        scheduler=ca.issue("scheduler", "system:kube-scheduler", client=True),
        kubelet_serving=ca.issue("kubelet-serving", "labkit-kubelet", server=True, **local),
        sa_key=sa_key,
        sa_pub=sa_pub,
        nodes={
            node_name(i): ca.issue(
                f"node-{node_name(i)}", f"system:node:{node_name(i)}",
                orgs=("system:nodes",), client=True,
            )
            for i in range(1, node_count + 1)
        },
    )
