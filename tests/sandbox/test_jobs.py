"""The real controllers act on the sandbox: Jobs (back-off, TTL, cascade), CronJobs, Deployments."""

from __future__ import annotations


import pytest

from labkit import faults

from ..conftest import wait_for

SCRIPT = "import time; print('starting'); time.sleep({n}); print('done')"


def job(name: str, seconds: float, **spec) -> dict:
    body = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "long-job", "image": "python", "command": ["python"],
                            "args": ["-c", SCRIPT.format(n=seconds)]}]}}},
    }
    body["spec"].update(spec)
    return body


def job_pods(core, namespace, name):
    return core.list_namespaced_pod(namespace, label_selector=f"job-name={name}").items


def running_pod(core, namespace, name):
    pods = [p for p in job_pods(core, namespace, name)
            if p.status.phase == "Running" and p.status.container_statuses
            and p.status.container_statuses[0].state.running]
    return pods[0].metadata.name if pods else None


def test_a_job_runs_to_completion(core, batch, kubectl, namespace):
    batch.create_namespaced_job(namespace, job("test-job", 1))
    wait_for(lambda: (batch.read_namespaced_job("test-job", namespace).status.succeeded or 0) == 1,
             timeout=60, what="job succeeded")
    pods = job_pods(core, namespace, "test-job")
    assert len(pods) == 1
    labels = pods[0].metadata.labels
    assert labels["batch.kubernetes.io/job-name"] == "test-job"
    assert "batch.kubernetes.io/controller-uid" in labels
    out = kubectl("get", "jobs", "-n", namespace, "--no-headers").stdout.split()
    assert out[:3] == ["test-job", "Complete", "1/1"]
    assert kubectl("logs", "job/test-job", "-n", namespace).stdout == "starting\ndone\n"


@pytest.mark.slow
def test_backoff_limit_two_kills_three_pods_then_fails(core, batch, kubectl, namespace, sandbox):
    batch.create_namespaced_job(namespace, job("test-job", 60, backoffLimit=2))
    killed = []
    for attempt in range(3):
        pod = wait_for(lambda: running_pod(core, namespace, "test-job") not in (None, *killed)
                       and running_pod(core, namespace, "test-job"),
                       timeout=90, what=f"attempt {attempt + 1} running")
        faults.kill(pod, namespace=namespace, cluster=sandbox.name)
        killed.append(pod)
    wait_for(lambda: any(c.type == "Failed" and c.status == "True"
                         for c in batch.read_namespaced_job("test-job", namespace).status.conditions or []),
             timeout=60, what="job Failed")
    status = batch.read_namespaced_job("test-job", namespace).status
    failed = [c for c in status.conditions if c.type == "Failed"][0]
    assert failed.reason == "BackoffLimitExceeded"
    assert status.failed == 3
    pods = job_pods(core, namespace, "test-job")
    assert len(pods) == 3
    for pod in pods:
        term = pod.status.container_statuses[0].state.terminated
        assert (term.exit_code, term.reason) == (137, "Error")
    described = kubectl("describe", "job", "test-job", "-n", namespace).stdout
    assert "Pods Statuses:    0 Active (0 Ready) / 0 Succeeded / 3 Failed" in described
    assert "BackoffLimitExceeded" in described
    # The controller waited between attempts (exponential back-off, 10 s then 20 s).
    created = sorted(p.metadata.creation_timestamp for p in pods)
    gaps = [(b - a).total_seconds() for a, b in zip(created, created[1:])]
    assert gaps[1] > gaps[0] > 5, gaps


@pytest.mark.slow
def test_ttl_after_finished_removes_the_job_and_its_pods(core, batch, namespace):
    batch.create_namespaced_job(namespace, job("short", 0.2, ttlSecondsAfterFinished=5))
    wait_for(lambda: (batch.read_namespaced_job("short", namespace).status.succeeded or 0) == 1,
             timeout=60, what="job succeeded")

    def gone():
        try:
            batch.read_namespaced_job("short", namespace)
            return False
        except Exception as e:  # 404 once the TTL controller deleted it
            return getattr(e, "status", None) == 404
    wait_for(gone, timeout=60, what="the TTL controller to delete the job")
    wait_for(lambda: job_pods(core, namespace, "short") == [], timeout=60, what="pods cascaded away")


def test_deleting_a_job_removes_its_pods_and_processes(core, batch, namespace, sandbox):
    from labkit.sandbox import procs

    busy = job("busy", 120, parallelism=2, completions=2)
    busy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1  # Python ignores SIGTERM as PID 1
    batch.create_namespaced_job(namespace, busy)
    wait_for(lambda: len([p for p in job_pods(core, namespace, "busy") if p.status.phase == "Running"]) == 2,
             timeout=60, what="two running pods")
    pod_dirs = _pod_dirs(sandbox, namespace)
    assert len(pod_dirs) == 2
    batch.delete_namespaced_job("busy", namespace, propagation_policy="Background")
    wait_for(lambda: job_pods(core, namespace, "busy") == [], timeout=60, what="pods removed")
    wait_for(lambda: not any(d.exists() for d in pod_dirs), timeout=10, what="pod folders removed")
    cluster_id = sandbox.config().id
    leftovers = [p for p in procs.marked(cluster_id, role="container")
                 if namespace in " ".join(_cmdline(p))]
    assert leftovers == []


def test_a_job_with_restart_policy_always_is_rejected(batch, namespace):
    from kubernetes.client.rest import ApiException

    bad = job("bad", 1)
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job(namespace, bad)
    assert err.value.status == 422
    assert "restartPolicy" in err.value.body


@pytest.mark.slow
def test_a_cronjob_creates_jobs(batch, namespace):
    batch.create_namespaced_cron_job(namespace, {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": job("x", 0.1)["spec"]}}})
    wait_for(lambda: batch.list_namespaced_job(namespace).items, timeout=75, interval=1,
             what="the CronJob controller to create a Job (at the next minute)")
    cron = batch.read_namespaced_cron_job("tick", namespace)
    assert cron.status.last_schedule_time is not None


def test_a_deployment_becomes_available(kube, namespace, core):
    from kubernetes import client

    apps = client.AppsV1Api(kube)
    apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "python:3.12",
                                                       "command": ["python", "-c",
                                                                   "import time; time.sleep(600)"]}]}}}})
    wait_for(lambda: (apps.read_namespaced_deployment("web", namespace).status.available_replicas or 0) == 2,
             timeout=60, what="2 available replicas")
    assert len(apps.list_namespaced_replica_set(namespace).items) == 1


def _pod_dirs(sandbox, namespace):
    return [d for d in (sandbox.dir / "nodes").glob(f"*/pods/{namespace}_*")]


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return [f.read().decode(errors="replace")]
    except OSError:
        return []


def test_deleting_a_namespace_stops_its_pods(core, namespace, sandbox):
    from labkit.sandbox import procs

    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "doomed"},
        "spec": {"terminationGracePeriodSeconds": 1,  # sleep ignores SIGTERM as a container's PID 1
                 "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}})
    wait_for(lambda: core.read_namespaced_pod("doomed", namespace).status.phase == "Running", what="running")
    dirs = _pod_dirs(sandbox, namespace)
    assert dirs
    core.delete_namespace(namespace)
    wait_for(lambda: not any(d.exists() for d in dirs), timeout=60, what="the pod's folder removed")
    cluster_id = sandbox.config().id
    assert [p for p in procs.marked(cluster_id, role="container")
            if namespace in " ".join(_cmdline(p))] == []
