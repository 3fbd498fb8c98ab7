"""Starting, finding and stopping the sandbox's processes without leaving orphans.

Three layers keep the process table clean:
1. every child is started with ``PR_SET_PDEATHSIG=SIGKILL`` so the kernel kills
   it when its parent dies (Linux only; a no-op elsewhere);
2. every child runs in its own process group, stopped as a group;
3. every process carries ``LABKIT_SANDBOX_ID=<cluster id>`` in its environment,
   so a later ``labkit up/status/down`` can find and kill what a crash left
   behind (grandchildren that escaped the first two layers, say).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Iterable

MARKER = "LABKIT_SANDBOX_ID"
_PR_SET_PDEATHSIG = 1

try:
    _libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except OSError:  # pragma: no cover - unusual libc
    _libc = None


def die_with_parent() -> None:
    """In a forked child: ask the kernel for SIGKILL when the parent exits."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _child_setup() -> None:
    os.setsid()
    die_with_parent()


def spawn(
    argv: list[str],
    *,
    env: dict[str, str],
    log: IO | Path,
    cwd: Path | None = None,
    stderr: IO | Path | None = None,
) -> subprocess.Popen:
    """Start ``argv`` in a new session that dies with us.

    ``log`` receives stdout (and stderr unless ``stderr`` is given); paths are
    opened for appending so a restarted component keeps its history.
    """
    out = open(log, "ab", buffering=0) if isinstance(log, Path) else log
    err = open(stderr, "ab", buffering=0) if isinstance(stderr, Path) else (stderr or subprocess.STDOUT)
    try:
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            preexec_fn=_child_setup, close_fds=True,
        )
    finally:
        if isinstance(log, Path):
            out.close()
        if isinstance(stderr, Path):
            err.close()  # type: ignore[union-attr]


def alive(pid: int | None) -> bool:
    """Is ``pid`` a live (non-zombie) process?"""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return sys.platform != "linux"


def environ_of(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with (empty if unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def marked(cluster_id: str, *, role: str | None = None) -> list[int]:
    """Pids of live processes carrying this cluster's marker (optionally of one role)."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        env = environ_of(int(entry.name))
        if env.get(MARKER) != cluster_id:
            continue
        if role is not None and env.get("LABKIT_ROLE") != role:
            continue
        if alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``'s process group (or to ``pid`` alone if it has none)."""
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop(pids: Iterable[int], *, grace: float = 10.0) -> None:
    """SIGTERM each group, wait up to ``grace`` seconds, then SIGKILL the rest."""
    pids = [p for p in pids if alive(p)]
    for pid in pids:
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        _reap()
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        _reap()
        time.sleep(0.02)


def _reap() -> None:
    """Collect exited children so they do not linger as zombies."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
