"""``lab.timeline(job=...)``: a Job's attempts over time, so the back-off is visible.

Each pod the Job created is one horizontal bar, from the pod's creation to
the end of its container's run (or now, if it is still going), coloured by
outcome. The gaps between bars are the Job controller's exponential back-off
(10 s, 20 s, 40 s …).
"""

from __future__ import annotations

import time

from .kubectl_columns import parse_time

COLOURS = {"succeeded": "#2da44e", "failed": "#cf222e", "running": "#0969da", "pending": "#8c959f"}


def attempt(pod: dict, now: float) -> dict:
    """One bar: name, start, end (epoch seconds) and outcome of a Job's pod."""
    status = pod.get("status") or {}
    start = parse_time(pod["metadata"].get("creationTimestamp")) or now
    end, outcome = None, "pending"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" in state:
            end = parse_time(state["terminated"].get("finishedAt"))
            outcome = "succeeded" if state["terminated"].get("exitCode") == 0 else "failed"
        elif "running" in state:
            outcome = "running"
    phase = status.get("phase")
    if phase == "Succeeded":
        outcome = "succeeded"
    elif phase == "Failed":
        outcome = "failed"
    if end is None:
        end = parse_time(pod["metadata"].get("deletionTimestamp")) if outcome == "failed" else None
    return {"name": pod["metadata"]["name"], "start": start, "end": end or now, "outcome": outcome}


def timeline(lab, job: str):
    """Draw the Job's pods as bars over time and return the matplotlib Figure.

    Examples
    --------
    >>> fig = lab.timeline(job="test-job")  # doctest: +SKIP
    >>> len(fig.axes[0].patches)  # one bar per attempt  # doctest: +SKIP
    3
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    now = time.time()
    bars = [attempt(p, now) for p in lab.job_pods(job)]
    fig, ax = plt.subplots(figsize=(8, 0.6 * max(len(bars), 1) + 1.4))
    if not bars:
        ax.text(0.5, 0.5, f"job/{job} has no pods (yet)", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        plt.close(fig)
        return fig
    t0 = min(b["start"] for b in bars)
    for i, b in enumerate(bars):
        ax.barh(i, max(b["end"] - b["start"], 0.2), left=b["start"] - t0, color=COLOURS[b["outcome"]],
                edgecolor="black", linewidth=0.5)
        ax.text(b["end"] - t0 + 0.3, i, f"{b['end'] - b['start']:.0f}s", va="center", fontsize=8)
    for prev, nxt in zip(bars, bars[1:]):
        gap = nxt["start"] - prev["end"]
        if gap > 1:
            ax.annotate(f"wait {gap:.0f}s", xy=((prev["end"] + nxt["start"]) / 2 - t0, bars.index(nxt) - 0.5),
                        ha="center", va="center", fontsize=8, color="#57606a")
    ax.set_yticks(range(len(bars)), [b["name"] for b in bars])
    ax.invert_yaxis()
    ax.set_xlabel(f"seconds since the first pod of job/{job} was created")
    ax.set_title(f"job/{job}: {len(bars)} attempt{'s' if len(bars) != 1 else ''}")
    seen = sorted({b["outcome"] for b in bars}, key=list(COLOURS).index)
    ax.legend(handles=[Patch(color=COLOURS[o], label=o) for o in seen], loc="lower right", fontsize=8)
    fig.tight_layout()
    plt.close(fig)  # returned for display; keeps pyplot from showing it twice
    return fig
