"""The sandbox is locked down like a real cluster: TLS, authentication, loopback only, 0600 secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from labkit.sandbox import health, procs
from labkit.sandbox.pki import Authority


def test_the_api_refuses_anonymous_requests(sandbox):
    cfg = sandbox.config()
    ctx = health.tls_context(cfg.pki_dir / "ca.crt")
    status, body = health.get(cfg.ports.apiserver, "/api/v1/namespaces", ctx)
    assert status == 401, body


def test_the_api_refuses_a_client_cert_from_another_ca(sandbox, tmp_path):
    other = Authority(tmp_path / "other-pki")
    pair = other.issue("intruder", "intruder", orgs=("system:masters",), client=True)
    cfg = sandbox.config()
    ctx = health.tls_context(cfg.pki_dir / "ca.crt", pair.cert, pair.key)
    status, _ = health.get(cfg.ports.apiserver, "/api/v1/namespaces", ctx)
    assert status == 401


def test_the_api_serves_the_admin(sandbox):
    cfg = sandbox.config()
    ctx = health.tls_context(cfg.pki_dir / "ca.crt", cfg.pki_dir / "admin.crt", cfg.pki_dir / "admin.key")
    assert health.get(cfg.ports.apiserver, "/api/v1/namespaces", ctx)[0] == 200


def test_a_node_may_not_read_what_is_not_its_own(sandbox):
    """The Node authorizer applies to the agent's identity."""
    cfg = sandbox.config()
    node = cfg.node_names()[0]
    ctx = health.tls_context(cfg.pki_dir / "ca.crt", cfg.pki_dir / f"node-{node}.crt",
                             cfg.pki_dir / f"node-{node}.key")
    assert health.get(cfg.ports.apiserver, f"/api/v1/nodes/{node}", ctx)[0] == 200
    status, _ = health.get(cfg.ports.apiserver, "/api/v1/namespaces/kube-system/secrets", ctx)
    assert status == 403


def test_the_kubelet_api_requires_the_apiserver_client_cert(sandbox):
    cfg = sandbox.config()
    port = cfg.ports.kubelets[0]
    nobody = health.tls_context(cfg.pki_dir / "ca.crt")
    status, _ = health.get(port, "/pods", nobody)
    assert status == 0  # the TLS handshake itself is refused
    node = cfg.node_names()[0]
    as_node = health.tls_context(cfg.pki_dir / "ca.crt", cfg.pki_dir / f"node-{node}.crt",
                                 cfg.pki_dir / f"node-{node}.key")
    assert health.get(port, "/pods", as_node)[0] == 403
    apiserver = health.tls_context(cfg.pki_dir / "ca.crt", cfg.pki_dir / "apiserver-kubelet-client.crt",
                                   cfg.pki_dir / "apiserver-kubelet-client.key")
    assert health.get(port, "/pods", apiserver)[0] == 200


def _listening_sockets() -> dict[str, tuple[str, int]]:
    """inode -> (address, port) of every listening TCP socket (IPv4 and IPv6)."""
    found = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A":  # LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            if width == 8:
                addr = ".".join(str(int(addr_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                addr = "::1" if addr_hex.endswith("01000000") and set(addr_hex[:24]) == {"0"} else addr_hex
            found[inode] = (addr, int(port_hex, 16))
    return found


def test_nothing_listens_beyond_loopback(sandbox):
    listening = _listening_sockets()
    cluster_id = sandbox.config().id
    pids = set(procs.marked(cluster_id)) | {sandbox.supervisor_pid()}
    seen = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = target[8:-1]
                if inode in listening:
                    seen.append((pid, *listening[inode]))
    assert seen, "found no listening sockets at all: the scan is broken"
    assert {addr for _, addr, _ in seen} <= {"127.0.0.1", "::1"}, seen
    ports = {port for _, _, port in seen}
    assert sandbox.config().ports.apiserver in ports


def test_keys_and_kubeconfigs_are_private(sandbox):
    secret_files = list(sandbox.config().pki_dir.glob("*.key")) + \
        list(sandbox.config().pki_dir.glob("*.kubeconfig")) + [sandbox.kubeconfig]
    assert len(secret_files) > 8
    for path in secret_files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path} has mode {oct(mode)}"
    sock = sandbox.dir / "nodes" / "agent.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
