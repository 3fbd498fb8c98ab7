"""Where a lesson's cluster comes from: the embedded sandbox, minikube, or any kubeconfig.

Each backend is one module behind the interface in :mod:`.base`; ``get(name)``
returns an instance from the registry.
"""

from .base import Backend, available_backends, get, register

# Importing the modules registers them.
from . import kubeconfig, minikube, sandbox  # noqa: E402,F401  isort: skip

__all__ = ["Backend", "available_backends", "get", "register"]
