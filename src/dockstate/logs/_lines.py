"""Lines out of one stream's bytes: Docker's timestamp taken off, partial lines held until
their newline, long lines capped and marked, invalid UTF-8 replaced."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._frames import StreamName

__all__ = ["MAX_LINE", "LineSplitter", "LogLine", "docker_time", "fixed_time", "time_ns"]

#: The longest line text kept, in bytes of UTF-8; the rest is dropped and the line marked
#: ``truncated``.
MAX_LINE = 64 * 1024
_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) ")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a container's log."""

    container: str
    stream: StreamName
    #: When the engine received it (RFC 3339, UTC, nine digits: :func:`fixed_time`), or ""
    #: when read without timestamps.
    time: str
    text: str
    truncated: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "container": self.container,
            "stream": self.stream,
            "time": self.time,
            "text": self.text,
        }
        if self.truncated:
            out["truncated"] = True
        return out

    @property
    def size(self) -> int:
        """About what the line costs in memory and on the wire, in bytes."""
        return len(self.text) + 160


def time_ns(text: str) -> int:
    """An RFC 3339 time (nanoseconds kept) as nanoseconds since the epoch.

    Raises:
        ValueError: not such a time.
    """
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, zone = rest[:digits], rest[digits:]
    else:
        frac, zone = "", ""
        for i, ch in enumerate(head[19:], 19):
            if ch in "Z+-":
                head, zone = text[:i], text[i:]
                break
    moment = datetime.fromisoformat(head + (zone.replace("Z", "+00:00") or "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def fixed_time(text: str) -> str:
    """An RFC 3339 time as Docker writes its logs' (UTC, nine digits: ``...05.120000000Z``),
    so that times compare as text. Docker's are already; others (Go's RFC3339Nano trims
    trailing zeros, an offset instead of Z) are rewritten: as written, ``05.12Z`` sorted
    after ``05.125Z``.

    Raises:
        ValueError: not such a time.
    """
    if len(text) == 30 and text[19] == "." and text[-1] == "Z":
        return text
    ns = time_ns(text)
    whole = datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{ns % 1_000_000_000:09d}Z"


def docker_time(text: str) -> str:
    """An RFC 3339 time (or Unix seconds) as the ``seconds.nanoseconds`` the engine's
    ``since``/``until`` take.

    Raises:
        ValueError: neither.
    """
    try:
        float(text)
    except ValueError:
        ns = time_ns(text)
        return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
    return text


class LineSplitter:
    """The lines of one stream (stdout or stderr) of one container."""

    def __init__(
        self,
        container: str,
        stream: StreamName,
        *,
        timestamps: bool = True,
        max_line: int = MAX_LINE,
    ) -> None:
        self.container = container
        self.stream = stream
        self.timestamps = timestamps
        self.max_line = max_line
        self._parts: list[bytes] = []
        self._size = 0
        self._open = False  # a line has begun and not ended
        self._time = ""
        self._truncated = False
        self._carry = b""  # the start of a line too short to hold its timestamp yet (TTY)

    @property
    def open(self) -> bool:
        """Whether a partial line is held."""
        return self._open or bool(self._carry)

    def feed(self, data: bytes, start: bool | None = None) -> list[LogLine]:
        """The lines ``data`` completes; ``start`` as :class:`~._frames.Piece` has it."""
        if self._carry:
            data, self._carry = self._carry + data, b""
        out: list[LogLine] = []
        pos, size = 0, len(data)
        while pos < size:
            if self.timestamps:
                if not self._open:
                    if size - pos < 40 and data.find(b"\n", pos) < 0 and start is None:
                        self._carry = data[pos:]
                        return out
                    found = _TS.match(data, pos)
                    if found:
                        self._time = fixed_time(found.group()[:-1].decode())
                        pos = found.end()
                elif pos == 0 and (start or start is None):
                    # A continuation of a long line, which Docker split into messages (16 KiB
                    # each for json-file), each with a timestamp of its own.
                    found = _TS.match(data, pos)
                    if found:
                        pos = found.end()
            newline = data.find(b"\n", pos)
            end = size if newline < 0 else newline
            self._append(data, pos, end)
            self._open = True
            if newline < 0:
                break
            out.append(self._line())
            pos = newline + 1
        return out

    def flush(self) -> list[LogLine]:
        """The partial line held, if any (at the end of the stream)."""
        if self._carry:
            carry, self._carry = self._carry, b""
            self._append(carry, 0, len(carry))
            self._open = True
        return [self._line()] if self._open else []

    def _append(self, data: bytes, start: int, end: int) -> None:
        room = self.max_line - self._size
        if end - start > room:
            cut = start + max(room, 0)
            # Cut on a character's boundary, not inside one.
            while cut > start and (data[cut] & 0xC0) == 0x80:
                cut -= 1
            end = cut
            self._truncated = True
        if end > start:
            self._parts.append(data[start:end])
            self._size += end - start

    def _line(self) -> LogLine:
        raw = b"".join(self._parts)
        if raw.endswith(b"\r"):  # a TTY's line ends with \r\n
            raw = raw[:-1]
        line = LogLine(
            self.container,
            self.stream,
            self._time,
            raw.decode("utf-8", "replace"),
            self._truncated,
        )
        self._parts, self._size, self._open = [], 0, False
        self._time, self._truncated = "", False
        return line
