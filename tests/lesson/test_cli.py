"""The lesson side of the ``labkit`` command: doctor, progress, check."""

from __future__ import annotations

import importlib

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import labkit
from labkit import progress_file

from ..conftest import TEST_CLUSTER
from .conftest import pod

lesson_module = importlib.import_module("labkit.lesson")

REPO = Path(__file__).resolve().parents[2]
LABKIT = str(Path(sys.executable).parent / "labkit")


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([LABKIT, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def test_doctor_on_a_ready_machine(sandbox):
    proc = run("doctor")
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[-1] == "all good: run `labkit up`, then open the notebooks"
    assert any(line.startswith("✓ kubectl: v1.37") for line in lines)
    assert any(line.startswith("✓ sandbox binary kube-apiserver: ") for line in lines)
    assert "fix:" not in proc.stdout


def test_doctor_prints_one_fix_per_problem(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    # No binaries (an empty cache, no Go, nothing on PATH) and a state folder that cannot be
    # made: two problems.
    proc = run("doctor", env={"LABKIT_HOME": str(blocked / "state"), "LABKIT_CACHE": str(tmp_path / "cache"),
                              "LABKIT_K8S_BIN": "", "PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    problems = [i for i, line in enumerate(lines) if line.startswith("✗ ")]
    assert [lines[i] for i in problems] == [
        "✗ sandbox binaries: missing: etcd, kube-apiserver, kube-controller-manager, kube-scheduler",
        f"✗ state folder: {blocked / 'state'} is not writable (Not a directory)"]
    assert [lines[i + 1] for i in problems] == [
        "    fix: install Go >= 1.26 (https://go.dev/doc/install), then run: labkit build",
        "    fix: set LABKIT_HOME to a writable folder, e.g. export LABKIT_HOME=$HOME/.labkit"]
    assert sum(line.startswith("    fix: ") for line in lines) == 2
    assert lines[-1] == "2 problem(s): run the fix lines above, then `labkit doctor` again"


def test_progress_table_and_json(progress):
    assert run("progress").stdout == f"no checks recorded yet ({progress})\n"
    progress_file.record("01.2", False, seen="status Running", when=1_780_000_000)
    progress_file.record("01.2", True, when=1_780_000_100)
    progress_file.record("00.10", False, when=1_780_000_200)
    progress_file.record("00.2", True, when=1_780_000_300)
    assert run("progress").stdout.splitlines() == [
        "EXERCISE   DONE   LAST     ATTEMPTS   LAST RUN (UTC)",
        "00.2       yes    passed   1          2026-05-28 20:31:40",
        "00.10      no     failed   1          2026-05-28 20:30:00",
        "01.2       yes    passed   2          2026-05-28 20:28:20",
        "",
        "2 of 3 exercise(s) passed",
    ]
    rows = json.loads(run("progress", "--json").stdout)
    assert rows[2] == {"exercise": "01.2", "attempts": 2, "passed": True, "last": "passed",
                       "time": "2026-05-28T20:28:20Z"}


@pytest.fixture
def learner_lesson(learner, conn):
    """Notebook 00's lesson under a unique LABKIT_LEARNER (so its namespace is this test's)."""
    return labkit.lesson("00-setup", connection=conn)


def test_check_from_a_terminal_runs_the_notebooks_check_cells(learner_lesson, progress):
    lab = learner_lesson
    env = {"LABKIT_LEARNER": os.environ["LABKIT_LEARNER"], "LABKIT_PROGRESS": str(progress)}
    before = run("check", "00.1", "--name", TEST_CLUSTER, "--timeout", "1", env=env)
    assert before.returncode == 1
    assert before.stdout == (f"❌ 00.1 pod/hello: expected status Completed, saw no pod named hello in "
                             f"namespace {lab.namespace} — hint: Run the two cells above (apply, then "
                             "wait) and try again.\n")
    lab.apply(pod("hello", "echo hello"), quiet=True)
    after = run("check", "00.1", "--name", TEST_CLUSTER, env=env)
    assert after.returncode == 0, after.stderr
    assert after.stdout == "✅ 00.1 pod/hello Completed, 0 restarts\n"
    # A notebook number runs all its checks; 00.2's pod was never made.
    whole = run("check", "00", "--name", TEST_CLUSTER, "--timeout", "1", env=env)
    assert whole.returncode == 1
    assert whole.stdout.splitlines()[0] == "✅ 00.1 pod/hello Completed, 0 restarts"
    assert whole.stdout.splitlines()[1].startswith("❌ 00.2 pod/my-first-pod: expected status Completed")
    assert [(e["exercise"], e["passed"]) for e in progress_file.entries()] == [
        ("00.1", False), ("00.1", True), ("00.1", True), ("00.2", False)]
    # The learner's state is checked, not reset.
    assert [p["metadata"]["name"] for p in lab.get("pods")] == ["hello"]


def test_check_names_unknown_exercises(sandbox):
    proc = run("check", "00.9", "--name", TEST_CLUSTER)
    assert proc.returncode == 1
    assert proc.stderr == "error: 00-setup.ipynb has no check for exercise 00.9 (its checks: 00.1, 00.2)\n"
    proc = run("check", "42.1", "--name", TEST_CLUSTER)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no notebook for exercise 42.1 in ")
    assert "(notebooks: 00-setup" in proc.stderr
