"""The labkit node agent: a small kubelet that runs pods as local processes.

Threads and what they own:
- the **main thread** runs the reconcile loop (`Agent.loop`): it starts and
  reaps every process (PDEATHSIG follows the spawning thread), pumps logs and
  syncs pod workers; other threads talk to it through `Agent.post`;
- one **watch thread** per node lists and watches its pods (re-listing after
  any disconnect or apiserver restart);
- the **status thread** patches pod status and deletes finished pods;
- the **events thread** records events, aggregated like the kubelet's;
- the **heartbeat thread** renews each node's Lease every 10 s;
- each node's **kubelet server** (HTTPS) serves logs; a unix socket takes
  control requests (kill, node fail/recover) from `labkit`.
"""

from __future__ import annotations

import logging
import os
import platform
import queue
import selectors
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ...paths import cluster_dir
from .. import procs
from ..config import ClusterConfig
from ..versions import KUBERNETES_VERSION
from . import images, runtime
from .api import ApiException, NodeClient
from .backoff import Backoff
from .podworker import Container, PodWorker
from .server import ControlServer, KubeletServer

log = logging.getLogger("labkit.node")

LEASE_SECONDS = 40
LEASE_RENEW = 10.0
NODE_STATUS_EVERY = 60.0
RUNTIME_VERSION = "labkit://0.1.0"


@dataclass
class Node:
    """One simulated node: its identity, port and pods."""

    name: str
    port: int
    dir: Path
    client: NodeClient
    workers: dict[str, PodWorker] = field(default_factory=dict)
    failed: bool = False
    server: KubeletServer | None = None
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class Agent:
    """Runs every node of one sandbox cluster."""

    def __init__(self, cluster: str):
        cfg = ClusterConfig.load(cluster)
        if cfg is None:
            raise SystemExit(f"no sandbox cluster named {cluster!r}")
        self.cfg = cfg
        self.dir = cluster_dir(cluster) / "nodes"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.shims = images.shim_dir(self.dir)
        self.nodes: dict[str, Node] = {}
        for name, port in zip(cfg.node_names(), cfg.ports.kubelets):
            client = NodeClient(cfg.server, cfg.pki_dir, name)
            self.nodes[name] = Node(name, port, self.dir / name, client)
        # The control plane's version once known (binaries may come from LABKIT_K8S_BIN or PATH).
        self.kubelet_version = KUBERNETES_VERSION
        self.crash_backoff = Backoff()
        self.pull_backoff = Backoff()
        # SimpleQueue.put is reentrant: the SIGTERM handler posts "stop" from the main thread,
        # possibly while that thread is inside get_nowait() (a Queue would deadlock there).
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self.stopping = threading.Event()
        self.status_lock = threading.Condition()
        self.pending_status: dict[str, dict] = {}
        self.events: queue.Queue = queue.Queue()
        self.dirty: set[str] = set()

    # ======================================================================================
    # cross-thread messaging
    def post(self, item: tuple) -> None:
        """Hand work to the main thread and wake it."""
        self.inbox.put(item)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def call(self, item: tuple, timeout: float = 30.0):
        """Post and wait for the main thread's answer (used by the control socket)."""
        reply: queue.Queue = queue.Queue(maxsize=1)
        self.post(item + (reply,))
        result = reply.get(timeout=timeout)
        if isinstance(result, Exception):
            raise result
        return result

    # ======================================================================================
    # start-up
    def run(self) -> int:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        signal.signal(signal.SIGTERM, lambda *_: self.post(("stop",)))
        signal.signal(signal.SIGINT, lambda *_: self.post(("stop",)))
        self._kill_leftover_containers()
        for node in self.nodes.values():
            self._start_server(node)
        threading.Thread(target=self._register_all, name="register", daemon=True).start()
        threading.Thread(target=self._status_loop, name="status", daemon=True).start()
        threading.Thread(target=self._events_loop, name="events", daemon=True).start()
        ControlServer(self.dir / "agent.sock", self).start()
        self.loop()
        return 0

    def _kill_leftover_containers(self) -> None:
        """Processes of an earlier agent (if any escaped PDEATHSIG) are gone for good."""
        leftovers = procs.marked(self.cfg.id, role="container")
        if leftovers:
            log.info("stopping %d leftover container process(es)", len(leftovers))
            procs.stop(leftovers, grace=0.5)

    def _start_server(self, node: Node) -> None:
        node.server = KubeletServer(self, node)
        node.server.start()

    def _register_all(self) -> None:
        self.kubelet_version = self._server_version()
        for node in self.nodes.values():
            self._register(node)
        threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True).start()
        for node in self.nodes.values():
            threading.Thread(target=self._watch_loop, args=(node,), name=f"watch-{node.name}",
                             daemon=True).start()

    def _server_version(self) -> str:
        """The control plane's version, which every node reports as its kubelet's (once asked)."""
        client = next(iter(self.nodes.values())).client
        while not self.stopping.is_set():
            try:
                return client.server_version()
            except Exception as e:  # apiserver not up yet
                log.info("waiting for the API server: %s", e)
                time.sleep(0.2)
        return self.kubelet_version

    def _register(self, node: Node) -> None:
        """Create (or update) the Node object, as the kubelet does at start-up."""
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node.name, "labels": {
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": _arch(),
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": _arch(),
                "labkit.dev/sandbox": "true",
            }},
            "spec": {},
            "status": self._node_status(node),
        }
        while not self.stopping.is_set():
            try:
                node.client.create_node(body)
                break
            except ApiException as e:
                if e.status == 409:
                    node.client.patch_node(node.name, {"metadata": {"labels": body["metadata"]["labels"]}})
                    node.client.patch_node_status(node.name, self._node_status(node))
                    break
                log.warning("registering %s: %s", node.name, e.reason)
            except Exception as e:  # apiserver not up yet
                log.info("waiting for the API server to register %s: %s", node.name, e)
            time.sleep(0.2)
        self._renew_lease(node)

    def _node_status(self, node: Node) -> dict:
        now = runtime.rfc3339(time.time())

        def cond(ctype, status, reason, message):
            return {"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": self._transition(node, ctype, status, now)}

        capacity = {"cpu": str(os.cpu_count() or 1), "memory": f"{_memory_kib()}Ki",
                    "pods": "110", "ephemeral-storage": "20Gi"}
        return {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                     "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID",
                     "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": node.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": node.port}},
            "nodeInfo": {
                "machineID": _machine_id(node.name),
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.cfg.id}.{node.name}")),
                "bootID": node.boot_id,
                "kernelVersion": platform.release(),
                "osImage": _os_image(),
                "containerRuntimeVersion": RUNTIME_VERSION,
                "kubeletVersion": self.kubelet_version,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": _arch(),
            },
        }

    _transitions: dict = {}

    def _transition(self, node: Node, ctype: str, status: str, now: str) -> str:
        key = (node.name, ctype)
        prev = self._transitions.get(key)
        if prev is None or prev[0] != status:
            self._transitions[key] = (status, now)
        return self._transitions[key][1]

    # ======================================================================================
    # heartbeats
    def _renew_lease(self, node: Node) -> None:
        now = time.time()
        micro = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        body = {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node.name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": node.name, "leaseDurationSeconds": LEASE_SECONDS,
                     "renewTime": micro},
        }
        try:
            node_obj = node.client.read_node(node.name)
            body["metadata"]["ownerReferences"] = [{
                "apiVersion": "v1", "kind": "Node", "name": node.name,
                "uid": node_obj["metadata"]["uid"]}]
            node.client.renew_lease(node.name, body)
        except Exception as e:
            log.warning("renewing lease of %s: %s", node.name, e)

    def _heartbeat_loop(self) -> None:
        last_status = {name: time.time() for name in self.nodes}
        while not self.stopping.wait(LEASE_RENEW):
            for node in self.nodes.values():
                if node.failed:
                    continue
                self._renew_lease(node)
                if time.time() - last_status[node.name] >= NODE_STATUS_EVERY:
                    try:
                        node.client.patch_node_status(node.name, self._node_status(node))
                        last_status[node.name] = time.time()
                    except Exception as e:
                        log.warning("node status of %s: %s", node.name, e)

    # ======================================================================================
    # watching pods
    def _watch_loop(self, node: Node) -> None:
        """List, then watch from that version; on any break, list again (the informer way)."""
        delay = 0.2
        while not self.stopping.is_set():
            if node.failed:
                time.sleep(0.5)
                continue
            try:
                listing = node.client.list_pods(node.name)
                self.post(("resync", node.name, listing["items"]))
                rv = listing["metadata"]["resourceVersion"]
                delay = 0.2
                while not self.stopping.is_set() and not node.failed:
                    for event in node.client.watch_pods(node.name, rv):
                        kind, obj = event["type"], event["object"]
                        if kind == "ERROR":
                            raise _Relist(obj.get("message", "watch error"))
                        rv = obj["metadata"]["resourceVersion"]
                        if kind != "BOOKMARK" and not node.failed:
                            self.post(("pod", node.name, kind, obj))
                        if node.failed:
                            break
            except _Relist as e:
                log.info("re-listing pods of %s: %s", node.name, e)
            except Exception as e:
                log.info("watch of %s broke (%s); re-listing in %.1fs", node.name, e, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ======================================================================================
    # the main loop
    def loop(self) -> None:
        while True:
            timeout = self._next_timeout()
            for key, _ in self.selector.select(timeout):
                kind, data = key.data
                if kind == "wake":
                    try:
                        while os.read(self._wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                elif kind == "exit":
                    self._on_exit(*data)
                elif kind == "pipe":
                    self._on_output(key.fd, *data)
            while True:
                try:
                    item = self.inbox.get_nowait()
                except queue.Empty:
                    break
                if item[0] == "stop":
                    self.shutdown()
                    return
                self._handle(item)
            self._sync_due()

    def _next_timeout(self) -> float:
        if self.dirty:
            return 0
        wakes = [w.next_wake for n in self.nodes.values() for w in n.workers.values()
                 if w.next_wake is not None]
        if not wakes:
            return 1.0
        return max(0.0, min(min(wakes) - time.time(), 1.0))

    def _sync_due(self) -> None:
        now = time.time()
        for node in self.nodes.values():
            if node.failed:
                continue
            for uid, worker in list(node.workers.items()):
                if uid in self.dirty or (worker.next_wake is not None and worker.next_wake <= now):
                    self.dirty.discard(uid)
                    try:
                        worker.sync()
                    except Exception:
                        log.exception("sync of pod %s/%s failed", worker.namespace, worker.name)
                        worker.next_wake = time.time() + 2
        self.dirty.clear()

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        try:
            if kind == "resync":
                self._resync(self.nodes[item[1]], item[2])
            elif kind == "pod":
                self._on_pod(self.nodes[item[1]], item[2], item[3])
            elif kind == "deleted-ok":
                pass
            elif kind in ("kill", "fail", "recover", "pods"):
                reply = item[-1]
                try:
                    reply.put(getattr(self, f"_do_{kind}")(*item[1:-1]))
                except Exception as e:  # answered to the caller, not raised here
                    reply.put(e)
        except Exception:
            log.exception("handling %s failed", kind)

    def _resync(self, node: Node, pods: list[dict]) -> None:
        if node.failed:
            return
        seen = set()
        for pod in pods:
            seen.add(pod["metadata"]["uid"])
            self._on_pod(node, "MODIFIED", pod)
        for uid, worker in list(node.workers.items()):
            if uid not in seen:
                self._on_pod(node, "DELETED", worker.pod)

    def _on_pod(self, node: Node, kind: str, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        worker = node.workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.deleted_from_api = True
                worker.pod = pod
                for inst in worker.running_instances():
                    runtime.signal_container(inst, signal.SIGKILL)
                if not worker.running_instances():
                    self._forget(node, worker)
            return
        if worker is None:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") \
                    and not pod["metadata"].get("deletionTimestamp"):
                # Finished before this agent started: nothing to run, keep its status.
                worker = PodWorker(self, node, pod)
                node.workers[uid] = worker
                return
            worker = PodWorker(self, node, pod)
            node.workers[uid] = worker
        else:
            worker.pod = pod
        self.dirty.add(uid)

    def _forget(self, node: Node, worker: PodWorker) -> None:
        node.workers.pop(worker.uid, None)
        with self.status_lock:
            self.pending_status.pop(worker.uid, None)
        worker.remove_files()

    # -- processes ----------------------------------------------------------------------------
    def watch_instance(self, worker: PodWorker, c: Container, inst: runtime.Instance) -> None:
        self.selector.register(inst.pidfd, selectors.EVENT_READ, ("exit", (worker, c, inst)))
        for fd, stream in inst.pipes.items():
            self.selector.register(fd, selectors.EVENT_READ, ("pipe", (inst, stream)))

    def _on_output(self, fd: int, inst: runtime.Instance, stream: str) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            inst.log.feed(stream, data)
            return
        self.selector.unregister(fd)
        runtime.close_pipe(inst, fd)
        inst.log.close_stream(stream)
        if not inst.pipes and not inst.running:
            inst.log.close()

    def _on_exit(self, worker: PodWorker, c: Container, inst: runtime.Instance) -> None:
        self.selector.unregister(inst.pidfd)
        # Take what the pipes hold now, so `kubectl logs` right after exit is complete.
        for fd, stream in list(inst.pipes.items()):
            while True:
                try:
                    data = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                inst.log.feed(stream, data)
        runtime.reap(inst)
        # Pipes still open belong to grandchildren: they stay registered until EOF.
        if not inst.pipes:
            inst.log.close()
        (worker.dir / c.name / "pid").unlink(missing_ok=True)
        if worker.node.failed:
            return
        worker.on_exit(c, inst)
        self.publish(worker)
        self.dirty.add(worker.uid)
        if worker.deleted_from_api and not worker.running_instances():
            self._forget(worker.node, worker)

    # -- environment --------------------------------------------------------------------------
    def spec_env(self, worker: PodWorker, c: Container) -> dict[str, str]:
        """The env a container's spec asks for (env and envFrom), with $(VAR) expanded."""
        env: dict[str, str] = {}
        ns = worker.namespace
        client = worker.node.client
        for source in c.spec.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
                ref = source.get(key)
                if not ref:
                    continue
                data = self._read_ref(client, kind, ns, ref["name"], optional=ref.get("optional"))
                for k, v in (data or {}).items():
                    env[prefix + k] = v
        for var in c.spec.get("env") or []:
            name = var["name"]
            if "value" in var:
                env[name] = _expand(var["value"], env)
            elif "valueFrom" in var:
                value = self._value_from(worker, c, var["valueFrom"])
                if value is not None:
                    env[name] = value
            else:
                env[name] = ""
        return env

    def _read_ref(self, client: NodeClient, kind: str, ns: str, name: str, optional=None) -> dict | None:
        try:
            obj = client.read(kind, ns, name)
        except ApiException as e:
            if e.status == 404 and optional:
                return None
            raise KeyError(f'{kind}s "{name}" not found') from e  # the API's NotFound wording
        data = dict(obj.get("data") or {})
        if kind == "secret":
            import base64

            data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
        return data

    def _value_from(self, worker: PodWorker, c: Container, source: dict) -> str | None:
        pod = worker.pod
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            simple = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": pod["metadata"]["namespace"],
                "metadata.uid": pod["metadata"]["uid"],
                "spec.nodeName": pod["spec"].get("nodeName", ""),
                "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
                "status.podIP": "127.0.0.1",
                "status.podIPs": "127.0.0.1",
                "status.hostIP": "127.0.0.1",
                "status.hostIPs": "127.0.0.1",
            }
            if path in simple:
                return simple[path]
            for field_name in ("labels", "annotations"):
                prefix = f"metadata.{field_name}['"
                if path.startswith(prefix):
                    return (pod["metadata"].get(field_name) or {}).get(path[len(prefix):-2], "")
            return ""
        if "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            kind, _, resource = ref["resource"].partition(".")
            value = ((c.spec.get("resources") or {}).get(kind) or {}).get(resource)
            return str(value) if value is not None else ("0" if kind == "requests" else "")
        for kind, key, title in (("configmap", "configMapKeyRef", "ConfigMap"),
                                 ("secret", "secretKeyRef", "Secret")):
            ref = source.get(key)
            if ref:
                data = self._read_ref(worker.node.client, kind, worker.namespace, ref["name"],
                                      optional=ref.get("optional"))
                if data is None or ref["key"] not in data:
                    if ref.get("optional"):
                        return None
                    raise KeyError(f'couldn\'t find key {ref["key"]} in {title} '
                                   f'{worker.namespace}/{ref["name"]}')
                return data[ref["key"]]
        return None

    def container_env(self, worker: PodWorker, c: Container) -> dict[str, str]:
        """What a container process sees: image defaults, Kubernetes' additions, the spec."""
        port = str(self.cfg.ports.apiserver)
        env = {
            "PATH": f"{self.shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME": worker.name,
            "HOME": str(worker.dir / c.name / "scratch"),
            "LANG": "C.UTF-8",
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": f"tcp://127.0.0.1:{port}",
            procs.MARKER: self.cfg.id,
            "LABKIT_ROLE": "container",
        }
        env.update(self.spec_env(worker, c))
        return env

    # -- outputs to the API -------------------------------------------------------------------
    def publish(self, worker: PodWorker) -> None:
        """Queue the pod's current status for the status thread (latest wins)."""
        if worker.node.failed or worker.deleted_from_api:
            return
        status = worker.api_status()
        with self.status_lock:
            entry = self.pending_status.setdefault(worker.uid, {})
            entry.update(node=worker.node.name, ns=worker.namespace, name=worker.name,
                         uid=worker.uid, status=status)
            self.status_lock.notify()

    def request_delete(self, worker: PodWorker) -> None:
        """After the final status: delete the pod with grace 0 and a UID precondition."""
        with self.status_lock:
            entry = self.pending_status.setdefault(worker.uid, {})
            entry.update(node=worker.node.name, ns=worker.namespace, name=worker.name,
                         uid=worker.uid, delete=True)
            self.status_lock.notify()

    def _status_loop(self) -> None:
        while not self.stopping.is_set():
            with self.status_lock:
                while not self.pending_status and not self.stopping.is_set():
                    self.status_lock.wait(1.0)
                batch = self.pending_status
                self.pending_status = {}
            for uid, entry in batch.items():
                client = self.nodes[entry["node"]].client
                try:
                    if "status" in entry:
                        self._send_status(client, entry)
                    if entry.get("delete"):
                        client.delete_pod(entry["ns"], entry["name"], uid)
                except ApiException as e:
                    if e.status in (404, 409):
                        continue  # gone, or re-created under the same name: nothing to report
                    self._retry_status(uid, entry)
                except Exception:
                    self._retry_status(uid, entry)

    @staticmethod
    def _send_status(client, entry: dict) -> None:
        """Patch a pod's status; a rejection (422) is logged, not retried: resending cannot fix it."""
        try:
            client.patch_pod_status(entry["ns"], entry["name"], entry["uid"], entry["status"])
        except ApiException as e:
            if e.status != 422:
                raise
            log.warning("status of pod %s/%s rejected by the API server: %s",
                        entry["ns"], entry["name"], e.body)

    def _retry_status(self, uid: str, entry: dict) -> None:
        time.sleep(0.5)
        with self.status_lock:
            newer = self.pending_status.get(uid)
            if newer is None:
                self.pending_status[uid] = entry
                return
            if entry.get("delete"):
                newer["delete"] = True
            if "status" in entry and "status" not in newer:
                newer["status"] = entry["status"]  # a delete-only entry must not drop the final status

    def event(self, worker: PodWorker, c: Container | None, etype: str, reason: str, message: str) -> None:
        """Record an event on the pod (or one of its containers), from "kubelet"."""
        field_path = None
        if c is not None:
            field_path = f"spec.{'initContainers' if c.init else 'containers'}{{{c.name}}}"
        self.events.put((worker.node, worker.pod, field_path, etype, reason, message, time.time()))

    def _events_loop(self) -> None:
        seen: dict[tuple, tuple[str, int]] = {}
        while not self.stopping.is_set():
            try:
                node, pod, field_path, etype, reason, message, ts = self.events.get(timeout=1.0)
            except queue.Empty:
                continue
            meta = pod["metadata"]
            key = (meta["uid"], field_path, reason, message)
            stamp = runtime.rfc3339(ts)
            try:
                if key in seen:
                    name, count = seen[key]
                    node.client.patch_event(meta["namespace"], name,
                                            {"count": count + 1, "lastTimestamp": stamp})
                    seen[key] = (name, count + 1)
                    continue
                involved = {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                            "uid": meta["uid"], "apiVersion": "v1",
                            "resourceVersion": meta.get("resourceVersion", "")}
                if field_path:
                    involved["fieldPath"] = field_path
                body = {
                    "apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": f"{meta['name']}.{int(ts * 1e9):x}",
                                 "namespace": meta["namespace"]},
                    "involvedObject": involved,
                    "reason": reason, "message": message, "type": etype,
                    "source": {"component": "kubelet", "host": node.name},
                    "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
                    "reportingComponent": "kubelet", "reportingInstance": node.name,
                }
                node.client.create_event(meta["namespace"], body)
                seen[key] = (body["metadata"]["name"], 1)
                if len(seen) > 5000:
                    seen.clear()
            except ApiException as e:
                if e.status not in (403, 404, 409):
                    log.info("event %s on %s/%s not recorded: %s", reason, meta["namespace"],
                             meta["name"], e.reason)
            except Exception as e:
                log.info("event %s not recorded: %s", reason, e)

    # ======================================================================================
    # control requests (from `labkit kill`, `labkit node fail|recover`)
    def find(self, namespace: str, name: str) -> PodWorker | None:
        for node in self.nodes.values():
            for worker in node.workers.values():
                if worker.namespace == namespace and worker.name == name:
                    return worker
        return None

    def _do_kill(self, namespace: str, name: str, container: str | None, sig: int) -> dict:
        worker = self.find(namespace, name)
        if worker is None or worker.node.failed:
            raise LookupError(f"pod {namespace}/{name} is not running on any sandbox node")
        c = worker.container(container)
        if c is None:
            raise LookupError(f'container "{container}" not found in pod {namespace}/{name}')
        if c.current is None or not c.current.running:
            raise RuntimeError(f'container "{c.name}" of pod {namespace}/{name} is not running '
                               f"(state: {next(iter(c.state_api()))})")
        pid = c.current.pid
        delivered = runtime.signal_container(c.current, sig)
        return {"pod": name, "namespace": namespace, "container": c.name, "pid": pid,
                "node": worker.node.name, "signal": signal.Signals(sig).name, "delivered": delivered}

    def _do_fail(self, node_name: str) -> dict:
        node = self._node(node_name)
        if node.failed:
            return {"node": node_name, "failed": True, "changed": False}
        node.failed = True
        killed = 0
        for worker in list(node.workers.values()):
            for inst in worker.running_instances():
                runtime.signal_container(inst, signal.SIGKILL)
                killed += 1
        deadline = time.time() + 5
        for worker in list(node.workers.values()):
            for inst in worker.running_instances():
                self.selector.unregister(inst.pidfd)
                for fd in list(inst.pipes):
                    self.selector.unregister(fd)
                    runtime.close_pipe(inst, fd)
                inst.proc.wait(max(0.1, deadline - time.time()))
                runtime.reap(inst)
                inst.log.close()
        node.workers.clear()
        if node.server:
            node.server.stop()
            node.server = None
        return {"node": node_name, "failed": True, "changed": True, "killed": killed}

    def _do_recover(self, node_name: str) -> dict:
        node = self._node(node_name)
        if not node.failed:
            return {"node": node_name, "failed": False, "changed": False}
        node.boot_id = str(uuid.uuid4())  # a reboot
        node.failed = False
        self._start_server(node)
        threading.Thread(target=self._after_recover, args=(node,), daemon=True).start()
        return {"node": node_name, "failed": False, "changed": True}

    def _after_recover(self, node: Node) -> None:
        try:
            node.client.patch_node_status(node.name, self._node_status(node))
        except Exception as e:
            log.warning("node status of %s: %s", node.name, e)
        self._renew_lease(node)
        # A rebooted kubelet lists its pods at once. The watch opened before the crash may see
        # no event for minutes, and until a list its pods would still show containers Running.
        try:
            self.post(("resync", node.name, node.client.list_pods(node.name)["items"]))
        except Exception as e:
            log.warning("listing pods of %s after recovery: %s", node.name, e)

    def _do_pods(self) -> list[dict]:
        return [{"node": n.name, "namespace": w.namespace, "name": w.name, "uid": w.uid,
                 "pids": [i.pid for i in w.running_instances()]}
                for n in self.nodes.values() for w in n.workers.values()]

    def _node(self, name: str) -> Node:
        if name not in self.nodes:
            raise LookupError(f"no node {name!r}; nodes: {', '.join(self.nodes)}")
        return self.nodes[name]

    # ======================================================================================
    def shutdown(self) -> None:
        """Stop every container (SIGTERM, then SIGKILL), like a node shutting down."""
        self.stopping.set()
        instances = [i for n in self.nodes.values() for w in n.workers.values()
                     for i in w.running_instances()]
        for inst in instances:
            try:
                os.killpg(inst.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        for inst in instances:
            try:
                inst.proc.wait(max(0.05, deadline - time.time()))
            except Exception:
                runtime.signal_container(inst, signal.SIGKILL)
        leftovers = procs.marked(self.cfg.id, role="container")
        if leftovers:
            procs.stop(leftovers, grace=0.5)
        for node in self.nodes.values():
            if node.server:
                node.server.stop()


class _Relist(Exception):
    """The watch cannot resume (e.g. 410 Gone): list again."""


def _expand(value: str, env: dict[str, str]) -> str:
    import re

    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _memory_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 8 * 1024 * 1024


def _machine_id(node: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_DNS, node).hex


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def main(argv: list[str]) -> int:
    """``python -m labkit.sandbox.node <state dir>``."""
    state_dir = Path(argv[1]).resolve()
    # Everything in this process resolves cluster paths the same way as its supervisor.
    os.environ["LABKIT_HOME"] = str(state_dir.parent)
    return Agent(state_dir.name).run()
