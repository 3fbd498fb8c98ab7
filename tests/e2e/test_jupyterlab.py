"""The course in a real browser: JupyterLab, Run All Cells, widgets and checks on the page."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .lab import NotebookPage

REPO = Path(__file__).resolve().parents[2]
LESSON = "01-pods-and-restart-policies.ipynb"


def test_harness_runs_a_scratch_notebook(page, jupyterlab_factory, tmp_path):
    """JupyterLab serves, Chromium renders a live ipywidget, Run All runs every cell."""
    root = tmp_path / "scratch"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import ipywidgets\n"
            "rows = ''.join(f'<tr><td>pod-{i}</td></tr>' for i in range(3))\n"
            "ipywidgets.HTML(f'<table class=\"scratch\">{rows}</table>')"
        ),
        nbformat.v4.new_code_cell("print('✅ scratch')"),
    ]
    nbformat.write(nb, root / "scratch.ipynb")

    lab = jupyterlab_factory(root)
    notebook = NotebookPage(page, lab)
    notebook.open("scratch.ipynb")
    notebook.run_all(timeout=60)

    assert notebook.code_cells() == ["[1]:", "[2]:"]
    assert notebook.errors() == []
    assert page.locator("table.scratch tr").count() == 3
    assert "✅ scratch" in page.locator(".jp-OutputArea-output").all_inner_texts()[-1]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_lesson_01_runs_in_jupyterlab(page, jupyterlab_factory, course_copy, sandbox, output_dir):
    """Lesson 01, Run All in JupyterLab against the session sandbox: pod table rows and a ✅."""
    assert (REPO / "notebooks" / LESSON).exists(), f"notebooks/{LESSON} is missing"
    lab = jupyterlab_factory(
        course_copy,
        KUBECONFIG=str(sandbox.kubeconfig),
        LABKIT_CLUSTER=sandbox.name,
        LABKIT_LEARNER="e2e",
        LABKIT_FAST="1",   # CI parameters: shorter sleeps and check timeouts
    )
    notebook = NotebookPage(page, lab)
    notebook.open(LESSON)
    try:
        notebook.run_all(timeout=900, wait=False)
        # The table is live: later cells delete its pods, so look at it while it shows one.
        row = page.locator(".labkit-watch tbody tr", has=page.locator("td:nth-child(5)")).first
        row.wait_for(timeout=300_000)
        cells = row.locator("td").all_inner_texts()   # NAME READY STATUS RESTARTS AGE
        assert len(cells) == 5 and cells[0].startswith("test-job"), cells
        row.scroll_into_view_if_needed()
        shot = notebook.screenshot(output_dir / "01-pods-and-restart-policies.png")
        assert shot.stat().st_size > 0
        notebook.wait_idle(900)
    finally:
        notebook.screenshot(output_dir / "01-pods-and-restart-policies-end.png")

    prompts = notebook.code_cells()
    assert "[ ]:" not in prompts, f"cells that never ran (an earlier cell failed?): {prompts}"
    assert notebook.errors() == [], notebook.errors()[0][-2000:]
    passed = page.get_by_text("✅")
    assert passed.count() >= 1, "no check shows ✅"
