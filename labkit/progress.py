"""Progress for long work (builds, cluster start, waits) in terminals and notebooks.

A terminal gets one self-rewriting line; a notebook or a CI log gets a plain
line every ``every`` seconds, so logs stay readable and never go silent.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Report what is happening and for how long."""

    def __init__(self, stream: TextIO | None = None, *, every: float = 15.0, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.every = every
        self.quiet = quiet
        self._last_line = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def say(self, message: str) -> None:
        """One line of news."""
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def tick(self, label: str, elapsed: float) -> None:
        """Still working on ``label``; called often, prints sparingly."""
        if self.quiet:
            return
        if self._tty:
            self.stream.write(f"\r{label} … {_fmt(elapsed)}   ")
            self.stream.flush()
        elif elapsed - self._last_line >= self.every or self._last_line == 0.0:
            self._last_line = max(elapsed, 0.001)
            self.say(f"{label} … {_fmt(elapsed)}")

    def done(self, label: str, elapsed: float) -> None:
        """``label`` finished."""
        self._last_line = 0.0
        if self.quiet:
            return
        if self._tty:
            self.stream.write("\r")
        self.say(f"{label}: done in {_fmt(elapsed)}")


def _fmt(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.0f}s"


def elapsed_since(start: float) -> float:
    """Seconds since a ``time.monotonic()`` stamp."""
    return time.monotonic() - start
