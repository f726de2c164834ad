"""The contenders that are not dockstate, each a small process of its own.

    python -m bench.contenders events --docker-host unix:///var/run/docker.sock
    python -m bench.contenders poll   --docker-host unix:///tmp/bench-....sock [--interval 1]

``events`` is the limit: a bare subscriber to Docker's ``/events`` stream, the earliest moment
any program can know of a change. ``poll`` is the baseline that dockstate replaces: every
``--interval`` seconds it lists containers, images, volumes and networks and diffs each list
with the previous one.

Both write one JSON object per line on stdout: first ``{"ready": true}``, then one line per
event (``events``) or per object that changed between two listings (``poll``), each with
``t``, the wall-clock nanoseconds at which this process knew of it. Only httpx is imported:
what is measured is the contender, not dockstate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import httpx

__all__ = ["LISTS", "diff", "poll_once"]

#: What the polling baseline lists, and the key of each object.
LISTS = {
    "container": ("/containers/json", {"all": "1"}, "Id"),
    "image": ("/images/json", {}, "Id"),
    "volume": ("/volumes", {}, "Name"),
    "network": ("/networks", {}, "Id"),
}


def client(docker_host: str, timeout: float | None = 60) -> httpx.AsyncClient:
    if not docker_host.startswith("unix://"):
        raise SystemExit(f"only unix:// hosts are supported, not {docker_host}")
    transport = httpx.AsyncHTTPTransport(uds=docker_host.removeprefix("unix://"))
    return httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=timeout)


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def events(docker_host: str) -> None:
    async with (
        client(docker_host, timeout=None) as http,
        http.stream("GET", "/events") as response,
    ):
        response.raise_for_status()
        emit({"ready": True})
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            now = time.time_ns()
            event = json.loads(line)
            actor = event.get("Actor") or {}
            emit(
                {
                    "t": now,
                    "type": event.get("Type"),
                    "action": event.get("Action") or event.get("status"),
                    "id": actor.get("ID") or event.get("id"),
                    "time_nano": event.get("timeNano"),
                }
            )


async def poll_once(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """One listing of everything: ``{kind: {key: object}}``."""

    async def one(path: str, params: dict[str, str], key: str) -> dict[str, Any]:
        response = await http.get(path, params=params)
        response.raise_for_status()
        body = response.json()
        items = (body.get("Volumes") or []) if isinstance(body, dict) else body
        return {item[key]: item for item in items}

    results = await asyncio.gather(*(one(*spec) for spec in LISTS.values()))
    return dict(zip(LISTS, results, strict=True))


def diff(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The objects created, updated or removed between two listings, as the baseline would
    show them (a container with its name and state)."""
    changes = []
    for kind, objects in after.items():
        old = before.get(kind, {})
        for key, obj in objects.items():
            if key not in old:
                changes.append({"kind": kind, "op": "created", "id": key, **_view(kind, obj)})
            elif old[key] != obj:
                changes.append({"kind": kind, "op": "updated", "id": key, **_view(kind, obj)})
        changes += [{"kind": kind, "op": "removed", "id": key} for key in old if key not in objects]
    return changes


def _view(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    if kind != "container":
        return {}
    names = obj.get("Names") or ["/"]
    return {"name": names[0].lstrip("/"), "state": obj.get("State")}


async def poll(docker_host: str, interval: float) -> None:
    async with client(docker_host) as http:
        known = await poll_once(http)
        emit({"ready": True})
        while True:
            started = time.monotonic()
            current = await poll_once(http)
            now = time.time_ns()
            for change in diff(known, current):
                emit({"t": now, **change})
            known = current
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("contender", choices=["events", "poll"])
    parser.add_argument("--docker-host", default="unix:///var/run/docker.sock")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        if args.contender == "events":
            asyncio.run(events(args.docker_host))
        else:
            asyncio.run(poll(args.docker_host, args.interval))


if __name__ == "__main__":
    main()
