"""dockstate.logs without an engine: Docker's multiplexed frames (headers cut anywhere), a
TTY's raw stream, lines and their timestamps, partial, long and invalid lines."""

from __future__ import annotations

import struct

import pytest

from dockstate.logs import (
    Demuxer,
    LineSplitter,
    LogLine,
    RawReader,
    docker_time,
    fixed_time,
    time_ns,
)

T1 = b"2026-12-02T20:00:00.000000001Z "
T2 = b"2026-12-02T20:00:00.500000000Z "


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


#: As the engine sends a non-TTY container's `logs?timestamps=1`: one frame a message.
RECORDED = (
    frame(1, T1 + b"hello\n")
    + frame(2, T1 + b"oops \xff\xfe bad\n")
    + frame(1, T2 + b"world\n")
    + frame(1, T2 + b"no newline")
)


def lines_of(chunks: list[bytes], *, tty: bool = False) -> list[LogLine]:
    demux: Demuxer | RawReader = RawReader() if tty else Demuxer()
    splitters = {s: LineSplitter("c1", s) for s in ("stdout", "stderr")}
    out: list[LogLine] = []
    for chunk in chunks:
        for piece in demux.feed(chunk):
            out += splitters[piece.stream].feed(piece.data, piece.start)
    return out + splitters["stdout"].flush() + splitters["stderr"].flush()


EXPECTED = [
    LogLine("c1", "stdout", T1[:-1].decode(), "hello"),
    LogLine("c1", "stderr", T1[:-1].decode(), "oops \ufffd\ufffd bad"),
    LogLine("c1", "stdout", T2[:-1].decode(), "world"),
    LogLine("c1", "stdout", T2[:-1].decode(), "no newline"),  # flushed at the end
]


@pytest.mark.parametrize("size", [1, 3, 7, 8, 9, 13, 64, len(RECORDED)])
def test_frames_cut_anywhere_give_the_same_lines(size: int) -> None:
    chunks = [RECORDED[i : i + size] for i in range(0, len(RECORDED), size)]
    assert lines_of(chunks) == EXPECTED


def test_a_header_split_across_two_chunks() -> None:
    data = frame(1, T1 + b"a\n") + frame(2, T2 + b"b\n")
    cut = len(frame(1, T1 + b"a\n")) + 3  # three bytes of the second header
    got = lines_of([data[:cut], data[cut:]])
    assert [(x.stream, x.text) for x in got] == [("stdout", "a"), ("stderr", "b")]


def test_a_partial_line_waits_for_its_newline() -> None:
    splitter = LineSplitter("c1", "stdout")
    assert splitter.feed(T1 + b"par", True) == []
    assert [x.text for x in splitter.feed(b"tial\n", False)] == ["partial"]


def test_docker_s_split_messages_of_a_long_line_lose_their_inner_timestamps() -> None:
    # json-file cuts a long line into 16 KiB messages, each with a timestamp of its own.
    data = frame(1, T1 + b"x" * 10) + frame(1, T2 + b"y" * 10 + b"\n")
    (line,) = lines_of([data])
    assert line.text == "x" * 10 + "y" * 10
    assert line.time == T1[:-1].decode()


def test_a_long_line_is_capped_and_marked() -> None:
    splitter = LineSplitter("c1", "stdout", max_line=100)
    out = splitter.feed(T1 + "é".encode() * 200 + b"\n", True)
    assert len(out) == 1
    assert out[0].truncated
    assert out[0].text == "é" * 50  # cut on a character's boundary
    assert out[0].as_json()["truncated"] is True
    assert "truncated" not in splitter.feed(T1 + b"short\n", True)[0].as_json()


def test_a_tty_stream_is_read_raw() -> None:
    data = T1 + b"one\r\n" + T2 + b"two\r\n" + T2 + b"thr"
    for size in (1, 5, 40, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        got = lines_of([*chunks, b"ee\r\n"], tty=True)
        assert [(x.stream, x.text, x.time) for x in got] == [
            ("stdout", "one", T1[:-1].decode()),
            ("stdout", "two", T2[:-1].decode()),
            ("stdout", "three", T2[:-1].decode()),
        ], size


def test_a_big_frame_is_handed_on_in_pieces() -> None:
    payload = T1 + b"z" * 600_000 + b"\n"
    data = frame(1, payload)
    demux = Demuxer()
    pieces = [p for i in range(0, len(data), 65_536) for p in demux.feed(data[i : i + 65_536])]
    assert len(pieces) > 1
    assert pieces[0].start
    assert not pieces[1].start
    assert b"".join(p.data for p in pieces) == payload
    splitter = LineSplitter("c1", "stdout")
    out = [x for p in pieces for x in splitter.feed(p.data, p.start)]
    assert len(out) == 1
    assert out[0].truncated
    assert len(out[0].text) == 65_536


def test_times() -> None:
    assert time_ns("2026-12-02T20:00:00.000000001Z") == 1796241600_000000001
    assert time_ns("2026-12-02T20:00:00Z") == 1796241600_000000000
    assert docker_time("2026-12-02T20:00:00.5Z") == "1796241600.500000000"
    assert docker_time("1796241600") == "1796241600"
    with pytest.raises(ValueError, match="yesterday"):
        docker_time("yesterday")


def test_times_written_otherwise_than_docker_s_compare_in_their_order() -> None:
    """Go's RFC3339Nano trims a time's trailing zeros, and a time may carry an offset: as text,
    ``.12Z`` came after ``.125Z``, and a project's merge put its lines out of order."""
    written = ["2026-12-02T20:00:00.125Z", "2026-12-02T20:00:00.12Z", "2026-12-02T21:00:00.2+01:00"]
    fixed = [fixed_time(t) for t in written]
    assert fixed == [
        "2026-12-02T20:00:00.125000000Z",
        "2026-12-02T20:00:00.120000000Z",
        "2026-12-02T20:00:00.200000000Z",
    ]
    assert sorted(fixed) == [fixed[1], fixed[0], fixed[2]]
    assert fixed_time("2026-12-02T20:00:00.000000001Z") == "2026-12-02T20:00:00.000000001Z"
    # What the splitter hands on is already fixed.
    splitter = LineSplitter("c1", "stdout")
    (line,) = splitter.feed(b"2026-12-02T20:00:00.12Z hello\n")
    assert (line.time, line.text) == ("2026-12-02T20:00:00.120000000Z", "hello")
