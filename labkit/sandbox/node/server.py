"""The node's two doors: the kubelet API over HTTPS, and labkit's control socket.

The kubelet API (one port per node, 127.0.0.1, TLS with the cluster CA, client
certificate required) serves what ``kubectl logs`` needs via the apiserver:
``/containerLogs/{ns}/{pod}/{container}`` and ``/healthz``. Only the
apiserver's kubelet client (or a ``system:masters`` cert) may call it.

The control socket (``nodes/agent.sock``, mode 0600) takes labkit's fault
injections: it is to the sandbox what the Docker socket is to minikube.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlparse

from . import logs

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent, Node

ALLOWED_CLIENTS = {"kube-apiserver-kubelet-client"}
ALLOWED_GROUPS = {"system:masters"}
UNSUPPORTED = {"exec": "kubectl exec", "attach": "kubectl attach", "portForward": "kubectl port-forward",
               "run": "kubectl exec", "cri": "kubectl exec"}
UNSUPPORTED_MESSAGE = (
    "{what} is not available in the labkit sandbox: its containers are local processes without a "
    "container runtime. Use `kubectl logs`, `labkit kill`, or run the course on minikube for this.\n"
)


class KubeletServer:
    """HTTPS kubelet API of one node."""

    def __init__(self, agent: "Agent", node: "Node"):
        self.agent = agent
        self.node = node
        pki = agent.cfg.pki_dir
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pki / "kubelet-serving.crt"), str(pki / "kubelet-serving.key"))
        ctx.load_verify_locations(str(pki / "ca.crt"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        handler = type("Handler", (_KubeletHandler,), {"agent": agent, "node": node})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", node.port), handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"kubelet-{node.name}",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _KubeletHandler(BaseHTTPRequestHandler):
    agent: "Agent"
    node: "Node"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _allowed(self) -> bool:
        cert = self.connection.getpeercert() or {}
        subject = {k: v for rdn in cert.get("subject", ()) for k, v in rdn}
        orgs = {v for rdn in cert.get("subject", ()) for k, v in rdn if k == "organizationName"}
        return subject.get("commonName") in ALLOWED_CLIENTS or bool(orgs & ALLOWED_GROUPS)

    def _reply(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 - exec/attach/port-forward arrive as POST upgrades
        url = urlparse(self.path)
        first = url.path.strip("/").split("/")[0]
        if not self._allowed():
            return self._reply(403, b"Forbidden: only the API server may use the kubelet API\n")
        what = UNSUPPORTED.get(first, url.path)
        return self._reply(400, UNSUPPORTED_MESSAGE.format(what=what).encode())

    def do_GET(self):  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        if url.path == "/healthz":
            return self._reply(200, b"ok")
        if not self._allowed():
            return self._reply(403, b"Forbidden: only the API server may use the kubelet API\n")
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts[0] == "containerLogs" and len(parts) == 4:
            return self._logs(parts[1], parts[2], parts[3], parse_qs(url.query))
        if parts[0] in UNSUPPORTED:
            return self._reply(400, UNSUPPORTED_MESSAGE.format(what=UNSUPPORTED[parts[0]]).encode())
        if parts == ["pods"]:
            body = json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [
                w.pod for w in list(self.node.workers.values())]}).encode()
            return self._reply(200, body, "application/json")
        return self._reply(404, b"404 page not found\n")

    def _logs(self, namespace: str, pod: str, container: str, query: dict) -> None:
        worker = next((w for w in list(self.node.workers.values())
                       if w.namespace == namespace and w.name == pod), None)
        if worker is None:
            return self._reply(404, f'pod "{pod}" not found on node {self.node.name}\n'.encode())
        c = worker.container(container)
        if c is None:
            return self._reply(404, f'container "{container}" in pod "{pod}" not found\n'.encode())
        previous = query.get("previous", ["false"])[0] in ("true", "1")
        try:
            path, running = _log_source(c, pod, previous)
        except LookupError as e:
            return self._reply(400, f"{e.args[0]}\n".encode())
        try:
            opts = logs.LogOptions.from_query(query)
        except ValueError as e:
            return self._reply(400, f"bad log options: {e}\n".encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in logs.read(path, opts, running):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        except FileNotFoundError:
            self.wfile.write(b"0\r\n\r\n")


_SUN_PATH_MAX = 100  # AF_UNIX paths are limited to 104-108 bytes


@contextlib.contextmanager
def _unix_path(path: Path):
    """A path to ``path`` short enough for AF_UNIX, even under a deep HOME or tmp folder.

    A long path is reached through ``/proc/self/fd/<folder fd>/<name>`` (Linux),
    which names the same socket file.
    """
    if len(os.fsencode(str(path))) <= _SUN_PATH_MAX or not os.path.isdir("/proc/self/fd"):
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class ControlServer:
    """Line-JSON requests on a 0600 unix socket: kill, fail, recover, pods."""

    def __init__(self, path: Path, agent: "Agent"):
        self.path = path
        self.agent = agent
        path.unlink(missing_ok=True)
        handler = type("Handler", (_ControlHandler,), {"agent": agent})
        old = os.umask(0o177)
        try:
            with _unix_path(path) as where:
                self.server = socketserver.ThreadingUnixStreamServer(where, handler)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.server.daemon_threads = True

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="control", daemon=True).start()


class _ControlHandler(socketserver.StreamRequestHandler):
    agent: "Agent"

    def handle(self):
        try:
            request = json.loads(self.rfile.readline())
            op = request["op"]
            if op == "kill":
                sig = getattr(signal, "SIG" + request.get("signal", "KILL").upper().removeprefix("SIG"))
                result = self.agent.call(("kill", request["namespace"], request["pod"],
                                          request.get("container"), int(sig)))
            elif op in ("fail", "recover"):
                result = self.agent.call((op, request["node"]))
            elif op == "pods":
                result = self.agent.call(("pods",))
            else:
                raise ValueError(f"unknown operation {op!r}")
            answer = {"ok": True, "result": result}
        except Exception as e:  # reported to the caller, who shows it to the learner
            answer = {"ok": False, "error": str(e), "type": type(e).__name__}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


def control_request(sock_path: Path, request: dict, timeout: float = 30.0) -> dict:
    """Client side of the control socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        with _unix_path(Path(sock_path)) as where:
            s.connect(where)
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


# The kubelet's words for the common reasons a container has no log yet.
WAITING_DETAIL = {"ErrImagePull": "image can't be pulled",
                  "ImagePullBackOff": "trying and failing to pull image"}


def _log_source(c, pod: str, previous: bool):
    """The log file ``kubectl logs [--previous]`` reads, chosen as the kubelet does.

    Its rule (validateContainerLogStatus): ``--previous`` reads lastState's
    run; otherwise the running run, else the terminated one, else lastState's
    (so while a container waits out CrashLoopBackOff both read the run that
    just crashed). Raises LookupError with the kubelet's message.
    """
    files = list(c.instances)
    state = c.state_api()
    if previous:
        # lastState is the newest run while the container waits to restart, else the one before.
        index = -1 if "waiting" in state else -2
        if c.last is None or len(files) < -index:
            raise LookupError(f'previous terminated container "{c.name}" in pod "{pod}" not found')
        return Path(files[index]), (lambda: False)
    if not files or ("waiting" in state and c.last is None):
        reason = state.get("waiting", {}).get("reason", "ContainerCreating")
        detail = WAITING_DETAIL.get(reason, reason)
        raise LookupError(f'container "{c.name}" in pod "{pod}" is waiting to start: {detail}')
    inst = c.current
    if inst is not None and inst.running:
        return Path(files[-1]), (lambda: inst.running)
    return Path(files[-1]), (lambda: False)

