"""Find or build the sandbox's control-plane binaries.

Resolution order (first hit wins, per binary):
1. the folder named by ``LABKIT_K8S_BIN``;
2. ``PATH``, accepted only if ``--version`` matches the pinned minor
   (conda-forge's ``kubernetes-server`` lags behind);
3. the user cache ``~/.cache/labkit/k8s/<version>/``;
4. otherwise build from the official Go modules (see ``build``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BinariesNotFound, BuildFailed
from ..paths import cache_root
from ..progress import Progress
from . import versions

KUBE_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")

GET_BINARIES_HINT = (
    "To get them, do one of:\n"
    "  - install Go >= 1.26 (https://go.dev/doc/install, or `conda install -c conda-forge go`)"
    " and run `labkit build`;\n"
    "  - put Kubernetes {minor} server binaries and etcd on PATH"
    " (conda-forge: `kubernetes-server` and `etcd`, if they carry {minor});\n"
    "  - point LABKIT_K8S_BIN at a folder holding etcd, kube-apiserver,"
    " kube-controller-manager and kube-scheduler."
)


@dataclass(frozen=True)
class Binary:
    """One resolved binary and where it came from (for `labkit status`/`doctor`)."""

    name: str
    path: Path
    source: str  # "LABKIT_K8S_BIN", "PATH", "cache"


def cache_dir(version: str = versions.KUBERNETES_VERSION) -> Path:
    """Where built binaries of ``version`` live."""
    return cache_root() / "k8s" / version


def _version_matches(path: Path, name: str) -> bool:
    """Does the binary on PATH carry the pinned minor version?"""
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    if name == "etcd":
        return f"etcd Version: {versions.minor(versions.ETCD_VERSION)}." in out
    return f"v{versions.kubernetes_minor()}." in out


def find(name: str) -> Binary | None:
    """Resolve one binary without building it."""
    override = os.environ.get("LABKIT_K8S_BIN")
    if override:
        candidate = Path(override).expanduser() / name
        if os.access(candidate, os.X_OK):
            return Binary(name, candidate, "LABKIT_K8S_BIN")
    on_path = shutil.which(name)
    if on_path and _version_matches(Path(on_path), name):
        return Binary(name, Path(on_path), "PATH")
    cached = cache_dir() / name
    if os.access(cached, os.X_OK):
        return Binary(name, cached, "cache")
    return None


def find_all() -> dict[str, Binary | None]:
    """Resolve every component; missing ones map to None."""
    return {name: find(name) for name in versions.COMPONENTS}


def ensure(progress: Progress | None = None) -> dict[str, Path]:
    """Return a path per component, building what is missing."""
    found = find_all()
    missing = [name for name, binary in found.items() if binary is None]
    if missing:
        build(missing, progress=progress, only_missing=True)
        found = find_all()
    still = [name for name, binary in found.items() if binary is None]
    if still:
        raise BinariesNotFound(f"still missing after build: {', '.join(still)}")
    return {name: binary.path for name, binary in found.items()}  # type: ignore[union-attr]


# --- building -----------------------------------------------------------------


def go_executable() -> str:
    """The ``go`` command, or a BinariesNotFound that says how to get binaries."""
    go = shutil.which("go")
    if go is None:
        raise BinariesNotFound(
            "The sandbox needs etcd and Kubernetes "
            f"{versions.KUBERNETES_VERSION} binaries, none are cached, and Go is not "
            "installed to build them.\n" + GET_BINARIES_HINT.format(minor=versions.kubernetes_minor())
        )
    found = _go_version(go)
    if found is not None and found < versions.GO_MIN_VERSION:
        need = ".".join(map(str, versions.GO_MIN_VERSION[:2]))
        raise BinariesNotFound(
            f"{go} is Go {'.'.join(map(str, found))}; building Kubernetes {versions.KUBERNETES_VERSION} "
            f"needs Go >= {need} (Debian's and Ubuntu's golang packages are too old).\n"
            + GET_BINARIES_HINT.format(minor=versions.kubernetes_minor())
        )
    return go


def _go_version(go: str) -> tuple[int, ...] | None:
    """``go1.26.8`` -> ``(1, 26, 8)``; None if it cannot be told."""
    try:
        out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"go(\d+)\.(\d+)(?:\.(\d+))?", out.strip())
    return tuple(int(part or 0) for part in match.groups()) if match else None


def _go_env(go: str) -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env.setdefault("GOFLAGS", "-mod=mod")
    # Builds must work unprivileged: keep Go's own caches in the user's home.
    env.setdefault("GOCACHE", str(cache_root() / "go-build"))
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], label: str, progress: Progress) -> None:
    """Run a go command, reporting elapsed time; on failure raise with its output."""
    log = tempfile.TemporaryFile()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    while proc.poll() is None:
        progress.tick(label, time.monotonic() - started)
        time.sleep(1)
    progress.done(label, time.monotonic() - started)
    if proc.returncode != 0:
        log.seek(0)
        tail = log.read().decode(errors="replace")[-6000:]
        raise BuildFailed(
            f"{label} failed (exit {proc.returncode}):\n{tail}\n"
            "Fix the problem above (often: network to the Go module proxy, or disk space), "
            "then retry with `labkit build`."
        )


def _staging_modules(kubernetes_gomod: str) -> list[str]:
    """The staging modules that k8s.io/kubernetes replaces with ./staging/src/... paths."""
    return re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/src/", kubernetes_gomod, re.M)


def _ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    build_date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={build_date}",
        ]
    return " ".join(flags)


def _write_kube_module(workdir: Path, go: str, env: dict[str, str], progress: Progress) -> None:
    """A throw-away module requiring k8s.io/kubernetes with its staging modules pinned."""
    version = versions.KUBERNETES_VERSION
    (workdir / "go.mod").write_text(
        f"module labkit.local/kubebuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes {version}\n"
    )
    _run(
        [go, "mod", "download", "-json", f"k8s.io/kubernetes@{version}"],
        workdir, env, f"downloading k8s.io/kubernetes {version}", progress,
    )
    info = subprocess.run(  # downloaded now: this only reads where its go.mod is
        [go, "mod", "download", "-json", f"k8s.io/kubernetes@{version}"],
        cwd=workdir, env=env, capture_output=True, text=True,
    )
    if info.returncode != 0:
        raise BuildFailed(f"go mod download k8s.io/kubernetes@{version} failed:\n{info.stdout}{info.stderr}\n"
                          "Fix the problem above, then retry with `labkit build`.")
    gomod = Path(json.loads(info.stdout)["GoMod"]).read_text()
    staging = versions.staging_version(version)
    replaces = "\n".join(f"\t{mod} => {mod} {staging}" for mod in _staging_modules(gomod))
    (workdir / "go.mod").write_text(
        f"module labkit.local/kubebuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes {version}\n\n"
        f"replace (\n{replaces}\n)\n"
    )


def _write_etcd_module(workdir: Path) -> None:
    """A throw-away module whose main is etcd's own ``etcdmain.Main``."""
    (workdir / "go.mod").write_text(
        "module labkit.local/etcdbuild\n\ngo 1.26\n\n"
        f"require go.etcd.io/etcd/server/v3 {versions.ETCD_VERSION}\n"
    )
    (workdir / "main.go").write_text(
        'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\n'
        "func main() { etcdmain.Main(os.Args) }\n"
    )


@contextlib.contextmanager
def _build_lock(progress: Progress):
    """One build at a time per cache: two `labkit up` at once must not clobber each other's output."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.say("another labkit build is running; waiting for it to finish …")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(names: list[str] | None = None, progress: Progress | None = None, *,
          only_missing: bool = False) -> Path:
    """Build the named components (default: all) into the user cache.

    Each binary is built into a temporary name and renamed into place, so an
    interrupted build never leaves a half-written binary that `find` accepts.
    With ``only_missing``, what a concurrent build finished meanwhile is reused.
    """
    progress = progress or Progress()
    with _build_lock(progress):
        if only_missing:
            names = [n for n in (names or versions.COMPONENTS) if not (cache_dir() / n).exists()]
            if not names:
                progress.say(f"binaries ready in {cache_dir()}")
                return cache_dir()
        return _build_locked(list(names or versions.COMPONENTS), progress)


def _build_locked(names: list[str], progress: Progress) -> Path:
    go = go_executable()
    env = _go_env(go)
    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    work = cache_root() / "build"
    started = time.monotonic()
    kube = [n for n in names if n in KUBE_COMPONENTS]
    if kube:
        workdir = work / "kubernetes"
        workdir.mkdir(parents=True, exist_ok=True)
        _write_kube_module(workdir, go, env, progress)
        ldflags = _ldflags(versions.KUBERNETES_VERSION)
        for name in kube:
            tmp = out / f".{name}.partial"
            _run(
                [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp),
                 f"k8s.io/kubernetes/cmd/{name}"],
                workdir, env, f"building {name} {versions.KUBERNETES_VERSION}", progress,
            )
            tmp.replace(out / name)
    if "etcd" in names:
        workdir = work / "etcd"
        workdir.mkdir(parents=True, exist_ok=True)
        _write_etcd_module(workdir)
        tmp = out / ".etcd.partial"
        _run(
            [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(tmp), "."],
            workdir, env, f"building etcd {versions.ETCD_VERSION}", progress,
        )
        tmp.replace(out / "etcd")
    progress.say(f"binaries ready in {out} ({time.monotonic() - started:.0f}s)")
    return out


if __name__ == "__main__":  # pragma: no cover - `python -m labkit.sandbox.binaries`
    build(sys.argv[1:] or None)
