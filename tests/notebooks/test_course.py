"""`labkit course run` on the real sandbox: the starter fails every exercise check, the solutions pass.

The whole course runs twice per module (once with solutions, once as the learner
gets it, both with CI parameters), then every assertion reads those two runs.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest

from labkit import course

from .conftest import LABKIT, cluster_env, lesson_notebooks, one_lesson_course, read, run

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")

NOTEBOOKS = lesson_notebooks()
EXERCISES = [(p.stem, ex) for p in NOTEBOOKS for ex in course.exercise_ids(read(p))]
OTHER_CHECKS = [(p.stem, ex) for p in NOTEBOOKS
                for ex in course.check_ids(read(p)) if ex not in course.exercise_ids(read(p))]


def check_results(stdout: str) -> dict[str, bool]:
    """exercise id → passed, from the ✅/❌ lines of a course run."""
    results = {}
    for line in stdout.splitlines():
        m = course.CHECK_LINE.match(line)
        if m:
            assert m.group(2) not in results, f"check {m.group(2)} reported twice:\n{stdout}"
            results[m.group(2)] = m.group(1) == "✅"
    return results


@pytest.fixture(scope="module")
def solution_run(sandbox, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course-solution")
    return run([LABKIT, "course", "run", "--fast", "--backend", "sandbox", "--name", sandbox.name,
                "--output", str(tmp)], cluster_env(sandbox, tmp))


@pytest.fixture(scope="module")
def starter_run(sandbox, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course-starter")
    return run([LABKIT, "course", "run", "--fast", "--starter", "--backend", "sandbox", "--name",
                sandbox.name, "--output", str(tmp)], cluster_env(sandbox, tmp))


def test_every_notebook_has_exercises_with_solutions():
    assert NOTEBOOKS, "no lesson notebooks found"
    for path in NOTEBOOKS:
        nb = read(path)
        checks = course.check_ids(nb)
        for ex in course.exercise_ids(nb):
            assert ex in checks, f"{path.name}: exercise {ex} has no check cell"


@pytest.mark.slow
def test_course_run_fast_passes_every_check(solution_run):
    lines = solution_run.stdout.strip().splitlines()
    assert solution_run.returncode == 0, solution_run.stdout + solution_run.stderr
    m = SUMMARY.match(lines[-1])
    assert m, f"last line is not the summary: {lines[-1]!r}"
    total = sum(len(course.check_ids(read(p))) for p in NOTEBOOKS)
    assert (int(m.group(1)), int(m.group(2)), m.group(3)) == (total, 0, None), "a 2-node sandbox skips no check"
    for path in NOTEBOOKS:
        assert re.search(rf"^   {re.escape(path.stem)}: \d+ check\(s\) in [\d.]+s$", solution_run.stdout,
                         re.MULTILINE), f"no progress line for {path.stem}"


@pytest.mark.slow
def test_starter_run_fails_exactly_the_exercises(starter_run):
    lines = starter_run.stdout.strip().splitlines()
    assert starter_run.returncode == 0, starter_run.stdout + starter_run.stderr
    m = SUMMARY.match(lines[-1])
    assert m and m.group(2) == "0", lines[-1]


@pytest.mark.slow
@pytest.mark.parametrize("notebook,exercise", EXERCISES, ids=[f"{n}:{e}" for n, e in EXERCISES])
def test_starter_fails_and_solution_passes(notebook, exercise, starter_run, solution_run):
    starter, solved = check_results(starter_run.stdout), check_results(solution_run.stdout)
    assert exercise in starter, f"{exercise}: no check line in the starter run"
    assert exercise in solved, f"{exercise}: no check line in the solution run"
    assert starter[exercise] is False, f"{exercise}: the untouched starter already passes its check"
    assert solved[exercise] is True, f"{exercise}: the solution does not pass its check"


@pytest.mark.slow
@pytest.mark.parametrize("notebook,check_id", OTHER_CHECKS, ids=[f"{n}:{e}" for n, e in OTHER_CHECKS])
def test_other_checks_pass_in_both_runs(notebook, check_id, starter_run, solution_run):
    assert check_results(starter_run.stdout).get(check_id) is True, f"{check_id} in the starter run"
    assert check_results(solution_run.stdout).get(check_id) is True, f"{check_id} in the solution run"


def _broken_course(folder):
    """A one-lesson course whose second code cell raises."""
    # The check cell holds a line stored by an earlier recording: it must not count as a result.
    stale = nbformat.v4.new_code_cell('labkit.check("98.1", labkit.expect.pod("never"), timeout=1)',
                                      metadata={"tags": ["check"], "labkit": {"check": "98.1"}},
                                      execution_count=3)
    stale.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "✅ 98.1 pod/never stale"},
                                            execution_count=3)]
    one_lesson_course(folder, "98-broken",
                      nbformat.v4.new_code_cell('raise RuntimeError("this lesson is broken on purpose")'),
                      stale)


def test_failing_notebook_is_saved_with_the_failing_cell_marked(sandbox, tmp_path):
    _broken_course(tmp_path)
    proc = run([LABKIT, "course", "run", "--fast", "--backend", "sandbox", "--name", sandbox.name],
               cluster_env(sandbox, tmp_path), cwd=tmp_path, timeout=300)
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "0 passed, 2 failed"
    assert any(line.startswith("❌ 98-broken stopped at In [2]: RuntimeError: this lesson is broken on purpose")
               for line in lines), proc.stdout
    assert "❌ 98.1 no result: the notebook stopped before it" in lines
    assert not any("stale" in line for line in lines)
    saved = nbformat.read(str(tmp_path / "notebooks" / "_executed" / "98-broken.ipynb"), as_version=4)
    assert "An Exception was encountered" in saved.cells[0].source
    failing = [c for c in saved.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
               and c.metadata.get("papermill", {}).get("exception")]
    assert len(failing) == 1 and "broken on purpose" in failing[0].source


def test_only_with_an_unknown_notebook_says_what_to_use(tmp_path):
    env = dict(os.environ, LABKIT_PROGRESS=str(tmp_path / "progress.json"))
    proc = run([LABKIT, "course", "run", "--only", "77"], env, timeout=60)
    assert proc.returncode == 1
    assert "matches --only 77" in proc.stderr and "e.g. --only 02" in proc.stderr

