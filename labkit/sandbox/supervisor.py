"""The sandbox's supervisor: one small daemon that owns every component process.

``labkit up`` prepares the state folder, then starts this module detached
(``python -m labkit.sandbox.supervisor <state dir>``). It starts the
components listed in ``components.json``, restarts any that die (with a
back-off, like a kubelet restarting static pods), and on SIGTERM stops them in
reverse order. Each component is started with PDEATHSIG, so killing the
supervisor with SIGKILL takes the whole cluster down with it. It imports only
the standard library, so it starts fast and stays small.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import procs

STOP_GRACE = {"node-agent": 20.0}
DEFAULT_GRACE = 10.0
MAX_RESTART_DELAY = 30.0


class Supervisor:
    """Run, watch and stop the components of one cluster."""

    def __init__(self, state_dir: Path):
        self.dir = state_dir
        spec = json.loads((state_dir / "components.json").read_text())
        self.cluster_id: str = spec["id"]
        self.components: list[dict] = spec["components"]
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {c["name"]: 0 for c in self.components}
        self.next_start: dict[str, float] = {}
        self.started_at: dict[str, float] = {}
        self.stopping = False
        self.created = time.time()
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)

    # -- state file ------------------------------------------------------------
    def write_state(self, phase: str) -> None:
        state = {
            "id": self.cluster_id,
            "supervisor": os.getpid(),
            "phase": phase,
            "started": self.created,
            "components": {
                c["name"]: {
                    "pid": self.procs[c["name"]].pid if c["name"] in self.procs else None,
                    "restarts": self.restarts[c["name"]],
                    "started": self.started_at.get(c["name"]),
                }
                for c in self.components
            },
        }
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.dir / "state.json")

    # -- running ---------------------------------------------------------------
    def _env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("LABKIT_SUPERVISES", None)  # only the supervisor itself carries it
        env[procs.MARKER] = self.cluster_id
        env["LABKIT_ROLE"] = name
        env["LABKIT_STATE_DIR"] = str(self.dir)
        return env

    def start(self, component: dict) -> None:
        name = component["name"]
        log = self.dir / "logs" / f"{name}.log"
        self.procs[name] = procs.spawn(component["argv"], env=self._env(name), log=log)
        self.started_at[name] = time.time()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for component in self.components:
            self.start(component)
        self.write_state("running")
        while not self.stopping:
            self._watch_once()
            time.sleep(0.2)
        self.stop_all()
        return 0

    def _watch_once(self) -> None:
        """Restart any component that exited, with a doubling delay."""
        changed = False
        now = time.monotonic()
        for component in self.components:
            name = component["name"]
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                continue
            if proc is not None:
                delay = min(2 ** self.restarts[name], MAX_RESTART_DELAY)
                self._log(f"{name} exited with {proc.returncode}; restarting in {delay:.0f}s")
                del self.procs[name]
                self.next_start[name] = now + delay
                self.restarts[name] += 1
                changed = True
            elif now >= self.next_start.get(name, 0):
                self.start(component)
                changed = True
        if changed:
            self.write_state("running")

    def _on_stop(self, signum, frame) -> None:
        self.stopping = True

    def stop_all(self) -> None:
        """Stop in reverse start order: node agent first, etcd last."""
        self.write_state("stopping")
        for component in reversed(self.components):
            proc = self.procs.get(component["name"])
            if proc is None or proc.poll() is not None:
                continue
            procs.signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE.get(component["name"], DEFAULT_GRACE))
            except subprocess.TimeoutExpired:
                procs.signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # Anything that escaped its process group (a container's grandchild)
        # still carries the cluster's marker.
        leftovers = procs.marked(self.cluster_id)
        if leftovers:
            procs.stop(leftovers, grace=2)
        self.procs.clear()
        self.write_state("stopped")

    def _log(self, message: str) -> None:
        with open(self.dir / "logs" / "supervisor.log", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")


def main(argv: list[str]) -> int:
    state_dir = Path(argv[1])
    return Supervisor(state_dir).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
