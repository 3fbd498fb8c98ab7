"""labkit: the helper kit of the Kubernetes Workloads Lab.

A notebook needs only these names::

    import labkit
    from labkit import expect, any_of, check

    labkit.connect()                      # sandbox, minikube or any kubeconfig
    lab = labkit.lesson("03-jobs")        # its own namespace, kubectl's default
    lab.apply("job.yml"); lab.watch("pods"); lab.kill("test-job")
    check("03.2", expect.job("test-job").condition("Failed", reason="BackoffLimitExceeded"))

Everything else in the package is private and free to change.
"""

from .checks import CheckResult, any_of, check, expect, skip
from .connect import Connection, connect
from .errors import (ApiRejected, ClusterNotRunning, LabkitError, ManifestError, NotSupported,
                     WaitTimeout)
from .lesson import Lesson, lesson

__all__ = [
    "connect", "Connection",
    "lesson", "Lesson",
    "expect", "any_of", "check", "skip", "CheckResult",
    "LabkitError", "ManifestError", "ApiRejected", "NotSupported", "ClusterNotRunning", "WaitTimeout",
]
