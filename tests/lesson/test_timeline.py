"""``lab.timeline(job=...)``: one bar per attempt, coloured by outcome, back-off gaps visible."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.colors import to_hex  # noqa: E402

from labkit.timeline import COLOURS  # noqa: E402

from .conftest import job  # noqa: E402


def bars(fig):
    return [p for p in fig.axes[0].patches]


def test_one_red_bar_per_attempt_of_a_failing_job(failed_job):
    fig = failed_job.timeline(job="test-job")
    ax = fig.axes[0]
    assert len(bars(fig)) == 3
    assert {to_hex(b.get_facecolor()) for b in bars(fig)} == {COLOURS["failed"]}
    assert ax.get_title() == "job/test-job: 3 attempts"
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == [p["metadata"]["name"] for p in failed_job.job_pods("test-job")]
    starts = [b.get_x() for b in bars(fig)]
    assert starts == sorted(starts) and starts[0] == 0
    # The Job controller's back-off (10 s, then 20 s) separates the attempts.
    waits = [t.get_text() for t in ax.texts if t.get_text().startswith("wait ")]
    assert len(waits) == 2
    first, second = (int(w.removeprefix("wait ").removesuffix("s")) for w in waits)
    assert 5 <= first < second


def test_a_successful_job_is_one_green_bar(lab):
    lab.apply(job("fine", "sleep 1"), quiet=True)
    lab.wait("job/fine", "condition=Complete", timeout=60)
    fig = lab.timeline(job="fine")
    assert [to_hex(b.get_facecolor()) for b in bars(fig)] == [COLOURS["succeeded"]]
    assert fig.axes[0].get_title() == "job/fine: 1 attempt"


def test_a_job_without_pods_says_so(lab):
    fig = lab.timeline(job="missing")
    assert bars(fig) == []
    assert [t.get_text() for t in fig.axes[0].texts] == ["job/missing has no pods (yet)"]
