"""``labkit.lesson()``: its own namespace, emptied on a re-run, kubectl's default; the verbs."""

from __future__ import annotations

import importlib

import os
import re
import subprocess

import pytest

import labkit
from labkit import LabkitError

from .conftest import job, pod

lesson_module = importlib.import_module("labkit.lesson")


def test_lesson_creates_its_namespace_with_the_learner_prefix(learner, conn, core):
    lab = labkit.lesson("03-jobs", connection=conn)
    assert lab.namespace == f"{learner}-03-jobs"
    ns = core.read_namespace(lab.namespace)
    assert ns.metadata.labels["labkit.dev/lesson"] == "03-jobs"
    assert lesson_module.active() is lab
    assert os.environ["LABKIT_NAMESPACE"] == lab.namespace
    assert os.environ["KUBECONFIG"] == str(lab.kubeconfig)


def test_kubectl_defaults_to_the_lessons_namespace(learner, conn, capsys):
    lab = labkit.lesson("00-kubectl", connection=conn)
    out = lab.kubectl("get pods")
    assert out == f"No resources found in {lab.namespace} namespace.\n"
    lab.apply(pod("hello", "echo hi"), quiet=True)
    lab.wait("pod/hello", "jsonpath={.status.phase}=Succeeded", timeout=60)
    table = lab.kubectl("kubectl get pods --no-headers").split()
    assert table[:4] == ["hello", "0/1", "Completed", "0"]
    # A plain kubectl started from this process (a `!kubectl` cell) gets the same default.
    plain = subprocess.run([lesson_module.kubectl_executable(), "config", "view", "--minify", "-o",
                            "jsonpath={.contexts[0].context.namespace}"], capture_output=True, text=True,
                           env=os.environ)
    assert plain.stdout == lab.namespace
    assert capsys.readouterr().out.startswith(f"No resources found in {lab.namespace} namespace.\n")


def test_a_new_run_of_the_lesson_starts_from_an_empty_namespace(learner, conn):
    first = labkit.lesson("01-reset", connection=conn)
    first.apply(pod("left-over", "sleep 60") + "---\n" + job("old-job", "sleep 60")
                + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
                + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot}\n"
                + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader}\n"
                + "rules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n"
                + "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: keep-one}\n"
                + "spec: {minAvailable: 1, selector: {matchLabels: {app: x}}}\n", quiet=True)
    first.wait("pod/left-over", "jsonpath={.status.phase}=Running", timeout=60)
    kept = labkit.lesson("01-reset", reset=False, connection=conn)
    assert {p["metadata"]["name"] for p in kept.get("pods")} >= {"left-over"}
    again = labkit.lesson("01-reset", connection=conn)
    assert again.get("pods") == [] and again.get("jobs") == []
    assert [c["metadata"]["name"] for c in again.get("configmaps")] == ["kube-root-ca.crt"]
    assert [s["metadata"]["name"] for s in again.get("serviceaccounts")] == ["default"]
    assert again.get("roles") == [] and again.get("poddisruptionbudgets") == []
    assert again.api.core.list_namespaced_event(again.namespace).items == []


def test_learner_names_must_make_a_valid_namespace(monkeypatch, conn):
    monkeypatch.setenv("LABKIT_LEARNER", "Ana Lopez")
    with pytest.raises(LabkitError, match="'ana lopez-03-jobs' cannot be a namespace name"):
        labkit.lesson("03-jobs", connection=conn)


def test_get_logs_and_delete(lab, capsys):
    lab.apply(pod("talker", "echo one; echo two >&2"), quiet=True)
    lab.wait("pod/talker", "jsonpath={.status.phase}=Succeeded", timeout=60)
    assert lab.get("pod", "talker")["status"]["phase"] == "Succeeded"
    assert [p["metadata"]["name"] for p in lab.get("po")] == ["talker"]
    assert lab.logs("talker") == "one\ntwo\n"
    assert lab.logs("talker", tail=1) == "two\n"
    with pytest.raises(LabkitError, match="There is no previous run yet: the container has not restarted"):
        lab.logs("talker", previous=True)
    with pytest.raises(LabkitError, match=rf"pod/ghost not found in namespace {lab.namespace}: list what "
                                          r"exists with lab.kubectl\('get pods'\)"):
        lab.get("pod", "ghost")
    capsys.readouterr()
    assert lab.delete("pod", "talker") == f'pod "talker" deleted from {lab.namespace} namespace'
    assert lab.delete("pod", "talker") == 'pod "talker" not found'
    assert capsys.readouterr().out == (f'pod "talker" deleted from {lab.namespace} namespace\n'
                                       'pod "talker" not found (nothing to delete)\n')


def test_no_active_lesson_is_explained(monkeypatch):
    monkeypatch.setattr(lesson_module, "_active", None)
    with pytest.raises(LabkitError, match=r"no lesson is active: start one with lab = labkit.lesson"):
        lesson_module.active()


def test_logs_of_a_container_that_cannot_start_or_is_ambiguous(lab):
    lab.apply(pod("nopull", "true", image="nginx:9.9"), quiet=True)
    lab.wait("pod/nopull", "jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff",
             timeout=60)
    with pytest.raises(LabkitError) as err:
        lab.logs("nopull")
    # The kubelet's words, then labkit's hint (the pull is retried: either state may be seen).
    assert re.fullmatch(
        f'logs of pod/nopull in {lab.namespace}: container "main" in pod "nopull" is waiting to start: '
        r"(trying and failing to pull image|image can't be pulled)\. It will not start: its image "
        r"nginx:9\.9 cannot be pulled \((ImagePullBackOff|ErrImagePull)\)\. Fix the image name and apply again\.",
        str(err.value)), str(err.value)
    lab.apply(pod("two", "echo a") + "    - {name: other, image: busybox, command: [sh, -c, 'echo b']}\n",
              quiet=True)
    lab.wait("pod/two", "jsonpath={.status.phase}=Succeeded", timeout=60)
    with pytest.raises(LabkitError, match=r"choose one of: \[main other\]\. Name one, e\.g\. "
                                          r"lab\.logs\('two', container='\.\.\.'\)\.$"):
        lab.logs("two")
    assert lab.logs("two", container="other") == "b\n"
