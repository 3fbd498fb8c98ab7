"""The sandbox's container runtime: one container instance = one process group.

A container is started with its resolved argv, its environment and a scratch
folder, in a new session (so it is signalled as a group, like a cgroup), with
PDEATHSIG (so it dies with the agent) and with the cluster's marker in its
environment (so leftovers can be found). Its exit status is decoded the way a
container runtime reports it: an exit code, or 128+n for death by signal n.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .. import procs
from .logs import LogWriter


@dataclass
class Termination:
    """How one container instance ended (containerStatuses[].state.terminated)."""

    exit_code: int
    reason: str
    started_at: float
    finished_at: float
    container_id: str
    message: str | None = None

    def as_api(self) -> dict:
        out = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": rfc3339(self.started_at),
            "finishedAt": rfc3339(self.finished_at),
        }
        if self.container_id:
            out["containerID"] = self.container_id
        if self.message:
            out["message"] = self.message
        return out

    @classmethod
    def from_api(cls, data: dict) -> "Termination":
        return cls(
            exit_code=data.get("exitCode", 0),
            reason=data.get("reason", ""),
            started_at=parse_time(data.get("startedAt")),
            finished_at=parse_time(data.get("finishedAt")),
            container_id=data.get("containerID", ""),
            message=data.get("message"),
        )


@dataclass
class Instance:
    """One running (or just ended) process of a container."""

    proc: subprocess.Popen
    container_id: str
    started_at: float
    log: LogWriter
    pidfd: int
    pipes: dict[int, str] = field(default_factory=dict)  # fd -> "stdout"/"stderr"
    files: dict[int, object] = field(default_factory=dict)  # fd -> the file object that owns it
    termination: Termination | None = None
    kill_reason: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.termination is None


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_time(value: str | None) -> float:
    if not value:
        return time.time()
    import datetime as dt

    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def start(argv: list[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> Instance:
    """Start one container instance; raises OSError if argv[0] cannot be executed."""
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=_container_setup, close_fds=True,
    )
    for pipe in (proc.stdout, proc.stderr):
        os.set_blocking(pipe.fileno(), False)
    instance = Instance(
        proc=proc,
        container_id=f"labkit://{uuid.uuid4().hex}",
        started_at=time.time(),
        log=LogWriter(log_path),
        pidfd=os.pidfd_open(proc.pid),
    )
    instance.pipes = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    instance.files = {proc.stdout.fileno(): proc.stdout, proc.stderr.fileno(): proc.stderr}
    return instance


def close_pipe(instance: Instance, fd: int) -> None:
    """Close a pipe through the file object that owns it (never a bare fd, which may be reused)."""
    instance.pipes.pop(fd, None)
    owner = instance.files.pop(fd, None)
    if owner is not None:
        owner.close()


def _container_setup() -> None:
    os.setsid()
    procs.die_with_parent()
    # Containers start with default signal dispositions, as after exec in a runtime.
    for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def reap(instance: Instance) -> Termination:
    """Collect an exited instance's status (exit code, or 128+signal).

    A container ends with its main process, as in a PID namespace: whatever it
    left running in its process group is killed first (the unreaped leader
    keeps the group id from being reused).
    """
    try:
        os.killpg(instance.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    code = instance.proc.wait()
    exit_code = 128 - code if code < 0 else code
    finished = time.time()
    reason = "Completed" if exit_code == 0 else "Error"
    try:
        os.close(instance.pidfd)
    except OSError:
        pass
    instance.termination = Termination(
        exit_code=exit_code, reason=reason, started_at=instance.started_at,
        finished_at=finished, container_id=instance.container_id,
    )
    return instance.termination


def signal_container(instance: Instance, sig: int) -> bool:
    """Signal a container as a runtime does; False when the signal had no effect.

    SIGKILL ends the whole process group. Any other signal goes to the main
    process only, and only if that process handles it: a container's main
    process is PID 1 of its PID namespace, and the kernel drops a signal sent
    to it from outside whose action is the default. (So a Python or shell main
    process ignores SIGTERM, and a deletion waits out its grace period.)
    """
    pid = instance.proc.pid
    try:
        if sig == signal.SIGKILL:
            os.killpg(pid, sig)
            return True
        if not _handles(pid, sig):
            return False
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _handles(pid: int, sig: int) -> bool:
    """Whether ``pid`` has a handler for ``sig`` (the SigCgt mask of /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except OSError:
        pass
    return False


def exit_description(exit_code: int) -> str:
    """``137`` -> ``SIGKILL`` for messages."""
    if exit_code > 128:
        try:
            return signal.Signals(exit_code - 128).name
        except ValueError:
            pass
    return f"exit code {exit_code}"
