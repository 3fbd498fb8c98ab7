"""The errors labkit raises: each names the object and says what to do next.

The hierarchy is small on purpose (see kopf's error policy): callers catch
`LabkitError` for "anything labkit could not do", or one subclass when they can
react differently. Low-level causes are chained with ``raise ... from e``.
"""

from __future__ import annotations


class LabkitError(Exception):
    """Base of every error labkit raises on purpose."""


class BinariesNotFound(LabkitError):
    """No usable Kubernetes/etcd binaries, and they cannot be built here."""


class BuildFailed(LabkitError):
    """`go build` of a sandbox binary failed; the message carries go's output."""


class ClusterNotRunning(LabkitError):
    """The cluster a command needs is not up."""


class ClusterStateCorrupt(LabkitError):
    """The state directory is unreadable or inconsistent."""


class ClusterStartFailed(LabkitError):
    """A sandbox component did not become healthy in time."""


class ClusterBusy(LabkitError):
    """Another labkit process holds this cluster's lock."""


class ManifestError(LabkitError):
    """A manifest could not be parsed (bad YAML, missing kind or apiVersion)."""


class ApiRejected(LabkitError):
    """The API server refused an object; the message explains why in plain words."""


class NotSupported(LabkitError):
    """The backend cannot do this (e.g. kill a container on a remote cluster)."""


class WaitTimeout(LabkitError, TimeoutError):
    """An object did not reach the awaited state in time."""
