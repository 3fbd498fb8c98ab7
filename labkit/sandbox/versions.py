"""The one place that pins what the sandbox runs.

Kubernetes v1.37.2 needs Go >= 1.26.0 (its go.mod says ``go 1.26.0``), so no
GOTOOLCHAIN switch is needed with Go 1.26.x.
"""

KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.6.16"
#: The oldest Go that builds KUBERNETES_VERSION (`labkit build` refuses older ones, saying so).
GO_MIN_VERSION = (1, 26, 0)

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def minor(version: str) -> str:
    """``v1.37.2`` -> ``1.37``: binaries on PATH must match the pinned minor."""
    major, minor_ = version.lstrip("v").split(".")[:2]
    return f"{major}.{minor_}"


def kubernetes_minor(version: str = KUBERNETES_VERSION) -> str:
    """The pinned Kubernetes minor, ``1.37``."""
    return minor(version)


def staging_version(version: str = KUBERNETES_VERSION) -> str:
    """``v1.37.2`` -> ``v0.37.2``: the tag of k8s.io/api and the other staging modules."""
    _, minor, patch = version.lstrip("v").split(".")
    return f"v0.{minor}.{patch}"
