"""One pod on one node: start its containers, restart them per policy, stop them.

A `PodWorker` is the sandbox's version of the kubelet's pod worker plus
``computePodActions``: every call to `sync` looks at the pod spec and at what
its processes did, takes the next actions (pull, start, back off, kill) and
returns when it wants to be called again. All process work happens on the
agent's main thread, so PDEATHSIG (which follows the spawning thread) holds.
"""

from __future__ import annotations

import re
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import images, runtime, status
from .backoff import Backoff
from .runtime import Instance, Termination

if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent, Node

LOST_MESSAGE = "The container could not be located when the pod was terminated"
DEADLINE_REASON = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
#: How long an exited container shows as terminated before its restart (the kubelet's PLEG period).
RESTART_PAUSE = 1.0


@dataclass
class Container:
    """What the node knows of one container of the pod."""

    spec: dict
    init: bool
    restart_count: int = 0
    current: Instance | None = None
    last: Termination | None = None  # lastState.terminated
    done: Termination | None = None  # state.terminated (not restarting)
    exited: Termination | None = None  # just ended, restart decided on the next sync
    waiting: tuple[str, str | None] = ("ContainerCreating", None)
    image_id: str | None = None
    instances: list[str] = field(default_factory=list)  # log files, oldest first

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def ready(self) -> bool:
        if self.init:  # the kubelet reports an init container ready once it has succeeded
            return self.done is not None and self.done.exit_code == 0
        return self.current is not None and self.current.running

    @property
    def started(self) -> bool:
        return self.current is not None and self.current.running

    def container_id(self) -> str | None:
        if self.current is not None:
            return self.current.container_id
        for term in (self.done, self.exited, self.last):
            if term is not None and term.container_id:
                return term.container_id
        return None

    def state_api(self) -> dict:
        if self.current is not None and self.current.running:
            return {"running": {"startedAt": runtime.rfc3339(self.current.started_at)}}
        if self.done is not None:
            return {"terminated": self.done.as_api()}
        if self.exited is not None:
            return {"terminated": self.exited.as_api()}
        reason, message = self.waiting
        waiting = {"reason": reason}
        if message:
            waiting["message"] = message
        return {"waiting": waiting}


class PodWorker:
    """Drives one pod's containers toward its spec, kubelet-style."""

    def __init__(self, agent: "Agent", node: "Node", pod: dict):
        self.agent = agent
        self.node = node
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.dir: Path = node.dir / "pods" / f"{self.namespace}_{self.name}_{self.uid}"
        spec = pod["spec"]
        self.init_containers = [Container(c, True) for c in spec.get("initContainers") or []]
        self.containers = [Container(c, False) for c in spec.get("containers") or []]
        if self.init_containers:  # the kubelet's default waiting reason when a pod has init containers
            for c in self.all_containers():
                c.waiting = ("PodInitializing", None)
        self.start_time: float | None = None
        self.terminal_phase: str | None = None  # set once the pod is Succeeded/Failed
        self.reason: str | None = None
        self.message: str | None = None
        self.kill_deadline: float | None = None
        self.deleted_from_api = False
        self.delete_requested = False
        self.next_wake: float | None = None
        self.old_conditions: list[dict] = (pod.get("status") or {}).get("conditions") or []
        self._restore(pod.get("status") or {})

    # -- helpers -----------------------------------------------------------------------
    @property
    def spec(self) -> dict:
        return self.pod["spec"]

    @property
    def policy(self) -> str:
        return self.spec.get("restartPolicy", "Always")

    def all_containers(self) -> list[Container]:
        return self.init_containers + self.containers

    def running_instances(self) -> list[Instance]:
        """Processes still alive (graceful stop waits for these)."""
        return [c.current for c in self.all_containers() if c.current is not None and c.current.running]

    def container(self, name: str | None) -> Container | None:
        if name is None:
            return self.containers[0] if self.containers else None
        return next((c for c in self.all_containers() if c.name == name), None)

    def _key(self, c: Container) -> str:
        return f"{self.uid}/{c.name}"

    def being_deleted(self) -> bool:
        return bool(self.pod["metadata"].get("deletionTimestamp"))

    # -- restore after an agent restart ------------------------------------------------
    def _restore(self, old: dict) -> None:
        """Take over a pod an earlier agent ran: its processes are gone (a node reboot)."""
        if not old.get("containerStatuses") and not old.get("initContainerStatuses"):
            return
        if old.get("startTime"):
            self.start_time = runtime.parse_time(old["startTime"])
        if old.get("phase") in ("Succeeded", "Failed"):
            self.terminal_phase = old["phase"]
            self.reason, self.message = old.get("reason"), old.get("message")
        by_name = {s["name"]: s for s in (old.get("initContainerStatuses") or [])
                   + (old.get("containerStatuses") or [])}
        for c in self.all_containers():
            st = by_name.get(c.name)
            if not st:
                continue
            c.restart_count = st.get("restartCount", 0)
            c.image_id = st.get("imageID") or None
            last = (st.get("lastState") or {}).get("terminated")
            c.last = Termination.from_api(last) if last else None
            state = st.get("state") or {}
            if "terminated" in state:
                term = Termination.from_api(state["terminated"])
                if self.terminal_phase is None:
                    self._after_exit(c, term)  # it may still be due a restart, per policy
                else:
                    c.done = term
            elif "running" in state:
                # The process died with the previous agent: report it as the kubelet does.
                lost = Termination(
                    exit_code=137, reason="ContainerStatusUnknown",
                    started_at=runtime.parse_time(state["running"].get("startedAt")),
                    finished_at=time.time(), container_id=st.get("containerID", ""),
                    message=LOST_MESSAGE,
                )
                self._after_exit(c, lost)

    # -- the sync loop ---------------------------------------------------------------------
    def sync(self) -> None:
        """Take the next actions; sets ``self.next_wake`` if it must run again later."""
        self.next_wake = None
        now = time.time()
        if self.being_deleted() or self.deleted_from_api:
            self._terminate(now)
            return
        if self.terminal_phase is not None:
            return
        if self.start_time is None:
            self.start_time = now
            self.agent.publish(self)  # Pending with ContainerCreating, as soon as possible
        deadline = self.spec.get("activeDeadlineSeconds")
        if deadline is not None and now - self.start_time >= deadline:
            self._deadline_exceeded()
            return
        if deadline is not None:
            self._wake_at(self.start_time + deadline)
        if not self._sync_init(now):
            self._publish()
            return
        for c in self.containers:
            self._sync_container(c, now)
        self._publish()

    def _sync_init(self, now: float) -> bool:
        """Run init containers in order; True once all succeeded."""
        for c in self.init_containers:
            if c.done is not None and c.done.exit_code == 0:
                continue
            if c.current is not None and c.current.running:
                return False
            if c.done is not None:  # failed, Never: the pod has failed
                return False
            self._sync_container(c, now, restart_on_success=False)
            return False
        return True

    def _sync_container(self, c: Container, now: float, restart_on_success: bool = True) -> None:
        if c.current is not None and c.current.running:
            return
        if c.done is not None:
            return
        if c.exited is not None:
            # Show the exit for a moment (as PLEG does), then restart or back off.
            if now < c.exited.finished_at + RESTART_PAUSE:
                self._wake_at(c.exited.finished_at + RESTART_PAUSE)
                return
            c.last, c.exited = c.exited, None
        if c.current is None and c.last is None and c.restart_count == 0:
            self._first_start(c, now)
            return
        # It exited before and the policy says restart: respect the crash-loop back-off.
        key = self._key(c)
        since = c.last.finished_at if c.last else now
        backoff: Backoff = self.agent.crash_backoff
        if backoff.in_backoff_since(key, since):
            wait = backoff.get(key)
            c.waiting = ("CrashLoopBackOff",
                         f"back-off {_go_duration(wait)} restarting failed container={c.name} "
                         f"pod={self.name}_{self.namespace}({self.uid})")
            if not getattr(c, "_backoff_reported", None) == since:
                c._backoff_reported = since  # type: ignore[attr-defined]
                self.agent.event(self, c, "Warning", "BackOff",
                                 f"Back-off restarting failed container {c.name} in pod "
                                 f"{self.name}_{self.namespace}({self.uid})")
            self._wake_at(backoff.ready_at(key, since))
            return
        backoff.next(key, since)
        if self._pull(c, now):  # the kubelet ensures the image before every start
            self._start(c, restart=True)

    def _first_start(self, c: Container, now: float) -> None:
        if not self._pull(c, now):
            return
        self._start(c, restart=False)

    def _pull(self, c: Container, now: float) -> bool:
        """The sandbox's image pull: instant for supported images, a real failure otherwise."""
        image = c.spec.get("image", "")
        policy = c.spec.get("imagePullPolicy") or images.pull_policy_default(image)
        known = images.lookup(image)
        key = f"{self.uid}/{c.name}/pull"
        backoff: Backoff = self.agent.pull_backoff
        if known is None:
            if backoff.in_backoff_since(key, getattr(c, "_pull_failed_at", now)):
                if c.waiting[0] != "ImagePullBackOff":
                    self.agent.event(self, c, "Normal", "BackOff", f'Back-off pulling image "{image}"')
                    self.agent.event(self, c, "Warning", "Failed", "Error: ImagePullBackOff")
                c.waiting = ("ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: '
                             f"{images.pull_error(image)}")
                self._wake_at(backoff.ready_at(key, c._pull_failed_at))  # type: ignore[attr-defined]
                return False
            if policy == "Never":
                c.waiting = ("ErrImageNeverPull",
                             f'Container image "{image}" is not present with pull policy of Never')
                self.agent.event(self, c, "Warning", "ErrImageNeverPull", c.waiting[1])
                return False
            self.agent.event(self, c, "Normal", "Pulling", f'Pulling image "{image}"')
            self.agent.event(self, c, "Warning", "Failed",
                             f'Failed to pull image "{image}": {images.pull_error(image)}')
            self.agent.event(self, c, "Warning", "Failed", "Error: ErrImagePull")
            c.waiting = ("ErrImagePull", images.pull_error(image))
            c._pull_failed_at = now  # type: ignore[attr-defined]
            backoff.next(key, now)
            self._wake_at(now + 1.0)  # shows ImagePullBackOff next, as the kubelet does
            return False
        if policy == "Always":
            self.agent.event(self, c, "Normal", "Pulling", f'Pulling image "{image}"')
            self.agent.event(self, c, "Normal", "Pulled",
                             f'Successfully pulled image "{image}" in 0s (0s including waiting). '
                             f"Image size: 0 bytes.")
        else:
            self.agent.event(self, c, "Normal", "Pulled",
                             f'Container image "{image}" already present on machine and can be accessed by the pod')
        c.image_id = images.image_id(image)
        return True

    def _start(self, c: Container, *, restart: bool) -> None:
        image = images.lookup(c.spec.get("image", ""))
        assert image is not None, "_pull() lets only supported images through"
        try:
            env = self.agent.container_env(self, c)
        except KeyError as e:
            # No container was created, so restartCount stays as it is (as in the kubelet).
            c.waiting = ("CreateContainerConfigError", str(e).strip("'\""))
            self.agent.event(self, c, "Warning", "Failed", f"Error: {c.waiting[1]}")
            self._wake_at(time.time() + 2)
            return
        if restart:
            c.current = None
            c.restart_count += 1
        argv = images.argv_for(image, _expand_all(c.spec.get("command"), self, c),
                               _expand_all(c.spec.get("args"), self, c))
        log_path = self.dir / c.name / f"{c.restart_count}.log"
        cwd = self._working_dir(c)
        try:
            instance = runtime.start(argv, env=env, cwd=cwd, log_path=log_path)
        except OSError as e:
            # A runtime cannot exec the binary: the kubelet reports StartError (exit 128).
            now = time.time()
            message = (f'failed to create containerd task: exec: "{argv[0] if argv else ""}": '
                       f"{e.strerror or e}")
            self.agent.event(self, c, "Normal", "Created", "Container created")
            self.agent.event(self, c, "Warning", "Failed", f"Error: {message}")
            term = Termination(exit_code=128, reason="StartError", started_at=now,
                               finished_at=now, container_id="", message=message)
            c.instances.append(str(log_path))
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.touch()
            self._after_exit(c, term)
            return
        c.current = instance
        c.instances.append(str(log_path))
        c.waiting = ("ContainerCreating", None)
        self.agent.watch_instance(self, c, instance)
        self._write_pidfile(c, instance)
        self.agent.event(self, c, "Normal", "Created", "Container created")
        self.agent.event(self, c, "Normal", "Started", "Container started")

    def _working_dir(self, c: Container) -> Path:
        """The container's scratch folder, or its workingDir mapped inside the pod's folder."""
        wd = c.spec.get("workingDir")
        base = self.dir / c.name / "scratch"
        path = base if not wd else (self.dir / "fs" / wd.lstrip("/"))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _write_pidfile(self, c: Container, instance: Instance) -> None:
        (self.dir / c.name).mkdir(parents=True, exist_ok=True)
        (self.dir / c.name / "pid").write_text(f"{instance.pid}\n")

    # -- exits -----------------------------------------------------------------------------
    def on_exit(self, c: Container, instance: Instance) -> None:
        """A container process ended: record it the way the runtime reports it."""
        term = instance.termination
        assert term is not None
        if instance.kill_reason:
            term.message = None
        self._after_exit(c, term)

    def _after_exit(self, c: Container, term: Termination) -> None:
        """Decide between restart (lastState) and staying terminated (state)."""
        c.current = None
        if c.init and term.exit_code == 0:
            c.done = term  # an init container that succeeded is done
            return
        restart = self._should_restart(c, term.exit_code)
        stopping = self.kill_deadline is not None or self.being_deleted() or self.terminal_phase is not None
        if restart and not stopping:
            c.exited = term
            self._wake_at(term.finished_at + RESTART_PAUSE)
        else:
            c.done = term

    def _should_restart(self, c: Container, exit_code: int) -> bool:
        if c.init:
            return exit_code != 0 and self.policy != "Never"
        if self.policy == "Always":
            return True
        if self.policy == "OnFailure":
            return exit_code != 0
        return False

    # -- stopping --------------------------------------------------------------------------
    def kill_all(self, reason: str, grace: float) -> None:
        """SIGTERM every running container now, SIGKILL after ``grace`` seconds."""
        for c in self.all_containers():
            inst = c.current
            if inst is not None and inst.running and inst.kill_reason is None:
                inst.kill_reason = reason
                self.agent.event(self, c, "Normal", "Killing", f"Stopping container {c.name}")
                runtime.signal_container(inst, signal.SIGTERM if grace > 0 else signal.SIGKILL)
        self.kill_deadline = time.time() + grace if grace > 0 else time.time()

    def _terminate(self, now: float) -> None:
        """Graceful deletion: stop, report the final status, delete with grace 0."""
        if self.kill_deadline is None:
            meta = self.pod["metadata"]
            grace = meta.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = self.spec.get("terminationGracePeriodSeconds", 30)
            self.kill_all("deletion", float(grace))
        if self._still_stopping(now):
            return
        self._cancel_pending_restarts()
        if self.terminal_phase is None:
            self._publish(terminal=True)
        if not self.delete_requested and not self.deleted_from_api:
            self.delete_requested = True
            self.agent.request_delete(self)

    def _still_stopping(self, now: float) -> bool:
        """After kill_all(): SIGKILL what outlived the grace period; True while anything runs."""
        running = self.running_instances()
        if not running:
            return False
        if now >= self.kill_deadline:
            for inst in running:
                runtime.signal_container(inst, signal.SIGKILL)
            self._wake_at(now + 0.5)
        else:
            self._wake_at(self.kill_deadline)
        return True

    def _cancel_pending_restarts(self) -> None:
        """Every process has stopped for good: a restart waiting out its back-off will not happen."""
        for c in self.all_containers():
            if c.exited is not None:
                c.done, c.exited = c.exited, None

    def _deadline_exceeded(self) -> None:
        """Stop the pod (SIGTERM, SIGKILL after its grace period), then report it Failed.

        Called on every sync until its processes are gone: like the kubelet's status
        manager, the phase turns Failed only once no container can still be running.
        """
        now = time.time()
        if self.reason != DEADLINE_REASON:
            self.reason, self.message = DEADLINE_REASON, DEADLINE_MESSAGE
            self.agent.event(self, None, "Normal", DEADLINE_REASON, DEADLINE_MESSAGE)
            self.kill_all("deadline", float(self.spec.get("terminationGracePeriodSeconds", 30)))
        if self._still_stopping(now):
            self.agent.publish(self)
            return
        self._cancel_pending_restarts()
        self.terminal_phase = "Failed"
        self._publish(terminal=True)

    def lose_processes(self) -> None:
        """A node crash: every process is gone; a restarted node finds them lost."""
        for inst in self.running_instances():
            runtime.signal_container(inst, signal.SIGKILL)

    # -- status ----------------------------------------------------------------------------
    def _publish(self, terminal: bool = False) -> None:
        if not terminal and self.terminal_phase is None:
            phase = self.phase()
            if phase in ("Succeeded", "Failed"):
                self.terminal_phase = phase
        self.agent.publish(self)

    def phase(self, terminal: bool = False) -> str:
        if self.terminal_phase and not terminal:
            return self.terminal_phase
        inits = [status.container_status(c) for c in self.init_containers]
        mains = [status.container_status(c) for c in self.containers]
        return status.phase(self.spec, inits, mains, terminal=terminal)

    def api_status(self) -> dict:
        """The full pod status the kubelet would report now."""
        inits = [status.container_status(c) for c in self.init_containers]
        mains = [status.container_status(c) for c in self.containers]
        terminal = self.terminal_phase is not None or self.being_deleted()
        pod_phase = self.terminal_phase or status.phase(self.spec, inits, mains, terminal=terminal)
        conds = status.conditions(self.spec, inits, mains, pod_phase,
                                  sandbox_ready=pod_phase not in ("Succeeded", "Failed")
                                  and not self.being_deleted())
        conds = status.carry_transition_times(conds, self.old_conditions)
        self.old_conditions = conds
        out = {
            "phase": pod_phase,
            "conditions": conds,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": runtime.rfc3339(self.start_time),
            "containerStatuses": mains,
            # The API server sets qosClass at creation and refuses any other value.
            "qosClass": (self.pod.get("status") or {}).get("qosClass") or status.qos_class(self.spec),
        }
        if inits:
            out["initContainerStatuses"] = inits
        if self.reason:
            out["reason"] = self.reason
            out["message"] = self.message
        return out

    # -- timers and clean-up ------------------------------------------------------------------
    def _wake_at(self, when: float) -> None:
        self.next_wake = when if self.next_wake is None else min(self.next_wake, when)

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.agent.crash_backoff.forget(self.uid)
        self.agent.pull_backoff.forget(self.uid)


def _go_duration(seconds: float) -> str:
    """Go's time.Duration String() for whole seconds: 10s, 1m20s, 5m0s."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60}s"


_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def _expand_all(values: list[str] | None, worker: PodWorker, c: Container) -> list[str] | None:
    """Expand $(VAR) in command/args from the container's env, as Kubernetes does."""
    if values is None:
        return None
    env = worker.agent.spec_env(worker, c)

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return [_VAR.sub(sub, v) for v in values]
