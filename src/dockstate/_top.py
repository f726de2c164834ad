"""``dockstate top``: what the running containers use, as ``docker stats`` shows it.

The pure part (sizes, rows, sorting) is separate from the drawing (a ``rich`` table) and from
where the samples come from (cli.py: the local engine through a :class:`~dockstate.stats.Sampler`,
or a server's ``stats`` stream).

Sizes are printed as the Docker CLI prints them (``docker/go-units``): memory with binary
units and four significant digits (``units.BytesSize``: ``1.523MiB``, ``23.41GiB``), network
and block I/O with decimal units and three (``units.HumanSizeWithPrecision(v, 3)``:
``1.23kB``, ``0B``, ``12.3MB``); percents with two decimals (``12.50%``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .stats import ContainerStats

__all__ = [
    "COLUMNS",
    "SamplesView",
    "SortKey",
    "TopRow",
    "binary_size",
    "decimal_size",
    "percent",
    "render_table",
    "top_rows",
]

SortKey = Literal["cpu", "mem", "name"]

#: The columns, as ``docker stats`` names them (NAME first: that is what people look for).
COLUMNS: Final = (
    "NAME",
    "CONTAINER ID",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
)

_BINARY: Final = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_DECIMAL: Final = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def _custom_size(size: float, base: float, units: tuple[str, ...], digits: int) -> str:
    """go-units' ``CustomSize("%.<digits>g%s", size, base, units)``."""
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return f"{size:.{digits}g}{units[i]}"


def binary_size(value: float) -> str:
    """Memory as ``docker stats`` prints it: ``units.BytesSize`` (``1.5MiB``)."""
    return _custom_size(float(value), 1024.0, _BINARY, 4)


def decimal_size(value: float) -> str:
    """I/O as ``docker stats`` prints it: ``units.HumanSizeWithPrecision(v, 3)`` (``1.2kB``)."""
    return _custom_size(float(value), 1000.0, _DECIMAL, 3)


def percent(value: float) -> str:
    return f"{value:.2f}%"


@dataclass(frozen=True, slots=True)
class TopRow:
    """One container's line: its id, name and sample."""

    id: str
    name: str
    usage: ContainerStats

    @property
    def memory_percent(self) -> float:
        u = self.usage
        return 100.0 * u.memory_bytes / u.memory_limit_bytes if u.memory_limit_bytes > 0 else 0.0

    def cells(self) -> tuple[str, ...]:
        """The line's cells, in :data:`COLUMNS` order."""
        u = self.usage
        return (
            self.name,
            self.id[:12],
            percent(u.cpu_percent),
            f"{binary_size(u.memory_bytes)} / {binary_size(u.memory_limit_bytes)}",
            percent(self.memory_percent),
            f"{decimal_size(u.net_rx_bytes)} / {decimal_size(u.net_tx_bytes)}",
            f"{decimal_size(u.block_read_bytes)} / {decimal_size(u.block_write_bytes)}",
            str(u.pids),
        )


def top_rows(
    samples: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, str],
    sort: SortKey = "cpu",
) -> list[TopRow]:
    """The lines of a sample (``{id: {cpu_percent, memory_bytes, ...}}``, the wire's shape),
    named from ``names`` (an unknown container by its short id), sorted: ``cpu`` and ``mem``
    highest first, ``name`` alphabetically; ties by name, then id."""
    rows = [
        TopRow(cid, names.get(cid) or cid[:12], ContainerStats.from_dict(sample))
        for cid, sample in samples.items()
    ]
    rows.sort(key=lambda r: (r.name, r.id))
    if sort == "cpu":
        rows.sort(key=lambda r: -r.usage.cpu_percent)
    elif sort == "mem":
        rows.sort(key=lambda r: -r.usage.memory_bytes)
    return rows


def render_table(rows: list[TopRow], *, caption: str | None = None) -> Table:
    """The rows as a borderless ``rich`` table, as ``docker stats`` lays them out."""
    table = Table(box=None, pad_edge=False, header_style="bold", caption=caption)
    numeric = {"CPU %", "MEM %", "PIDS"}
    for title in COLUMNS:
        table.add_column(title, justify="right" if title in numeric else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row.cells())
    return table


class SamplesView:
    """Where ``dockstate top`` draws: a ``rich.live.Live`` table redrawn at each sample, or
    (``stream=False``) the first sample printed once, as ``docker stats --no-stream``.

    ``with view:`` holds the live display; :meth:`show` draws a sample and says whether the
    command is done.
    """

    def __init__(
        self, *, sort: SortKey = "cpu", stream: bool = True, console: Console | None = None
    ) -> None:
        self.sort: SortKey = sort
        self.stream = stream
        if console is None:
            console = Console()
            if not console.is_terminal:
                # Piped: no terminal width to fit, so never fold a line.
                console = Console(width=max(console.width, 200))
        self.console = console
        self._live: Live | None = None

    def __enter__(self) -> SamplesView:
        # Into a pipe or a file, each table is printed after the last, as docker stats does.
        if self.stream and self.console.is_terminal:
            self._live = Live(
                render_table([]),
                console=self.console,
                auto_refresh=False,
                screen=self.console.is_terminal,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def show(
        self, now: float, samples: Mapping[str, Mapping[str, Any]], names: Mapping[str, str]
    ) -> bool:
        rows = top_rows(samples, names, self.sort)
        if not self.stream:
            self.console.print(render_table(rows))
            return True
        clock = time.strftime("%H:%M:%S", time.localtime(now)) if now else "--:--:--"
        caption = f"{clock}  {len(rows)} running  sorted by {self.sort}  (Ctrl-C to quit)"
        table = render_table(rows, caption=caption)
        if self._live is not None:
            self._live.update(table, refresh=True)
        else:
            self.console.print(table)
        return False
