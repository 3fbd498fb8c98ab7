"""Opt-in merge of the sandbox's context into ``~/.kube/config`` (`labkit up --merge-kubeconfig`).

labkit never edits a user's kubeconfig unless asked: a learner's other
clusters (work, minikube) must stay exactly as they were.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ..paths import write_private
from .config import ClusterConfig


def default_kubeconfig() -> Path:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


def merge_into_default(cfg: ClusterConfig, target: Path | None = None) -> Path:
    """Add (or replace) the sandbox's cluster, user and context; keep everything else."""
    target = target or Path.home() / ".kube" / "config"
    ours = yaml.safe_load(cfg.kubeconfig.read_text())
    theirs = yaml.safe_load(target.read_text()) if target.exists() else None
    theirs = theirs or {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    for section in ("clusters", "users", "contexts"):
        entries = [e for e in theirs.get(section) or []
                   if e["name"] not in {o["name"] for o in ours[section]}]
        theirs[section] = entries + ours[section]
    theirs["current-context"] = ours["current-context"]  # as kind and minikube do
    write_private(target, yaml.safe_dump(theirs, sort_keys=False))
    return target
