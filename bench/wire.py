"""7. Wire size: the bytes a client receives per change, mode ``changes`` against mode ``full``.

Four real WebSocket clients follow one ``dockstate serve`` at once: mode ``changes`` and mode
``full`` (the whole filtered state after every change, at most one per 100 ms), each with and
without permessage-deflate. After their first state, ``wire_ops`` operations (stop, start,
rename, pause, unpause of random bench containers, one every 250 ms) run against the engine.
Each client counts the bytes it read off its socket (WebSocket frames as sent, compressed or
not) and the JSON text those frames carried. Per change = bytes / the changes (entries of
``changes`` messages) the mode-``changes`` client received in the same window.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .harness import (
    Context,
    Result,
    WsClient,
    dockstate_server,
    fmt,
    log,
    table,
)
from .ops import random_operations

KEY = "wire"
TITLE = "7. Wire size: bytes a client receives per change"
SPACING = 0.25
VARIANTS = [("changes", True), ("changes", False), ("full", True), ("full", False)]


async def run(ctx: Context) -> Result:
    opts = ctx.options
    log(f"wire size: {opts.wire_ops} operations, 4 clients")
    async with dockstate_server() as server:
        clients = [
            await WsClient(server, mode=mode, deflate=deflate).start() for mode, deflate in VARIANTS
        ]
        try:
            marks = [c.mark() for c in clients]
            await random_operations(
                ctx.engine, ctx.population.containers, opts.wire_ops, SPACING, seed=7
            )
            await asyncio.sleep(1.0)
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    reference = clients[0]
    changes = sum(
        len(m.get("changes", ()))
        for _, m in reference.parsed(marks[0][0])
        if m.get("type") == "changes"
    )
    per = max(1, changes)
    base = (reference.wire_bytes - marks[0][1]) / per
    rows = []
    data: dict[str, Any] = {"ops": opts.wire_ops, "changes": changes, "variants": {}}
    for (mode, deflate), client, (index, wire0) in zip(VARIANTS, clients, marks, strict=True):
        wire = client.wire_bytes - wire0
        text = client.text_bytes(index)
        messages = len(client.messages) - index
        label = f"`{mode}`, " + ("deflate" if deflate else "no compression")
        if deflate and not client.negotiated_deflate:
            label += " (not negotiated!)"
        rows.append(
            [
                label,
                fmt(client.initial_wire_bytes / 1024),
                messages,
                fmt(wire / 1024),
                fmt(wire / per, 0),
                fmt(text / per, 0),
                f"{wire / per / base:.1f}x",
            ]
        )
        data["variants"][f"{mode}{'+deflate' if deflate else ''}"] = {
            "negotiated_deflate": client.negotiated_deflate,
            "initial_wire_bytes": client.initial_wire_bytes,
            "initial_text_bytes": client.initial_text_bytes,
            "messages": messages,
            "wire_bytes": wire,
            "text_bytes": text,
            "wire_bytes_per_change": wire / per,
            "text_bytes_per_change": text / per,
        }
    headers = [
        "mode, compression",
        "first state, KB on the wire",
        "messages after it",
        "KB on the wire",
        "wire bytes/change",
        "JSON bytes/change",
        "vs `changes`+deflate",
    ]
    notes = [
        f"{changes} changes from {opts.wire_ops} operations on {opts.containers:,} containers; "
        "wire = WebSocket frames as read off the socket, JSON = the text they carried.",
    ]
    return Result(KEY, TITLE, table(headers, rows), notes, data)
