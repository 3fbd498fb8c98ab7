"""Fixtures for driving the course in a real JupyterLab in headless Chromium.

JupyterLab runs on 127.0.0.1 with a random port and token, over a scratch copy
of ``notebooks/`` (so executed outputs never land in the repository), with its
own settings, config and runtime folders. Chromium is Debian's, driven by
Playwright through ``executable_path``; no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .lab import JupyterLab, start_jupyterlab

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
OUTPUT_DIR = REPO / "test-output" / "e2e"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium); "
                    ".ci/run does this")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where screenshots go: test-output/e2e/ (git-ignored)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture
def course_copy(tmp_path) -> Path:
    """A scratch copy of notebooks/, so running cells never changes the repository."""
    root = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", root,
                    ignore=shutil.ignore_patterns("_executed", ".ipynb_checkpoints"))
    return root


@pytest.fixture
def jupyterlab_factory(tmp_path):
    """Start JupyterLab servers over a folder; all are stopped after the test."""
    started: list[JupyterLab] = []

    def start(root: Path, **env: str) -> JupyterLab:
        lab = start_jupyterlab(root, tmp_path / f"jupyter-{len(started)}", {**os.environ, **env})
        started.append(lab)
        return lab

    yield start
    for lab in started:
        lab.stop()
