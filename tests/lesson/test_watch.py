"""``lab.watch("pods")``: its model follows a real pod through the watch API."""

from __future__ import annotations

import pytest

from labkit import NotSupported
from labkit.widgets import PodTable, PodWatch, live_kernel

from ..conftest import wait_for
from .conftest import pod


def test_the_model_follows_a_pod_from_pending_to_completed_and_deleted(lab):
    view = PodWatch(lab).start()
    try:
        assert view.model.rows() == []
        lab.apply(pod("runner", "sleep 2"), quiet=True)
        wait_for(lambda: "Completed" in view.model.statuses("runner"), timeout=60,
                 what="the watch to show Completed")
        seen = view.model.statuses("runner")
        assert seen[-1] == "Completed"
        assert "Running" in seen
        assert seen.index("Running") < seen.index("Completed")
        assert seen[0] in ("Pending", "ContainerCreating")
        row = view.model.rows()[0]
        assert (row["NAME"], row["READY"], row["STATUS"], row["RESTARTS"]) == ("runner", "0/1", "Completed", "0")
        assert view.model.text().splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        lab.delete("pod", "runner", wait=False)
        wait_for(lambda: view.model.statuses("runner")[-1] == "<deleted>", timeout=60,
                 what="the watch to see the deletion")
        assert view.model.rows() == []
    finally:
        view.stop()
    assert not view.running
    view._thread.join(45)
    assert not view._thread.is_alive()


def test_the_model_counts_restarts_of_a_crash_loop(lab):
    view = PodWatch(lab).start()
    try:
        lab.apply(pod("crasher", "exit 1", restart="Always"), quiet=True)
        wait_for(lambda: "CrashLoopBackOff" in view.model.statuses("crasher"), timeout=60,
                 what="CrashLoopBackOff in the watch")
        assert "Error" in view.model.statuses("crasher")
        row = view.model.rows()[0]
        assert row["STATUS"] == "CrashLoopBackOff" and row["READY"] == "0/1"
        assert row["RESTARTS"].split()[0] != "0"
    finally:
        view.stop()


def test_outside_a_kernel_watch_prints_a_snapshot(lab, capsys):
    lab.apply(pod("snap", "true"), quiet=True)
    lab.wait("pod/snap", "jsonpath={.status.phase}=Succeeded", timeout=60)
    assert not live_kernel()
    capsys.readouterr()
    shown = lab.watch("pods")
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:4] == ["snap", "0/1", "Completed", "0"]
    assert repr(shown) == "\n".join(out)
    assert isinstance(shown.model, PodTable)


def test_printed_watch_for_some_seconds_streams_changes(lab, capsys):
    lab.apply(pod("streamed", "sleep 1"), quiet=True)
    lab.wait("pod/streamed", "jsonpath={.status.phase}=Running", timeout=60)
    capsys.readouterr()
    lab.watch("pods", seconds=4)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[0] == "NAME"
    assert out[1].split()[:3] == ["streamed", "1/1", "Running"]
    assert any(line.split()[:3] == ["streamed", "0/1", "Completed"] for line in out[2:])


def test_an_empty_namespace_and_other_kinds(lab, capsys):
    lab.watch("po")
    assert capsys.readouterr().out == "No resources found.\n"
    with pytest.raises(NotSupported, match=r"lab.watch shows pods only; for jobs use lab.kubectl\('get jobs'\)"):
        lab.watch("jobs")


def test_the_live_widget_shows_the_table_and_stops_with_its_button(lab):
    view = lab.watch("pods", live=True)
    try:
        assert isinstance(view, PodWatch) and view.running
        table, button = view.box.children
        assert "No resources found." in table.value
        lab.apply(pod("shown", "true"), quiet=True)
        wait_for(lambda: "<td style='padding:2px 12px 2px 0'>Completed</td>" in table.value, timeout=60,
                 what="Completed in the widget's table")
        assert f"watching pods in {lab.namespace}" in table.value
        # What a saved notebook keeps (no widget state there): the table as text, not VBox(...).
        bundle = view._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert bundle["text/plain"].splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert "Completed" in bundle["text/plain"]
        button.click()
        assert not view.running and button.disabled
        assert "stopped" in table.value
    finally:
        view.stop()
