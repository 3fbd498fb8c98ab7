"""Which container images the sandbox can "run", and the command each one runs.

The sandbox has no container runtime: an image names a local runtime. The
``python`` family runs with this machine's Python; the small Linux images run
with the host's ``/bin/sh`` and coreutils. Kubernetes' rules for ``command``
and ``args`` versus the image's ENTRYPOINT and CMD apply unchanged.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = "python[:tag], busybox, alpine, debian, ubuntu, bash"


@dataclass(frozen=True)
class Image:
    """What the sandbox knows of a supported image."""

    family: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]


_FAMILIES = {
    "python": Image("python", (), ("python3",)),
    "busybox": Image("busybox", (), ("sh",)),
    "alpine": Image("alpine", (), ("/bin/sh",)),
    "debian": Image("debian", (), ("bash",)),
    "ubuntu": Image("ubuntu", (), ("/bin/bash",)),
    "bash": Image("bash", (), ("bash",)),
}

#: Paths that inside a python image name its interpreter.
PYTHON_PATHS = {"python", "python3", "/usr/local/bin/python", "/usr/local/bin/python3",
                "/usr/bin/python", "/usr/bin/python3"}


def repository(image: str) -> str:
    """``docker.io/library/python:3.12-slim@sha256:..`` -> ``python``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    prefix = name.rsplit("/", 1)[0] if "/" in name else ""
    if prefix not in ("", "library", "docker.io/library", "docker.io", "index.docker.io/library"):
        return name.rsplit(":", 1)[0] if ":" in last else name  # foreign registry or user image
    return last.split(":", 1)[0]


def lookup(image: str) -> Image | None:
    """The supported image behind ``image``, or None (the pull will fail)."""
    return _FAMILIES.get(repository(image))


def pull_policy_default(image: str) -> str:
    """Kubernetes' default: Always for ``:latest`` or no tag, IfNotPresent otherwise."""
    name = image.split("@", 1)[0]
    tag = name.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if tag in ("", "latest") and "@" not in image else "IfNotPresent"


def image_id(image: str) -> str:
    """A stable, honest image reference for containerStatuses[].imageID."""
    digest = hashlib.sha256(f"labkit:{repository(image)}".encode()).hexdigest()
    return f"labkit.local/{repository(image)}@sha256:{digest}"


def argv_for(image: Image, command: list[str] | None, args: list[str] | None) -> list[str]:
    """Kubernetes' rule: command replaces ENTRYPOINT (and drops CMD); args replace CMD."""
    if command:
        argv = list(command) + list(args or [])
    elif args:
        argv = list(image.entrypoint) + list(args)
    else:
        argv = list(image.entrypoint) + list(image.cmd)
    if image.family == "python" and argv and argv[0] in PYTHON_PATHS:
        argv[0] = python_interpreter()
    return argv


def python_interpreter() -> str:
    """The interpreter that stands for the python image (the agent's own)."""
    return os.environ.get("LABKIT_PYTHON") or sys.executable


def shim_dir(root: Path) -> Path:
    """A folder put first on containers' PATH so ``python`` finds our interpreter."""
    shims = root / "bin"
    if not (shims / "python").exists():
        shims.mkdir(parents=True, exist_ok=True)
        for name in ("python", "python3"):
            link = shims / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(python_interpreter())
    return shims


def pull_error(image: str) -> str:
    """The message of a failed pull, naming what the sandbox can run."""
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f"the labkit sandbox runs containers as local processes and has no image "
        f"registry; supported images: {SUPPORTED}"
    )
