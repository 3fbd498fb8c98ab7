"""Binder's postBuild and start scripts, run as Binder would, in a scratch HOME with the project's venv.

The sandbox binaries are reused through LABKIT_K8S_BIN (the cached build), so
postBuild's `labkit build --if-missing` must find them and build nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.sandbox import binaries

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def binder_env(tmp_path) -> dict:
    found = binaries.find_all()
    if not all(found.values()):
        pytest.skip("sandbox binaries are not built (make binaries)")
    bin_dir = {b.path.parent for b in found.values()}
    assert len(bin_dir) == 1, bin_dir
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LABKIT_", "KUBECONFIG", "XDG_"))}
    env.update(HOME=str(home), PATH=f"{VENV_BIN}:{env['PATH']}", LABKIT_K8S_BIN=str(bin_dir.pop()),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def test_postbuild_installs_labkit_and_reuses_the_binaries(binder_env):
    proc = subprocess.run(["bash", str(REPO / "binder" / "postBuild")], env=binder_env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "nothing to build" in proc.stdout, proc.stdout[-2000:]
    home = Path(binder_env["HOME"])
    assert not (home / ".cache" / "labkit" / "build").exists(), "postBuild left Go's build folder behind"


def test_start_brings_the_sandbox_up_before_jupyterlab(binder_env):
    labkit = str(VENV_BIN / "labkit")
    try:
        # `start` ends by exec'ing its arguments (JupyterLab on Binder); here a shell that, like a
        # JupyterLab terminal, inherits start's environment and runs kubectl with no flags.
        probe = f"{labkit} status --json && {VENV_BIN / 'kubectl'} get nodes -o name"
        proc = subprocess.run(
            ["bash", str(REPO / "binder" / "start"), "bash", "-c", probe],
            env=binder_env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert '"running": true' in proc.stdout, proc.stdout
        assert proc.stdout.split()[-2:] == ["node/labkit-node-1", "node/labkit-node-2"], proc.stdout
    finally:
        subprocess.run([labkit, "down", "--purge"], env=binder_env, capture_output=True, timeout=120)
