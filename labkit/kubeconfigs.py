"""Kubeconfig files: read the user's, and write small per-lesson copies.

labkit never edits ``~/.kube/config``. It writes a one-context copy
(``<state>/kubeconfigs/<context>[-<namespace>].yaml``, mode 0600) and points
``KUBECONFIG`` at it, so ``!kubectl`` cells and terminals opened later talk to
the same cluster and namespace as the notebook.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from .errors import LabkitError
from .paths import state_root, write_private

_PATH_KEYS = {"certificate-authority", "client-certificate", "client-key", "tokenFile"}


def default_paths() -> list[Path]:
    """The files kubectl reads: ``$KUBECONFIG`` (a path list) or ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _absolutise(entry: dict, base: Path) -> dict:
    """Relative cert/key paths are relative to their kubeconfig file: keep them valid in a copy."""
    out = dict(entry)
    for key, value in entry.items():
        if key in _PATH_KEYS and isinstance(value, str) and value and not os.path.isabs(value):
            out[key] = str((base / value).resolve())
    return out


def load_merged(paths: list[Path] | None = None) -> dict:
    """Merge kubeconfig files like kubectl does (the first file to define a name wins)."""
    merged: dict = {"clusters": [], "users": [], "contexts": [], "current-context": ""}
    seen: dict[str, set] = {"clusters": set(), "users": set(), "contexts": set()}
    for path in paths or default_paths():
        if not path.is_file():
            continue
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise LabkitError(f"cannot read kubeconfig {path}: {e}") from e
        merged["current-context"] = merged["current-context"] or doc.get("current-context", "")
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for item in doc.get(section) or []:
                if item.get("name") in seen[section]:
                    continue
                seen[section].add(item.get("name"))
                if inner in ("cluster", "user") and isinstance(item.get(inner), dict):
                    item = dict(item, **{inner: _absolutise(item[inner], path.parent)})
                merged[section].append(item)
    return merged


def contexts(paths: list[Path] | None = None) -> tuple[list[str], str]:
    """All context names and the current one."""
    doc = load_merged(paths)
    return [c["name"] for c in doc["contexts"]], doc["current-context"]


def minify(context: str | None = None, paths: list[Path] | None = None) -> dict:
    """A one-context kubeconfig for ``context`` (default: the current context)."""
    doc = load_merged(paths)
    name = context or doc["current-context"]
    if not name:
        raise LabkitError("no kubeconfig context is selected: pass context=..., or run "
                          "`kubectl config use-context <name>`")
    ctx = next((c for c in doc["contexts"] if c["name"] == name), None)
    if ctx is None:
        names = ", ".join(c["name"] for c in doc["contexts"]) or "none"
        raise LabkitError(f"kubeconfig context '{name}' does not exist (known: {names})")
    inner = ctx.get("context") or {}
    cluster = next((c for c in doc["clusters"] if c["name"] == inner.get("cluster")), None)
    user = next((u for u in doc["users"] if u["name"] == inner.get("user")), None)
    if cluster is None:
        raise LabkitError(f"context '{name}' names cluster '{inner.get('cluster')}', "
                          "which the kubeconfig does not define")
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [cluster], "users": [user] if user else [],
        "contexts": [ctx], "current-context": name, "preferences": {},
    }


def read(path: Path) -> dict:
    """One kubeconfig file as a dict."""
    return minify(None, [Path(path)])


def server_of(doc: dict) -> str:
    """The API server URL of a one-context kubeconfig."""
    return (doc["clusters"][0].get("cluster") or {}).get("server", "")


def with_namespace(doc: dict, namespace: str | None) -> dict:
    """A copy whose (only) context defaults to ``namespace``."""
    out = dict(doc)
    ctx = dict(doc["contexts"][0])
    ctx["context"] = dict(ctx.get("context") or {})
    if namespace:
        ctx["context"]["namespace"] = namespace
    else:
        ctx["context"].pop("namespace", None)
    out["contexts"] = [ctx]
    return out


def write_copy(doc: dict, label: str) -> Path:
    """Write ``doc`` to ``<state>/kubeconfigs/<label>.yaml`` (0600) and return the path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
    path = state_root() / "kubeconfigs" / f"{safe}.yaml"
    write_private(path, yaml.safe_dump(doc, sort_keys=False))
    return path
