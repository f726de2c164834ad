"""``dockstate top``'s pure part: sizes as the Docker CLI prints them, lines and their order."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from dockstate._top import (
    COLUMNS,
    SamplesView,
    binary_size,
    decimal_size,
    percent,
    render_table,
    top_rows,
)
from dockstate.cli import main

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1KiB"),
        (320 * KIB, "320KiB"),
        (int(1.5 * MIB), "1.5MiB"),
        (1_597_440, "1.523MiB"),  # %.4g, as go-units' BytesSize
        (int(23.54 * GIB), "23.54GiB"),
        (1023.99 * MIB, "1024MiB"),
        (3 * (1 << 40), "3TiB"),
    ],
)
def test_memory_sizes_are_binary_with_four_digits(value: float, text: str) -> None:
    assert binary_size(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (1530, "1.53kB"),
        (1_234_567, "1.23MB"),
        (12_345_678, "12.3MB"),
        (4_000_000_000, "4GB"),
    ],
)
def test_io_sizes_are_decimal_with_three_digits(value: float, text: str) -> None:
    assert decimal_size(value) == text


def test_percents_have_two_decimals() -> None:
    assert percent(0) == "0.00%"
    assert percent(99.876) == "99.88%"
    assert percent(150.0) == "150.00%"


def sample(cpu: float = 0.0, mem: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "cpu_percent": cpu,
        "memory_bytes": mem,
        "memory_limit_bytes": 8 * GIB,
        "net_rx_bytes": 1530,
        "net_tx_bytes": 0,
        "block_read_bytes": 12_345_678,
        "block_write_bytes": 4096,
        "pids": 3,
        **extra,
    }


SAMPLES = {
    "a" * 64: sample(cpu=5.0, mem=300 * MIB),
    "b" * 64: sample(cpu=99.5, mem=10 * MIB),
    "c" * 64: sample(cpu=5.0, mem=2 * GIB),
    "d" * 64: sample(cpu=0.0, mem=1 * MIB),
}
NAMES = {"a" * 64: "web", "b" * 64: "burner", "c" * 64: "db"}


def test_sorted_by_cpu_highest_first_ties_by_name() -> None:
    rows = top_rows(SAMPLES, NAMES, "cpu")
    assert [r.name for r in rows] == ["burner", "db", "web", "d" * 12]


def test_sorted_by_memory_highest_first() -> None:
    rows = top_rows(SAMPLES, NAMES, "mem")
    assert [r.name for r in rows] == ["db", "web", "burner", "d" * 12]


def test_sorted_by_name() -> None:
    rows = top_rows(SAMPLES, NAMES, "name")
    assert [r.name for r in rows] == ["burner", "db", "d" * 12, "web"]


def test_a_line_reads_as_docker_stats_prints_it() -> None:
    (row,) = top_rows({"b" * 64: SAMPLES["b" * 64]}, NAMES)
    assert dict(zip(COLUMNS, row.cells(), strict=True)) == {
        "NAME": "burner",
        "CONTAINER ID": "b" * 12,
        "CPU %": "99.50%",
        "MEM USAGE / LIMIT": "10MiB / 8GiB",
        "MEM %": "0.12%",
        "NET I/O": "1.53kB / 0B",
        "BLOCK I/O": "12.3MB / 4.1kB",
        "PIDS": "3",
    }


def test_no_limit_and_missing_fields_read_zero() -> None:
    (row,) = top_rows({"e" * 64: {"cpu_percent": None, "memory_bytes": 5}}, {})
    assert row.memory_percent == 0.0
    assert row.cells()[2:] == ("0.00%", "5B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0")


def test_the_table_has_every_column_and_a_line_per_container() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    console.print(render_table(top_rows(SAMPLES, NAMES)))
    lines = out.getvalue().splitlines()
    assert lines[0].split() == " ".join(COLUMNS).split()
    assert [line.split()[0] for line in lines[1:]] == ["burner", "db", "web", "d" * 12]


def test_no_stream_prints_one_table_and_is_done() -> None:
    out = io.StringIO()
    view = SamplesView(sort="mem", stream=False, console=Console(file=out, width=200))
    with view:
        assert view.show(0.0, SAMPLES, NAMES) is True
    assert out.getvalue().splitlines()[1].startswith("db ")


def test_streaming_redraws_and_goes_on() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True)
    view = SamplesView(stream=True, console=console)
    with view:
        assert view.show(1_700_000_000.0, SAMPLES, NAMES) is False
        assert "burner" in out.getvalue()
        assert view.show(1_700_000_001.0, {}, NAMES) is False
    assert "0 running" in out.getvalue()


def test_streaming_into_a_pipe_prints_each_table() -> None:
    out = io.StringIO()
    view = SamplesView(stream=True, console=Console(file=out, width=200))
    with view:
        view.show(1_700_000_000.0, SAMPLES, NAMES)
        view.show(1_700_000_001.0, {}, NAMES)
    text = out.getvalue()
    assert text.count("CONTAINER ID") == 2
    assert "burner" in text
    assert "0 running" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["top", "--interval", "0.1"], "must be at least 0.5 seconds"),
        (["top", "--sort", "pids"], "invalid choice"),
        (["top", "--url", "http://127.0.0.1:1"], "--url needs the server's token"),
        (["top", "--url", "http://x", "--token", "t", "--docker-host", "unix:///x"], "exclude"),
        (["top", "--docker-host", "ftp://host"], "unsupported Docker host"),
    ],
)
def test_refusals_are_one_line_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.delenv("DOCKSTATE_TOKEN", raising=False)
    try:
        status = main(argv)
    except SystemExit as exited:  # argparse's refusals
        status = exited.code  # type: ignore[assignment]
    assert status == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert err.startswith("dockstate: ")


def test_an_unreachable_server_is_one_line_with_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["top", "--url", "http://127.0.0.1:1", "--token", "t", "--no-stream"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dockstate: cannot reach the dockstate server")
    assert err.count("\n") == 1
