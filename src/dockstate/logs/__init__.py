"""Container logs (protocol.md §10): Docker's ``/containers/{id}/logs`` as lines.

The package, a module per thing it holds::

    _frames.py   Demuxer (8-byte stream headers, non-TTY), RawReader (TTY): pieces of a stream
    _lines.py    LineSplitter, LogLine: timestamps off, partial lines held, long ones capped,
                 invalid UTF-8 replaced; time_ns, docker_time
    _reader.py   container_lines (one read), ContainerReader (across restarts),
                 ProjectReader (a compose project merged in time order), Sink
"""

from ._frames import BIG_FRAME, Demuxer, Piece, RawReader, StreamName
from ._lines import MAX_LINE, LineSplitter, LogLine, docker_time, fixed_time, time_ns
from ._reader import (
    MERGE_WINDOW,
    ContainerReader,
    LogOptions,
    ProjectReader,
    Sink,
    container_lines,
    read_container,
    resolve_container,
)

__all__ = [
    "BIG_FRAME",
    "MAX_LINE",
    "MERGE_WINDOW",
    "ContainerReader",
    "Demuxer",
    "LineSplitter",
    "LogLine",
    "LogOptions",
    "Piece",
    "ProjectReader",
    "RawReader",
    "Sink",
    "StreamName",
    "container_lines",
    "docker_time",
    "fixed_time",
    "read_container",
    "resolve_container",
    "time_ns",
]
