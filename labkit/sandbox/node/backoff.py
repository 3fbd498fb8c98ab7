"""The kubelet's crash-loop and image-pull back-off (client-go's flowcontrol.Backoff).

Semantics copied from upstream: the first restart is immediate; each later one
waits ``initial * 2^n`` capped at ``maximum``; an entry idle for more than
``2 * maximum`` (10 minutes with the defaults) starts over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

INITIAL = 10.0
MAXIMUM = 300.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    """Per-key exponential back-off, keyed like the kubelet (pod uid + container)."""

    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM, clock=time.time):
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, at: float) -> bool:
        return at - entry.last_update > 2 * self.maximum

    def next(self, key: str, at: float) -> None:
        """Record a failure at ``at`` (the container's finishedAt)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, at):
            self._entries[key] = _Entry(self.initial, self.clock())
        else:
            entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = self.clock()

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def in_backoff_since(self, key: str, since: float) -> bool:
        """Is ``key`` still waiting, counting from ``since``?"""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, since):
            return False
        return self.clock() - since < entry.backoff

    def ready_at(self, key: str, since: float) -> float:
        """When the wait that started at ``since`` ends."""
        return since + self.get(key)

    def forget(self, prefix: str) -> None:
        """Drop every entry of a pod (keys start with its uid)."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
