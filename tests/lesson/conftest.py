"""Fixtures for labkit's lesson API, against the session's real sandbox.

``lab`` is a :class:`labkit.Lesson` bound to the test's own namespace (the
shared ``namespace`` fixture), made active the way ``labkit.lesson()`` does,
with the environment it changes restored afterwards. Every test writes its
check results to a progress file of its own (``LABKIT_PROGRESS``), never to
the learner's.
"""

from __future__ import annotations

import importlib
import os
import uuid
import textwrap

import pytest

import labkit
from labkit.paths import state_root

from ..conftest import TEST_CLUSTER

connect_module = importlib.import_module("labkit.connect")
lesson_module = importlib.import_module("labkit.lesson")


@pytest.fixture(autouse=True)
def progress(tmp_path, monkeypatch):
    """This test's own progress file; returns its path."""
    path = tmp_path / "progress.json"
    monkeypatch.setenv("LABKIT_PROGRESS", str(path))
    return path


@pytest.fixture(autouse=True)
def _kubeconfig_copies_removed():
    """Each Lesson writes a kubeconfig copy named after its namespace; tests make many: remove them."""
    folder = state_root() / "kubeconfigs"
    pattern = f"{TEST_CLUSTER}-t*.yaml"  # test namespaces all start with "t"
    before = set(folder.glob(pattern))
    yield
    for path in set(folder.glob(pattern)) - before:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def conn(sandbox):
    """A labkit Connection to the session sandbox."""
    return labkit.connect("sandbox", name=TEST_CLUSTER, quiet=True)


@pytest.fixture
def lab(conn, namespace, monkeypatch) -> labkit.Lesson:
    """A Lesson working in this test's namespace, active like ``labkit.lesson()`` makes it."""
    for var in ("KUBECONFIG", "LABKIT_NAMESPACE"):
        monkeypatch.setenv(var, "")
    monkeypatch.setattr(lesson_module, "_active", None)
    monkeypatch.setattr(connect_module, "_current", conn)
    lab = labkit.Lesson(namespace, conn, namespace)
    lab._activate()
    return lab


def pod(name: str, script: str, restart: str = "Never", image: str = "busybox", **spec) -> str:
    """A one-container pod manifest running ``sh -c script``."""
    extra = "".join(f"  {k}: {v}\n" for k, v in spec.items())
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
        spec:
          restartPolicy: {restart}
          terminationGracePeriodSeconds: 1
          containers:
            - name: main
              image: {image}
              command: ["sh", "-c", "{script}"]
        """) + extra


def job(name: str, script: str, backoff_limit: int = 0, restart: str = "Never") -> str:
    """A Job manifest whose pod runs ``sh -c script``."""
    return textwrap.dedent(f"""\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: {name}
        spec:
          backoffLimit: {backoff_limit}
          template:
            spec:
              restartPolicy: {restart}
              terminationGracePeriodSeconds: 1
              containers:
                - name: main
                  image: busybox
                  command: ["sh", "-c", "{script}"]
        """)


@pytest.fixture(scope="session", autouse=True)
def _failing_job_started(conn, core):
    """Start, at session start, a Job that fails 3 times (backoffLimit 2, ~35 s of back-off).

    Several tests read it once it has failed; starting it first lets the
    back-off run while the other tests do.
    """
    import uuid

    name = f"t-failing-job-{uuid.uuid4().hex[:5]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"created-by": "labkit-tests"}}})
    lab = labkit.Lesson(name, conn, name)
    lab._ensure_namespace()
    lab.apply(job("test-job", "echo attempt; exit 1", backoff_limit=2), quiet=True)
    yield lab
    lab.kubeconfig.unlink(missing_ok=True)
    try:
        core.delete_namespace(name)
    except Exception:
        pass


@pytest.fixture
def failed_job(_failing_job_started) -> labkit.Lesson:
    """The lesson holding job/test-job once it has failed for good (BackoffLimitExceeded)."""
    lab = _failing_job_started
    lab.wait("job/test-job", "condition=Failed", timeout=150)
    return lab


def pytest_collection_modifyitems(items):
    """Tests that read the failing Job may wait ~35 s for it when run on their own: slow."""
    for item in items:
        if "failed_job" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def learner(monkeypatch, conn, core):
    """A unique LABKIT_LEARNER; the namespaces made under it are deleted afterwards."""
    name = f"t{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("LABKIT_LEARNER", name)
    monkeypatch.setenv("KUBECONFIG", os.environ.get("KUBECONFIG", ""))
    monkeypatch.setenv("LABKIT_NAMESPACE", "")
    monkeypatch.setattr(lesson_module, "_active", None)
    yield name
    for ns in core.list_namespace().items:
        if ns.metadata.name.startswith(f"{name}-"):
            core.delete_namespace(ns.metadata.name)
