"""Container logs in the CRI format, as the kubelet stores and serves them.

Each container instance (one per restart) writes ``<restartCount>.log`` with
lines ``<RFC3339Nano time> <stdout|stderr> <F|P> <text>``: F ends a line, P is
a partial chunk. The reader implements the kubelet API's options
(``tailLines``, ``sinceSeconds``/``sinceTime``, ``timestamps``, ``limitBytes``,
``follow``) so ``kubectl logs`` behaves as on any cluster.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

MAX_PARTIAL = 16 * 1024


def rfc3339nano(ts: float | None = None) -> str:
    """``2026-12-03T17:36:24.123456789Z`` (microsecond precision, nanosecond width)."""
    ts = time.time() if ts is None else ts
    d = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond:06d}000Z"


class LogWriter:
    """Turns raw bytes from a container's stdout/stderr into CRI log lines."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = open(path, "ab", buffering=0)
        self._pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def feed(self, stream: str, data: bytes) -> None:
        buf = self._pending[stream] + data
        *lines, rest = buf.split(b"\n")
        stamp = rfc3339nano().encode()
        out = [stamp + b" " + stream.encode() + b" F " + line + b"\n" for line in lines]
        while len(rest) > MAX_PARTIAL:
            out.append(stamp + b" " + stream.encode() + b" P " + rest[:MAX_PARTIAL] + b"\n")
            rest = rest[MAX_PARTIAL:]
        self._pending[stream] = rest
        if out:
            self._file.write(b"".join(out))

    def close_stream(self, stream: str) -> None:
        """EOF on a stream: flush a last line that had no newline (as a partial)."""
        rest = self._pending.get(stream, b"")
        if rest:
            stamp = rfc3339nano().encode()
            self._file.write(stamp + b" " + stream.encode() + b" P " + rest + b"\n")
            self._pending[stream] = b""

    def close(self) -> None:
        for stream in ("stdout", "stderr"):
            self.close_stream(stream)
        self._file.close()


@dataclass
class LogOptions:
    """The kubelet containerLogs query parameters."""

    follow: bool = False
    tail_lines: int | None = None
    since_time: float | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    stream: str | None = None  # "Stdout"/"Stderr"/None for both

    @classmethod
    def from_query(cls, query: dict[str, list[str]]) -> "LogOptions":
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        opts = cls(
            follow=one("follow") in ("true", "1"),
            timestamps=one("timestamps") in ("true", "1"),
            stream=one("stream"),
        )
        if one("tailLines") is not None:
            opts.tail_lines = max(0, int(one("tailLines")))
        if one("limitBytes") is not None:
            opts.limit_bytes = max(1, int(one("limitBytes")))
        if one("sinceSeconds") is not None:
            opts.since_time = time.time() - int(one("sinceSeconds"))
        if one("sinceTime") is not None:
            opts.since_time = dt.datetime.fromisoformat(
                one("sinceTime").replace("Z", "+00:00")).timestamp()
        return opts


def _parse(line: bytes) -> tuple[str, str, bool, bytes] | None:
    try:
        stamp, stream, tag, text = line.rstrip(b"\n").split(b" ", 3)
    except ValueError:
        try:
            stamp, stream, tag = line.rstrip(b"\n").split(b" ", 2)
            text = b""
        except ValueError:
            return None
    return stamp.decode(), stream.decode(), tag == b"F", text


def _stamp_time(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()


def _render(stamp: str, text: bytes, full: bool, opts: LogOptions) -> bytes:
    body = text + (b"\n" if full else b"")
    return (stamp.encode() + b" " + body) if opts.timestamps else body


def read(path: Path, opts: LogOptions, still_running: Callable[[], bool]) -> Iterator[bytes]:
    """Yield the log as kubectl expects it, following while the instance runs."""
    budget = [opts.limit_bytes]  # bytes left to send (None: no limit), shared by both phases
    wanted = {"Stdout": "stdout", "Stderr": "stderr"}.get(opts.stream or "", None)

    def select(raw_lines: list[bytes]) -> list[bytes]:
        out = []
        for raw in raw_lines:
            parsed = _parse(raw)
            if parsed is None:
                continue
            stamp, stream, full, text = parsed
            if wanted and stream != wanted:
                continue
            if opts.since_time is not None and _stamp_time(stamp) < opts.since_time:
                continue
            out.append(_render(stamp, text, full, opts))
        return out

    with open(path, "rb") as f:
        first = f.read()
        lines = first.splitlines(keepends=True)
        partial = b""
        if lines and not lines[-1].endswith(b"\n"):
            partial = lines.pop()
        chunks = select(lines)
        if opts.tail_lines is not None:
            chunks = chunks[-opts.tail_lines:] if opts.tail_lines else []
        for chunk in _within(budget, chunks):
            yield chunk
        if not opts.follow or budget[0] == 0:
            return
        idle_after_exit = 0
        while True:
            more = f.read()
            if more:
                data = partial + more
                lines = data.splitlines(keepends=True)
                partial = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
                for chunk in _within(budget, select(lines)):
                    yield chunk
                if budget[0] == 0:
                    return
                continue
            if not still_running():
                # The pipes may hold a last line: read a few more times, then stop.
                idle_after_exit += 1
                if idle_after_exit > 3:
                    return
            time.sleep(0.1)


def _within(budget: list, chunks: list[bytes]) -> Iterator[bytes]:
    """Yield chunks until ``budget[0]`` bytes are spent (``limitBytes``), trimming the last one."""
    for chunk in chunks:
        if budget[0] is not None:
            if budget[0] <= 0:
                return
            chunk = chunk[:budget[0]]
            budget[0] -= len(chunk)
        yield chunk
