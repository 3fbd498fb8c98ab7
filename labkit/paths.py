"""Where labkit keeps state (per cluster) and caches (per machine).

State follows the XDG convention (``~/.local/state/labkit/<cluster>``) and can
be moved with ``LABKIT_HOME`` so tests and workshops can keep clusters apart.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_root() -> Path:
    """The folder holding one sub-folder per sandbox cluster."""
    override = os.environ.get("LABKIT_HOME")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return Path(xdg).expanduser() / "labkit"


def cluster_dir(name: str) -> Path:
    """The state folder of cluster ``name``."""
    return state_root() / name


def cache_root() -> Path:
    """The per-user build cache (binaries survive ``labkit down --purge``)."""
    override = os.environ.get("LABKIT_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "labkit"


def write_private(path: Path, data: bytes | str) -> None:
    """Write a secret (key, kubeconfig) readable by its owner only: 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
