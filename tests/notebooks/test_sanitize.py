"""The shipped nbval rules: what they hide, what they keep, and that recording is stable."""

from __future__ import annotations

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from labkit import nbsanitize
from labkit.nbsanitize import sanitize

CASES = [
    ("test-job-x7k2p   0/1   Completed   0   12s", "test-job-XXXXX   0/1   Completed   0   AGE"),
    ("web-7d4b9c8f6d-zx9qm   1/1   Running   0   2m30s", "web-HASH-XXXXX   1/1   Running   0   AGE"),
    ("export KUBECONFIG=/root/.local/state/labkit/ana/kubeconfig", "export KUBECONFIG=PATH"),
    ("see /home/ana/lab/notebooks/x.yaml", "see PATH"),
    ("API at https://127.0.0.1:6443/api/v1", "API at https://IP/api/v1"),
    ("uid: 3f2a1b4c-1234-4abc-9def-0123456789ab", "uid: UID"),
    ("Start Time:  Thu, 03 Dec 2026 19:04:05 +0000", "Start Time:  TIMESTAMP"),
    ("creationTimestamp: 2026-12-03T19:04:05Z", "creationTimestamp: TIMESTAMP"),
    ("killed container work of pod 03-x/job-a (pid 4242) with SIGKILL", "killed container work of pod 03-x/job-a (pid PID) with SIGKILL"),
    ("pod ran on labkit-node-2", "pod ran on labkit-node-N"),
    ("this lesson works in namespace ana-01-pods-and-restart-policies",
     "this lesson works in namespace 01-pods-and-restart-policies"),
    ("sandbox 'ana': Kubernetes v1.37.2, 2 nodes", "sandbox: Kubernetes v1.37.2, 2 nodes"),
    ("client-key-data: LS0tLS1CRUdJTi", "client-key-data: DATA"),
]

KEPT = [
    "✅ 00.1 pod/hello Completed, 0 restarts",
    "❌ 02.1 job/pi: expected condition Complete, saw no job named pi in namespace 02-jobs — hint: set completions: 3",
    "this lesson works in namespace 00-setup",
    "hello from pod hello",
    "pod/test-job created",
    "apiVersion: batch/v1 with backoffLimit: 2 and restartPolicy: Never, exit code 137 (Error)",
    "<div style='border:2px solid #1a7f37;border-radius:6px;padding:8px 12px'>",
]


@pytest.mark.parametrize("raw,clean", CASES)
def test_cluster_details_are_hidden(raw, clean):
    assert sanitize(raw) == clean
    assert sanitize(clean) == clean  # recording twice changes nothing


@pytest.mark.parametrize("text", KEPT)
def test_our_own_lines_are_compared_as_they_are(text):
    assert sanitize(text) == text


def test_nbval_reads_the_same_rules():
    text = nbsanitize.RULES_FILE.read_text()
    assert len(get_sanitize_patterns(text)) == len(nbsanitize.rules()) >= 10


def test_clean_outputs_keeps_compared_cells_and_empties_ignored_ones():
    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# t"),
        nbformat.v4.new_code_cell("print(path)", metadata={"tags": ["nbval-ignore-output"]}),
        nbformat.v4.new_code_cell("check()", metadata={"tags": ["check"]}),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nlab.kubectl('get pods')"),
    ])
    executed = nbformat.from_dict(source)
    executed.metadata["papermill"] = {"duration": 3.2}
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", text="/root/.kube/x\n")]
    executed.cells[2].outputs = [nbformat.v4.new_output(
        "execute_result", {"text/plain": "✅ 9.1 job/x-b2c4d ran 3s", "text/html": "<b>x</b>"},
        execution_count=7)]
    executed.cells[2].metadata["papermill"] = {"start_time": "2026-12-03T19:00:00"}
    executed.cells[3].outputs = [nbformat.v4.new_output("stream", text="x-b2c4d 1/1 Running\n")]
    source.metadata["papermill"] = {"duration": 3.2}
    nbsanitize.clean_outputs(source, executed)
    assert "papermill" not in source.metadata
    ignored, checked, marked = source.cells[1], source.cells[2], source.cells[3]
    assert ignored.outputs == [] and ignored.execution_count is None
    assert marked.outputs == [] and marked.execution_count is None
    assert checked.execution_count == 1 and "papermill" not in checked.metadata
    assert checked.outputs[0]["data"]["text/plain"] == "✅ 9.1 job/x-XXXXX ran AGE"
    assert checked.outputs[0]["execution_count"] == 1
    assert source.cells[2].source == "check()"
    nbformat.validate(source)
