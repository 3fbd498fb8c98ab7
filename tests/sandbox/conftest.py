"""Fixtures for tests that need a cluster of their own (lifecycle, crashes).

Those clusters live in a temporary LABKIT_HOME, so they never touch the
session cluster or a learner's clusters; every one is purged afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from labkit.progress import Progress
from labkit.sandbox import procs
from labkit.sandbox.cluster import Sandbox


@pytest.fixture(scope="module")
def private_home(tmp_path_factory):
    """A LABKIT_HOME for this module only (restored afterwards)."""
    home = tmp_path_factory.mktemp("labkit-home")
    old = os.environ.get("LABKIT_HOME")
    os.environ["LABKIT_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("LABKIT_HOME", None)
    else:
        os.environ["LABKIT_HOME"] = old


@pytest.fixture(scope="module")
def own_cluster(private_home):
    """A one-node cluster owned by this module, purged at the end."""
    box = Sandbox(f"own-{uuid.uuid4().hex[:6]}", progress=Progress(quiet=True))
    box.up(1)
    yield box
    cfg_id = box.config().id if box.config() else None
    box.down(purge=True)
    if cfg_id:
        assert procs.marked(cfg_id) == [], "processes left behind by the module's cluster"


def labkit_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the `labkit` command as a learner would (a fresh process)."""
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout, stdin=subprocess.DEVNULL)


def component_pids(box: Sandbox) -> dict[str, int]:
    return {name: info["pid"] for name, info in box.state().get("components", {}).items()}


def kubeconfig_client(path: Path):
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def busybox_pod(name: str, command: list[str], policy: str = "Always") -> dict:
    """A one-container busybox pod (the sandbox runs it with the host's sh)."""
    return {"metadata": {"name": name},
            "spec": {"restartPolicy": policy,
                     "containers": [{"name": "c", "image": "busybox", "command": command}]}}
