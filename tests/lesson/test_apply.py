"""``lab.apply``: kubectl's lines on success; on a mistake, an error that teaches."""

from __future__ import annotations

import pytest

from labkit import ApiRejected, ManifestError

from .conftest import job, pod


def test_apply_prints_kubectls_lines_and_returns_the_objects(lab, capsys):
    objs = lab.apply(pod("hello", "echo hi") + "---\n" + job("once", "true"))
    # Dependency order: a Job before a bare Pod (controllers first), as labkit documents.
    assert capsys.readouterr().out == "job.batch/once created\npod/hello created\n"
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in objs] == [
        ("Job", "once", lab.namespace), ("Pod", "hello", lab.namespace)]
    lab.apply(pod("hello", "echo hi"))
    assert capsys.readouterr().out == "pod/hello unchanged\n"
    lab.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n")
    lab.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '2'}\n")
    assert capsys.readouterr().out == "configmap/c created\nconfigmap/c configured\n"
    assert lab.get("configmap", "c")["data"] == {"a": "2"}


def test_apply_reads_a_file(lab, tmp_path, capsys):
    path = tmp_path / "cm.yml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-file}\n")
    lab.apply(str(path))
    lab.apply(path)
    assert capsys.readouterr().out == "configmap/from-file created\nconfigmap/from-file unchanged\n"


def test_a_yaml_syntax_error_names_line_and_column_and_shows_the_line(lab):
    text = ("apiVersion: v1\n"
            "kind: Pod\n"
            "metadata:\n"
            "  name: broken\n"
            "spec:\n"
            "  containers:\n"
            "    - name: main\n"
            "      image: busybox\n"
            "     command: [sh]\n")
    with pytest.raises(ManifestError) as err:
        lab.apply(text)
    message = str(err.value)
    assert "YAML syntax error in <text> at line 9, column 6: expected <block end>, but found '<block mapping start>'" in message
    assert "    9 |      command: [sh]" in message
    assert "\n      |      ^\nFix: check the indentation" in message
    assert lab.get("pods") == []


def test_tabs_are_explained(lab):
    with pytest.raises(ManifestError, match=r"line 4, column 1.*\n.*\n.*\nFix: YAML does not allow tabs"):
        lab.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tabbed\n")


@pytest.mark.parametrize("text, says", [
    ("apiVersion: v1\nmetadata: {name: a}\n",
     "document 1 in <text> (line 1) has no kind: every object needs both (e.g. apiVersion: batch/v1 and kind: Job)"),
    ("kind: Pod\nmetadata: {name: a}\n",
     "document 1 in <text> (line 1) has no apiVersion: every object needs both (e.g. apiVersion: v1 for a Pod)"),
    ("metadata: {name: a}\n", "has no apiVersion and no kind"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: Pod\nmetadata: {name: b}\n",
     "document 2 in <text> (line 5) has no apiVersion"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {labels: {a: b}}\n", "(Pod) has no metadata.name"),
    ("- just\n- a list\n", "is a list, not an object with apiVersion, kind and metadata"),
])
def test_missing_fields_say_which(lab, text, says):
    with pytest.raises(ManifestError) as err:
        lab.apply(text)
    assert says in str(err.value)
    assert "ok" not in [c["metadata"]["name"] for c in lab.get("configmaps")]  # nothing applied


def test_a_job_with_restart_policy_always_is_explained(lab):
    with pytest.raises(ApiRejected) as err:
        lab.apply(job("bad", "true", restart="Always"))
    message = str(err.value)
    assert message.startswith("job.batch/bad was rejected by the API server:\n"
                              "  spec.template.spec.restartPolicy: a Job's pods must use restartPolicy "
                              "Never or OnFailure")
    assert "(the API said: Required value: valid values: \"OnFailure\", \"Never\")" in message
    assert lab.get("jobs") == []


@pytest.mark.parametrize("change, says", [
    (("restartPolicy: Never", "restartPolicy: never"),
     "spec.restartPolicy: restartPolicy must be exactly Always, OnFailure or Never (the capital letters matter)"),
    (("name: main", "name: Main_1"), "spec.containers[0].name"),
    (("      image: busybox\n", ""), "every container needs an image"),
    (("restartPolicy: Never", "restartPolicy: Never\n  restartpolicy: Never"),
     "unknown field spec.restartpolicy. Check the spelling"),
])
def test_pod_rejections_in_plain_words(lab, change, says):
    text = pod("p", "true").replace(*change)
    with pytest.raises(ApiRejected) as err:
        lab.apply(text)
    assert says in str(err.value)


def test_a_rejected_document_leaves_nothing_half_applied(lab):
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n---\n"
            + job("second", "true", restart="Always"))
    with pytest.raises(ApiRejected, match="job.batch/second was rejected"):
        lab.apply(text)
    assert "first" not in [c["metadata"]["name"] for c in lab.get("configmaps")]


def test_an_unknown_kind_or_wrong_api_version_is_named(lab):
    with pytest.raises(ManifestError, match="the cluster has no kind 'Jobb' in apiVersion batch/v1: "
                                            "did you mean kind: Job"):
        lab.apply("apiVersion: batch/v1\nkind: Jobb\nmetadata: {name: x}\n")
    with pytest.raises(ManifestError, match="kind Job is in apiVersion batch/v1, not v1: write apiVersion: batch/v1"):
        lab.apply("apiVersion: v1\nkind: Job\nmetadata: {name: x}\n")


def test_a_manifest_may_create_the_namespace_it_uses(lab, core):
    ns = f"{lab.namespace}-extra"
    text = (f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: inside, namespace: {ns}}}\n---\n"
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")
    try:
        objs = lab.apply(text, quiet=True)
        assert [(o["kind"], o["metadata"].get("namespace")) for o in objs] == [("Namespace", None),
                                                                               ("ConfigMap", ns)]
    finally:
        core.delete_namespace(ns)


def test_a_list_and_empty_documents(lab, capsys):
    lab.apply("---\n---\napiVersion: v1\nkind: List\nitems:\n"
              "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
              "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n---\n")
    assert capsys.readouterr().out == "configmap/a created\nconfigmap/b created\n"


def test_a_missing_file_is_named(lab, tmp_path):
    with pytest.raises(ManifestError, match=rf"cannot read manifest {tmp_path}/nope.yml: No such file"):
        lab.apply(str(tmp_path / "nope.yml"))


def test_unchanged_and_configured_mean_what_the_manifest_says(lab, capsys):
    lab.apply(pod("moving", "echo hi"), quiet=True)
    lab.wait("pod/moving", "jsonpath={.status.phase}=Succeeded", timeout=60)
    capsys.readouterr()
    # Scheduled and finished since: the object changed, what the manifest says did not.
    lab.apply(pod("moving", "echo hi"))
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\ndata: {a: '1'%s}\n"
    lab.apply(cm % ", b: '2'", quiet=True)
    lab.apply(cm % "")  # a field removed from the manifest is removed from the object
    assert capsys.readouterr().out == "pod/moving unchanged\nconfigmap/two configured\n"
    assert lab.get("configmap", "two")["data"] == {"a": "1"}
