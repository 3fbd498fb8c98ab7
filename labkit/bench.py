"""Benchmarks of the sandbox (`labkit bench startup|pods --json`).

Each benchmark runs in a throw-away LABKIT_HOME so it never disturbs a
learner's clusters, and reports plain numbers in JSON. Speed is measured here,
never asserted in tests.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .progress import Progress
from .sandbox import binaries, controlplane, health, procs
from .sandbox.cluster import Sandbox
from .sandbox.config import ClusterConfig


@contextmanager
def _scratch_home():
    old = os.environ.get("LABKIT_HOME")
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as home:
        os.environ["LABKIT_HOME"] = home
        try:
            yield Path(home)
        finally:
            if old is None:
                os.environ.pop("LABKIT_HOME", None)
            else:
                os.environ["LABKIT_HOME"] = old


def _wait(probe, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(0.02)


def lower_bound() -> float:
    """etcd + kube-apiserver alone, fresh state, until /readyz: what no sandbox can beat."""
    paths = binaries.ensure()
    cfg = ClusterConfig.create("lowerbound", 1)
    pki = controlplane.prepare(cfg)
    cfg.save()
    comps = controlplane.components(cfg, pki, paths)[:2]
    ctx = health.tls_context(pki.ca.cert, pki.admin.cert, pki.admin.key)
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **{procs.MARKER: cfg.id})
    started = time.monotonic()
    running = [procs.spawn(c.argv, env=env, log=cfg.logs_dir / f"{c.name}.log") for c in comps]
    try:
        _wait(lambda: health.get(cfg.ports.apiserver, "/readyz", ctx)[0] == 200)
        return time.monotonic() - started
    finally:
        procs.stop([p.pid for p in reversed(running)], grace=5)
        for p in running:
            p.wait()


def idle_rss_mib(box: Sandbox, settle: float = 5.0) -> float:
    """Resident memory of the supervisor and every component after ``settle`` idle seconds."""
    time.sleep(settle)
    pids = set(procs.marked(box.config().id)) | {box.supervisor_pid()}
    return sum(procs.rss_kib(p) for p in pids if p) / 1024


def _timed_up(box: Sandbox, nodes: int | None = None) -> tuple[float, float]:
    """Seconds until every node is Ready (fresh heartbeat), and until `labkit up` returns."""
    started = time.monotonic()
    box.up(nodes, wait=False)
    cfg = box.config()
    ctx = health.tls_context(cfg.pki_dir / "ca.crt", cfg.pki_dir / "admin.crt", cfg.pki_dir / "admin.key")
    fresh = float(box.state().get("started", 0)) - 1.0
    _wait(lambda: box._nodes_ready(cfg, ctx, fresh))
    node_ready = time.monotonic() - started
    box.up(nodes)  # already running: this waits for /readyz and the default ServiceAccount
    return node_ready, time.monotonic() - started


def startup() -> dict:
    """Lower bound, warm start (fresh state, cached binaries), restart, idle RSS.

    ``warm_start_s`` and ``restart_s`` stop at "node Ready" (the benchmark's
    definition); the ``*_usable_s`` twins stop when `labkit up` returns, i.e.
    also after /readyz and the default ServiceAccount.
    """
    quiet = Progress(quiet=True)
    with _scratch_home():
        low = lower_bound()
        box = Sandbox("bench", progress=quiet)
        warm, warm_usable = _timed_up(box, 1)
        rss = idle_rss_mib(box)
        box.down()
        restart, restart_usable = _timed_up(box)
        box.down(purge=True)
    return {
        "lower_bound_s": round(low, 2),
        "warm_start_s": round(warm, 2),
        "restart_s": round(restart, 2),
        "idle_rss_mib": round(rss, 1),
        "warm_over_lower_bound": round(warm / low, 2),
        "warm_start_usable_s": round(warm_usable, 2),
        "restart_usable_s": round(restart_usable, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _pod(name: str, command: list[str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": "python", "command": command}]}}


def pods(count: int = 20, completions: int = 100, parallelism: int = 10) -> dict:
    """Create→Running latency of ``count`` pods, and a 100-completion Job's wall time."""
    from kubernetes import client, config, watch

    quiet = Progress(quiet=True)
    with _scratch_home():
        box = Sandbox("bench", progress=quiet)
        box.up(1)
        try:
            cfg = client.Configuration()
            config.load_kube_config(config_file=str(box.kubeconfig), client_configuration=cfg)
            api = client.ApiClient(cfg)
            core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
            core.create_namespace({"metadata": {"name": "bench"}})
            _wait(lambda: _has_default_sa(core))
            latencies = []
            for i in range(count):
                name = f"p{i}"
                w = watch.Watch()
                started = time.monotonic()
                created = core.create_namespaced_pod("bench", _pod(name, ["python", "-c",
                                                                          "import time; time.sleep(30)"]))
                for event in w.stream(core.list_namespaced_pod, "bench",
                                      field_selector=f"metadata.name={name}",
                                      resource_version=created.metadata.resource_version,
                                      timeout_seconds=60):
                    if event["object"].status.phase == "Running":
                        latencies.append(time.monotonic() - started)
                        w.stop()
            core.delete_collection_namespaced_pod("bench", grace_period_seconds=0)
            job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "hundred"},
                   "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": 0,
                            "template": {"spec": {"restartPolicy": "Never", "containers": [
                                {"name": "main", "image": "python", "command": ["python", "-c", "pass"]}]}}}}
            started = time.monotonic()
            batch.create_namespaced_job("bench", job)
            _wait(lambda: (batch.read_namespaced_job("hundred", "bench").status.succeeded or 0) >= completions,
                  timeout=600)
            job_s = time.monotonic() - started
        finally:
            box.down(purge=True)
    latencies.sort()
    return {
        "pod_start_p50_s": round(statistics.median(latencies), 3),
        "pod_start_p95_s": round(latencies[max(0, int(round(0.95 * len(latencies))) - 1)], 3),
        "job_100_s": round(job_s, 1),
    }


def _has_default_sa(core) -> bool:
    try:
        core.read_namespaced_service_account("default", "bench")
        return True
    except Exception:
        return False


def run(what: str, cluster: str | None = None) -> dict:
    """Dispatch for the CLI (``cluster`` is unused: benchmarks use their own)."""
    result = {"startup": startup, "pods": pods}[what]()
    result["benchmark"] = what
    return result


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "startup")))
