"""Failure injection from a lesson: kill a container, crash a node and bring it back."""

from __future__ import annotations

import re

import pytest

from labkit import LabkitError, WaitTimeout, check, expect

from .conftest import pod


def test_kill_waits_for_the_container_then_it_ends_with_137(lab, capsys):
    lab.apply(pod("victim", "sleep 60"), quiet=True)
    said = lab.kill("victim")  # right after apply: kill itself waits until the container runs
    assert said.startswith(f"killed container main of pod {lab.namespace}/victim (pid ")
    assert said.endswith(") with SIGKILL")
    assert capsys.readouterr().out == said + "\n"
    result = check("k.1", expect.pod("victim").status("Error").restarts(0).exit_code(137).reason("Error"),
                   timeout=30)
    assert result.line == "✅ k.1 pod/victim Error, 0 restarts, exit code 137 (Error)"


def test_kill_on_an_always_pod_restarts_it_in_place(lab):
    lab.apply(pod("web", "sleep 60", restart="Always"), quiet=True)
    lab.kill("web")
    result = check("k.2", expect.pod("web").status("Running").restarts(1).exit_code(137).reason("Error"),
                   timeout=30)
    assert result.passed, result.line
    uid = lab.get("pod", "web")["metadata"]["uid"]
    # The same pod object, restarted in place: kill it again once it runs.
    lab.kill("web")
    assert check("k.2", expect.pod("web").restarts(at_least=2), timeout=30).passed
    assert lab.get("pod", "web")["metadata"]["uid"] == uid


def test_kill_explains_what_cannot_be_killed(lab):
    lab.apply(pod("one", "sleep 60"), quiet=True)
    with pytest.raises(LabkitError, match='pod/one has no container "sidecar"; its containers: main'):
        lab.kill("one", container="sidecar")
    lab.apply(pod("finished", "true"), quiet=True)
    lab.wait("pod/finished", "jsonpath={.status.phase}=Succeeded", timeout=60)
    with pytest.raises(WaitTimeout, match=r"pod/finished in .*: its container did not run within 0.5s, "
                                          r"so there is nothing to kill. State: Completed"):
        lab.kill("finished", timeout=0.5)


def test_fail_and_recover_a_node(lab, sandbox):
    node = "labkit-node-2"
    assert lab.nodes() == ["labkit-node-1", "labkit-node-2"]
    lab.apply(pod("pinned", "sleep 600") + f"  nodeName: {node}\n", quiet=True)
    lab.wait("pod/pinned", "jsonpath={.status.phase}=Running", timeout=60)
    try:
        said = lab.fail_node(node)
        # Its count includes containers other tests' namespaces may still have on that node.
        assert re.fullmatch(rf"node {node} crashed: [1-9]\d* container process\(es\) killed, heartbeats "
                            r"stopped \(the node controller marks it NotReady after its grace period\)", said)
        assert lab.fail_node(node) == f"node {node} was already failed"
    finally:
        said = lab.recover_node(node)
    assert said == f"node {node} is back: heartbeats resumed"
    assert lab.recover_node(node) == f"node {node} was not failed"
    # Back from the "reboot" the node reports the lost container as a kubelet does.
    result = check("k.3", expect.pod("pinned").phase("Failed").exit_code(137)
                   .reason("ContainerStatusUnknown"), timeout=60)
    assert result.passed, result.line
