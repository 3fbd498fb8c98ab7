"""Drive JupyterLab: start a server on a random port, open a notebook, Run All, read the page.

Used by the e2e fixtures; nothing here knows about the course.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# JupyterLab user settings for a quiet, deterministic page: every cell stays in the
# DOM (no windowing), nothing is autosaved, no news or update checks (no network here).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterLab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    log: Path
    proc: subprocess.Popen

    def api(self, path: str) -> dict:
        req = urllib.request.Request(f"{self.url}{path}",
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_jupyterlab(root: Path, scratch: Path, env: dict[str, str], timeout: float = 90) -> JupyterLab:
    """Start JupyterLab over ``root``; wait until its REST API answers."""
    settings = scratch / "lab-settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    for sub in ("config", "data", "runtime", "workspaces", "ipython"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    env = dict(env)
    env.update(
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_DATA_DIR=str(scratch / "data"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        IPYTHONDIR=str(scratch / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        # `!kubectl` cells find the venv's kubectl, as after `make lab`.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = scratch / "jupyterlab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root, log, proc)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{lab.log_tail()}")
        try:
            lab.api("/api/status")
            return lab
        except OSError:
            if time.monotonic() > deadline:
                lab.stop()
                raise RuntimeError(f"JupyterLab did not answer in {timeout}s:\n{lab.log_tail()}")
            time.sleep(0.5)


class NotebookPage:
    """One notebook open in JupyterLab, with the few actions a learner takes."""

    def __init__(self, page, lab: JupyterLab):
        self.page = page
        self.lab = lab

    def open(self, notebook: str, timeout: float = 120) -> None:
        """Open ``notebook`` (relative to the root) and wait for its kernel to be idle."""
        self.page.goto(f"{self.lab.url}/lab/tree/{notebook}?token={self.lab.token}")
        self.page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=timeout * 1000)
        self.wait_idle(timeout)

    def kernel_status(self) -> str:
        indicator = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator")
        return indicator.first.get_attribute("data-status") or "unknown"

    def wait_idle(self, timeout: float) -> None:
        """Wait until the kernel is idle and no cell is queued or running (twice in a row)."""
        deadline = time.monotonic() + timeout
        calm = 0
        while calm < 2:
            busy = self.running_cells() > 0 or self.kernel_status() != "idle"
            calm = 0 if busy else calm + 1
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"kernel still busy after {timeout}s (status {self.kernel_status()}, "
                    f"{self.running_cells()} cell(s) running or queued)"
                )
            time.sleep(0.5)

    def running_cells(self) -> int:
        return self.page.locator(".jp-CodeCell .jp-InputPrompt", has_text="[*]").count()

    def run_all(self, timeout: float, *, wait: bool = True) -> None:
        """Run ▸ Run All Cells from the menu bar, then (``wait``) wait for the kernel to settle."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        # Let the first cell get queued before waiting for the queue to drain.
        self.page.locator(".jp-CodeCell .jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]")).first.wait_for(
            timeout=30_000)
        if wait:
            self.wait_idle(timeout)

    def code_cells(self) -> list[str]:
        """Each code cell's prompt, e.g. ``[3]:``; ``[ ]:`` means it never ran."""
        return [t.strip() for t in self.page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]

    def errors(self) -> list[str]:
        """Tracebacks shown in output areas (JupyterLab renders them as stderr, so match the text)."""
        stderr = self.page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        ).all_inner_texts()
        return [text for text in stderr if "Traceback" in text]

    def screenshot(self, path: Path) -> Path:
        """Save what the browser shows now as a PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return path
