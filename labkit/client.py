"""Talking to the API server: one ApiClient per kubeconfig, kinds resolved like kubectl.

Everything labkit reads or writes goes through the official ``kubernetes``
client. Objects travel as plain dicts in the API's camelCase form (what
``kubectl get -o yaml`` shows), so a learner can read them directly.
"""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import LabkitError

# kubectl's short names and plurals for the kinds the course uses, so common calls
# need no discovery round-trip. Anything else is looked up through discovery.
_KNOWN = {
    "Pod": ("v1", "pods", ("po",)),
    "Service": ("v1", "services", ("svc",)),
    "ConfigMap": ("v1", "configmaps", ("cm",)),
    "Secret": ("v1", "secrets", ()),
    "Namespace": ("v1", "namespaces", ("ns",)),
    "Node": ("v1", "nodes", ("no",)),
    "Event": ("v1", "events", ("ev",)),
    "ServiceAccount": ("v1", "serviceaccounts", ("sa",)),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims", ("pvc",)),
    "PersistentVolume": ("v1", "persistentvolumes", ("pv",)),
    "Job": ("batch/v1", "jobs", ()),
    "CronJob": ("batch/v1", "cronjobs", ("cj",)),
    "Deployment": ("apps/v1", "deployments", ("deploy",)),
    "ReplicaSet": ("apps/v1", "replicasets", ("rs",)),
    "DaemonSet": ("apps/v1", "daemonsets", ("ds",)),
    "StatefulSet": ("apps/v1", "statefulsets", ("sts",)),
}


@dataclass(frozen=True)
class Kind:
    """A resolved kind: ``Kind("batch/v1", "Job", "jobs")``."""

    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    def ref(self, name: str) -> str:
        """kubectl's ``kind.group/name`` spelling: ``job.batch/test-job``, ``pod/test-job``."""
        suffix = f".{self.group}" if self.group else ""
        return f"{self.kind.lower()}{suffix}/{name}"

    def short(self, name: str) -> str:
        """``job/test-job``: the form learners type."""
        return f"{self.kind.lower()}/{name}"


def resolve_kind(word: str, dynamic=None) -> Kind:
    """``"job"``, ``"jobs"``, ``"Job"``, ``"deploy"`` → a :class:`Kind`.

    Examples
    --------
    >>> resolve_kind("po")
    Kind(api_version='v1', kind='Pod', plural='pods')
    """
    low = word.lower().split(".")[0]
    for kind, (api_version, plural, shorts) in _KNOWN.items():
        if low in (kind.lower(), plural, *shorts):
            return Kind(api_version, kind, plural)
    if dynamic is not None:
        for field in ("kind", "name", "short_names", "singular_name"):
            try:
                found = dynamic.resources.search(**{field: word if field == "kind" else low})
            except Exception:  # discovery trouble: fall through to the friendly error
                found = []
            found = [r for r in found if "/" not in r.name]  # skip sub-resources
            if found:
                r = found[0]
                return Kind(r.group_version, r.kind, r.name)
    choices = [k.lower() for k in _KNOWN] + [p for (_, p, _) in _KNOWN.values()]
    close = difflib.get_close_matches(low, choices, n=1)
    raise LabkitError(f"unknown kind '{word}'"
                      + (f": did you mean '{close[0]}'?" if close else
                         ": use a kind kubectl knows, e.g. pod, job, cronjob, deployment"))


class Api:
    """Typed and dynamic clients for one kubeconfig context, created lazily."""

    def __init__(self, kubeconfig: Path | dict, context: str | None = None):
        self.kubeconfig = kubeconfig if isinstance(kubeconfig, dict) else Path(kubeconfig)
        self.context = context
        self._lock = threading.RLock()
        self._client = None
        self._dynamic = None

    @property
    def client(self):
        """The official ``ApiClient``."""
        with self._lock:
            if self._client is None:
                from kubernetes import client, config

                cfg = client.Configuration()
                if isinstance(self.kubeconfig, dict):
                    config.load_kube_config_from_dict(self.kubeconfig, context=self.context,
                                                      client_configuration=cfg, persist_config=False)
                else:
                    config.load_kube_config(config_file=str(self.kubeconfig), context=self.context,
                                            client_configuration=cfg, persist_config=False)
                self._client = client.ApiClient(cfg)
            return self._client

    @property
    def core(self):
        from kubernetes import client

        return client.CoreV1Api(self.client)

    @property
    def batch(self):
        from kubernetes import client

        return client.BatchV1Api(self.client)

    @property
    def dynamic(self):
        """The dynamic client (discovery is cached by the client library)."""
        with self._lock:
            if self._dynamic is None:
                from kubernetes.dynamic import DynamicClient

                self._dynamic = DynamicClient(self.client)
            return self._dynamic

    def resource(self, kind: Kind):
        """The dynamic ``Resource`` of a kind."""
        return self.dynamic.resources.get(api_version=kind.api_version, kind=kind.kind)

    def kind(self, word: str) -> Kind:
        """Resolve a kind, asking discovery only for kinds labkit does not know offline."""
        try:
            return resolve_kind(word)
        except LabkitError:
            return resolve_kind(word, self.dynamic)

    def to_dict(self, obj) -> dict:
        """A typed-client model or dynamic instance as a camelCase dict."""
        if hasattr(obj, "to_dict") and not hasattr(obj, "attribute_map"):
            return obj.to_dict()
        return self.client.sanitize_for_serialization(obj)

    def server_version(self) -> str:
        from kubernetes import client

        return client.VersionApi(self.client).get_code().git_version
