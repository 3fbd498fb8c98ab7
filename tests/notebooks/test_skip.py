"""A check that does not apply to the cluster (e.g. needs two nodes) is reported skipped, not failed."""

from __future__ import annotations

import nbformat

from .conftest import LABKIT, cluster_env, one_lesson_course, run


def _course_with_a_skipped_check(folder):
    one_lesson_course(folder, "97-skip", nbformat.v4.new_code_cell(
        'labkit.skip("97.1", "the cluster has one node")',
        metadata={"tags": ["check"], "labkit": {"check": "97.1"}}))


def test_a_skipped_check_is_counted_as_skipped(sandbox, tmp_path):
    _course_with_a_skipped_check(tmp_path)
    proc = run([LABKIT, "course", "run", "--fast", "--backend", "sandbox", "--name", sandbox.name],
               cluster_env(sandbox, tmp_path), cwd=tmp_path, timeout=300)
    lines = proc.stdout.strip().splitlines()
    assert "⏭ 97.1 skipped: the cluster has one node" in lines, proc.stdout
    assert lines[-1] == "0 passed, 0 failed, 1 skipped", proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
