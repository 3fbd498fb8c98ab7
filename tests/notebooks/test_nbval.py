"""nbval over the committed notebooks, against the session sandbox, with the rules labkit ships.

The stored outputs come from `labkit course record`; the static tests below keep
them in the shape nbval needs (and free of anything from the author's machine)
without a cluster, the last one runs nbval itself.
"""

from __future__ import annotations

import re
import sys

import pytest

from labkit import course, nbsanitize

from .conftest import NOTEBOOKS, REPO, cluster_env, lesson_notebooks, read, run

PATHS = lesson_notebooks()
IDS = [p.stem for p in PATHS]
CELL_TIMEOUT = 300


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_stored_outputs_are_clean(path):
    nb = read(path)
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata
    for i, cell in enumerate(nb.cells):
        assert not {"papermill", "execution", "ExecuteTime"} & set(cell.metadata), f"cell {i}: run metadata"
        if cell.cell_type != "code":
            continue
        if not nbsanitize.compared(cell):
            assert cell.outputs == [], f"cell {i} is not compared by nbval: it must store no output"
        if cell.execution_count is None:
            assert cell.outputs == [], f"cell {i}: nbval rejects outputs on a cell stored as not run"
        for out in cell.outputs:
            text = str(out.get("text", "")) + "".join(str(v) for v in out.get("data", {}).values())
            assert nbsanitize.sanitize(text) == text, f"cell {i}: output not sanitized (run labkit course record)"
            assert out.get("output_type") != "error", f"cell {i}: a stored error"
    assert nbsanitize.leaks(nb) == []


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_check_cells_store_their_line_when_recorded(path):
    """A recorded check cell shows the one ✅/❌ line, in text/plain, for nbval to compare strictly."""
    nb = read(path)
    for i, cell in enumerate(nb.cells):
        if "check" not in cell.metadata.get("tags", []) or cell.execution_count is None:
            continue
        plain = [o["data"]["text/plain"] for o in cell.outputs
                 if o.get("output_type") == "execute_result" and "text/plain" in o.get("data", {})]
        assert len(plain) == 1 and course.CHECK_LINE.match(plain[0]) and "\n" not in plain[0].strip(), \
            f"cell {i}: expected one check line, stored {plain!r}"


@pytest.mark.slow
def test_nbval_passes_on_the_sandbox(sandbox, tmp_path):
    proc = run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
                "--nbval-sanitize-with", str(nbsanitize.RULES_FILE),
                f"--nbval-cell-timeout={CELL_TIMEOUT}", "-p", "no:cacheprovider", "-q",
                str(NOTEBOOKS)],
               cluster_env(sandbox, tmp_path, LABKIT_FAST="1"), cwd=REPO)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    m = re.search(r"(\d+) passed", tail)
    code_cells = sum(1 for p in PATHS for c in read(p).cells if c.cell_type == "code")
    assert m and int(m.group(1)) == code_cells, f"expected {code_cells} cells to pass: {tail}"
    assert "failed" not in tail and "error" not in tail
