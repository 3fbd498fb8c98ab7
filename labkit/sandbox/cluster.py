"""The sandbox cluster's lifecycle: up, down, status — idempotent, locked, orphan-free.

`Sandbox.up()` is safe to call twice (a running cluster is reported, not
restarted) and from two processes at once (a lock file serialises them).
Processes left by a crash are found by their environment marker and stopped
before anything new starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import (ClusterBusy, ClusterNotRunning, ClusterStartFailed, ClusterStateCorrupt,
                      LabkitError)
from ..paths import cluster_dir
from ..progress import Progress
from . import binaries, controlplane, health, procs
from .config import DEFAULT_NAME, ClusterConfig, pick_ports

READY_TIMEOUT = 180.0
MAX_NODES = 10


@dataclass
class ComponentStatus:
    name: str
    pid: int | None
    port: int | list[int] | None
    healthy: bool
    restarts: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _epoch(stamp: str | None) -> float:
    """RFC 3339 (``2026-12-03T17:36:24Z``) to epoch seconds; 0 when absent."""
    if not stamp:
        return 0.0
    import datetime as dt

    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Sandbox:
    """One embedded cluster, named like a minikube profile (default ``labkit``)."""

    def __init__(self, name: str = DEFAULT_NAME, *, progress: Progress | None = None):
        self.name = name
        self.dir = cluster_dir(name)
        self.progress = progress or Progress()

    # -- facts -----------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def config(self) -> ClusterConfig | None:
        return ClusterConfig.load(self.name)

    def state(self) -> dict:
        try:
            return json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def supervisor_pid(self) -> int | None:
        """The live supervisor's pid, checked against the cluster's marker."""
        state = self.state()
        pid = state.get("supervisor")
        if not procs.alive(pid):
            return None
        env = procs.environ_of(pid)
        if env and env.get("LABKIT_SUPERVISES") != str(self.dir):
            return None  # the pid was reused by an unrelated process
        return pid

    def running(self) -> bool:
        return self.supervisor_pid() is not None

    # -- locking -----------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self, timeout: float = 600.0):
        """Serialise lifecycle calls on one state folder (two `up`s make one cluster)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "w") as f:
            deadline = time.monotonic() + timeout
            said = False
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not said:
                        self.progress.say(f"waiting for another labkit command on cluster '{self.name}' …")
                        said = True
                    if time.monotonic() > deadline:
                        raise ClusterBusy(
                            f"Another labkit command has held cluster '{self.name}' for {timeout:.0f}s "
                            f"(lock {self.dir / 'lock'}). Wait for it, or stop it and retry."
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _lock_if_free(self):
        """Take the lock only if no other lifecycle call holds it; yields whether it was taken."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- up ------------------------------------------------------------------------
    def up(self, nodes: int | None = None, *, wait: bool = True) -> ClusterConfig:
        """Start the cluster (or report the running one) and wait until it is usable."""
        if nodes is not None and not 1 <= nodes <= MAX_NODES:
            raise LabkitError(f"--nodes must be between 1 and {MAX_NODES}, not {nodes}")
        started = time.monotonic()
        with self._lock():
            cfg = self.config()
            if self.running() and cfg is not None:
                if nodes is not None and nodes != cfg.nodes:
                    self.progress.say(
                        f"cluster '{self.name}' is running with {cfg.nodes} node(s); to change it, "
                        f"run `labkit down --name {self.name}` then `labkit up --nodes {nodes}`"
                    )
                else:
                    self.progress.say(f"cluster '{self.name}' is already running")
                if wait:
                    self._wait_ready(cfg, started)
                return cfg
            self._clean_orphans(cfg)
            if cfg is None:
                cfg = ClusterConfig.create(self.name, nodes or 1)
                self.progress.say(f"creating sandbox cluster '{self.name}' in {self.dir}")
            else:
                cfg.nodes = nodes or cfg.nodes
                cfg.ports = pick_ports(cfg.nodes, cfg.ports)
                self.progress.say(f"starting sandbox cluster '{self.name}' (existing state kept)")
            paths = binaries.ensure(self.progress)
            try:
                pki = controlplane.prepare(cfg)
            except (ValueError, TypeError) as e:  # cryptography's words for a damaged PEM file
                raise ClusterStateCorrupt(
                    f"The certificates of sandbox cluster '{self.name}' in {cfg.pki_dir} are unreadable "
                    f"({e}).\nRemove them and start afresh with: labkit down --name {self.name} --purge "
                    "&& labkit up"
                ) from e
            cfg.save()
            comps = controlplane.components(cfg, pki, paths)
            (self.dir / "components.json").write_text(json.dumps({
                "id": cfg.id,
                "components": [{"name": c.name, "argv": c.argv} for c in comps],
            }, indent=2))
            self._start_supervisor()
            if wait:
                self._wait_ready(cfg, started)
        return cfg

    def _start_supervisor(self) -> None:
        """Start the supervisor detached: it outlives this command, like minikube's VM."""
        (self.dir / "state.json").unlink(missing_ok=True)
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["LABKIT_SUPERVISES"] = str(self.dir)
        env.pop(procs.MARKER, None)
        with open(self.dir / "logs" / "supervisor.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "labkit.sandbox.supervisor", str(self.dir)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, close_fds=True,
            )
        deadline = time.monotonic() + 10
        while not self.state().get("supervisor"):
            if time.monotonic() > deadline:
                raise ClusterStartFailed(
                    "The sandbox supervisor did not start. See "
                    f"{self.dir / 'logs' / 'supervisor.log'}"
                )
            time.sleep(0.02)

    def _wait_ready(self, cfg: ClusterConfig, started: float) -> None:
        """Wait for /readyz, the default ServiceAccount and every node Ready."""
        ctx = health.tls_context(cfg.pki_dir / "ca.crt", cfg.pki_dir / "admin.crt",
                                 cfg.pki_dir / "admin.key")
        # A Node object kept in etcd says Ready from the last run: only a heartbeat
        # from this supervisor's agent counts.
        fresh_since = float(self.state().get("started", 0)) - 1.0
        steps = [
            ("API server ready", lambda: health.get(cfg.ports.apiserver, "/readyz", ctx)[0] == 200),
            ("default ServiceAccount", lambda: health.get_json(
                cfg.ports.apiserver, "/api/v1/namespaces/default/serviceaccounts/default", ctx) is not None),
            (f"{cfg.nodes} node(s) Ready", lambda: self._nodes_ready(cfg, ctx, fresh_since)),
        ]
        deadline = time.monotonic() + READY_TIMEOUT
        for label, probe in steps:
            while not probe():
                if not self.running():
                    raise ClusterStartFailed(self._failure_report("the supervisor exited"))
                if time.monotonic() > deadline:
                    raise ClusterStartFailed(self._failure_report(f"timed out waiting for {label}"))
                self.progress.tick(f"waiting for {label}", time.monotonic() - started)
                time.sleep(0.05)
        self._forget_removed_nodes(cfg, ctx)
        self.progress.done(f"cluster '{self.name}' ready", time.monotonic() - started)

    @staticmethod
    def _nodes_ready(cfg: ClusterConfig, ctx, fresh_since: float = 0.0) -> bool:
        """Every node Ready, with a heartbeat no older than ``fresh_since`` (epoch seconds)."""
        nodes = health.get_json(cfg.ports.apiserver, "/api/v1/nodes", ctx)
        if not nodes:
            return False
        ready = set()
        for n in nodes["items"]:
            for c in n.get("status", {}).get("conditions", []):
                if c["type"] == "Ready" and c["status"] == "True" \
                        and _epoch(c.get("lastHeartbeatTime")) >= fresh_since:
                    ready.add(n["metadata"]["name"])
        return set(cfg.node_names()) <= ready

    def _forget_removed_nodes(self, cfg: ClusterConfig, ctx) -> None:
        """Delete Node objects left in etcd by an earlier run with more nodes.

        Without this, `up --nodes 1` after a two-node run shows a NotReady
        labkit-node-2 forever, and the node lifecycle controller taints it.
        """
        nodes = health.get_json(cfg.ports.apiserver, "/api/v1/nodes", ctx) or {"items": []}
        keep = set(cfg.node_names())
        for n in nodes["items"]:
            name = n["metadata"]["name"]
            if name.startswith("labkit-node-") and name not in keep:
                status, body = health.request("DELETE", cfg.ports.apiserver, f"/api/v1/nodes/{name}", ctx)
                if status in (200, 202, 404):
                    self.progress.say(f"removed node {name} (this run has {cfg.nodes} node(s))")
                else:
                    self.progress.say(f"could not remove the old node {name}: HTTP {status} "
                                      f"{body[:200].decode(errors='replace')}")

    def _failure_report(self, what: str) -> str:
        """Name the failed component and show its last log lines."""
        state = self.state().get("components", {})
        lines = [f"Sandbox cluster '{self.name}' did not start: {what}."]
        for name, info in state.items():
            if info.get("restarts"):
                log = self.dir / "logs" / f"{name}.log"
                tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
                lines.append(f"--- {name} restarted {info['restarts']} time(s); last lines of {log}:")
                lines.extend(tail)
        lines.append(
            f"Logs: `labkit logs <component> --name {self.name}`. If the state is damaged, "
            f"start afresh with `labkit down --name {self.name} --purge && labkit up`."
        )
        return "\n".join(lines)

    # -- down ------------------------------------------------------------------------
    def down(self, *, purge: bool = False) -> bool:
        """Stop everything (quietly if already stopped); ``purge`` also deletes the state.

        Returns whether anything was running.
        """
        if not self.dir.exists():
            return False
        with self._lock():
            was_running = self._stop()
            if purge:
                shutil.rmtree(self.dir, ignore_errors=True)
        return was_running

    def _stop(self) -> bool:
        pid = self.supervisor_pid()
        if pid is not None:
            self.progress.say(f"stopping sandbox cluster '{self.name}' …")
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 40
            while procs.alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if procs.alive(pid):
                os.kill(pid, signal.SIGKILL)  # components follow by PDEATHSIG
        try:
            cfg = self.config()
        except ClusterStateCorrupt:
            cfg = None
        self._clean_orphans(cfg)
        return pid is not None

    def _clean_orphans(self, cfg: ClusterConfig | None) -> None:
        """Stop processes a crash left behind (they carry the cluster's marker)."""
        ids = {self.state().get("id")} | ({cfg.id} if cfg else set())
        for cluster_id in filter(None, ids):
            leftovers = procs.marked(cluster_id)
            if leftovers:
                self.progress.say(f"stopping {len(leftovers)} leftover process(es) of '{self.name}'")
                procs.stop(leftovers, grace=3)

    # -- status ------------------------------------------------------------------------
    def status(self) -> dict:
        """Each component's pid, port and health (what `labkit status` prints)."""
        cfg = self.config()
        if cfg is None:
            return {"name": self.name, "running": False, "components": []}
        running = self.running()
        if not running:
            # An `up` in progress has components but no supervisor state yet: not orphans.
            with self._lock_if_free() as free:
                if free and not self.running():
                    self._clean_orphans(cfg)
        state = self.state().get("components", {}) if running else {}
        pki = cfg.pki_dir
        admin = health.tls_context(pki / "ca.crt", pki / "admin.crt", pki / "admin.key")
        etcd_ctx = health.tls_context(pki / "ca.crt", pki / "apiserver-etcd-client.crt",
                                      pki / "apiserver-etcd-client.key")
        anyone = health.tls_context(None)
        kubelet = health.tls_context(pki / "ca.crt", pki / "apiserver-kubelet-client.crt",
                                     pki / "apiserver-kubelet-client.key")
        probes = {
            "etcd": (cfg.ports.etcd_client, lambda: health.get(cfg.ports.etcd_client, "/health", etcd_ctx)[0] == 200),
            "kube-apiserver": (cfg.ports.apiserver, lambda: health.get(cfg.ports.apiserver, "/readyz", admin)[0] == 200),
            "kube-controller-manager": (cfg.ports.controller_manager, lambda: health.get(
                cfg.ports.controller_manager, "/healthz", anyone)[0] == 200),
            "kube-scheduler": (cfg.ports.scheduler, lambda: health.get(cfg.ports.scheduler, "/healthz", anyone)[0] == 200),
            "node-agent": (cfg.ports.kubelets, lambda: all(
                health.get(p, "/healthz", kubelet)[0] == 200 for p in cfg.ports.kubelets)),
        }
        comps = []
        for name, (port, probe) in probes.items():
            info = state.get(name, {})
            pid = info.get("pid")
            comps.append(ComponentStatus(
                name=name, pid=pid, port=port,
                healthy=bool(running and procs.alive(pid) and probe()),
                restarts=info.get("restarts", 0),
            ).as_dict())
        return {
            "name": self.name,
            "running": running,
            "supervisor": self.supervisor_pid(),
            "nodes": cfg.node_names(),
            "server": cfg.server,
            "kubeconfig": str(self.kubeconfig),
            "state_dir": str(self.dir),
            "components": comps,
        }

    def require_running(self) -> ClusterConfig:
        """The config of a running cluster, or an error that says how to start it."""
        cfg = self.config()
        if cfg is None or not self.running():
            raise ClusterNotRunning(
                f"Sandbox cluster '{self.name}' is not running. Start it with: labkit up"
                + (f" --name {self.name}" if self.name != DEFAULT_NAME else "")
            )
        return cfg
