"""Docker's log stream as pieces of one output stream each.

A container without a TTY has its output *multiplexed*: each message is a frame with an
8-byte header (``[stream, 0, 0, 0, size as 4 bytes big-endian]``, stream 1 stdout, 2
stderr, 3 the engine's own error) and ``size`` bytes of payload. A container with a TTY has
one raw stream (stdout). Chunks of the HTTP body cut frames anywhere, headers included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BIG_FRAME", "Demuxer", "Piece", "RawReader", "StreamName"]

StreamName = Literal["stdout", "stderr"]
_STREAMS: dict[int, StreamName] = {0: "stdout", 1: "stdout", 2: "stderr", 3: "stderr"}
#: A frame longer than this is handed on in pieces as it arrives rather than held whole.
BIG_FRAME = 256 * 1024


@dataclass(frozen=True, slots=True)
class Piece:
    """Bytes of one stream. ``start``: True when they begin one of Docker's messages (a
    frame), False when they continue one, None when the stream does not tell (TTY)."""

    stream: StreamName
    data: bytes
    start: bool | None


class Demuxer:
    """Frames of a multiplexed stream, from chunks cut anywhere."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._remaining = 0  # payload bytes of the current frame not yet handed on
        self._stream: StreamName = "stdout"
        self._started = False  # a piece of the current frame was handed on

    def feed(self, chunk: bytes) -> list[Piece]:
        buf = self._buf
        buf += chunk
        out: list[Piece] = []
        pos, size = 0, len(buf)
        while True:
            if self._remaining == 0:
                if size - pos < 8:
                    break
                self._stream = _STREAMS.get(buf[pos], "stdout")
                self._remaining = int.from_bytes(buf[pos + 4 : pos + 8], "big")
                self._started = False
                pos += 8
                if self._remaining == 0:
                    continue
            available = size - pos
            if available >= self._remaining:
                end = pos + self._remaining
                out.append(Piece(self._stream, bytes(buf[pos:end]), not self._started))
                self._remaining = 0
                pos = end
            elif self._remaining > BIG_FRAME and available >= 64 * 1024:
                out.append(Piece(self._stream, bytes(buf[pos:size]), not self._started))
                self._started = True
                self._remaining -= available
                pos = size
            else:
                break
        del buf[:pos]
        return out


class RawReader:
    """A TTY container's one stream: every chunk is stdout, message boundaries unknown."""

    def feed(self, chunk: bytes) -> list[Piece]:
        return [Piece("stdout", bytes(chunk), None)] if chunk else []
