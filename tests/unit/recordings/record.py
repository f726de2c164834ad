"""Record what an engine says during one scenario, for tests/unit/test_engine_dialects.py.

    DOCKER_HOST=$(scripts/engines.sh podman up) .venv/bin/python \
        tests/unit/recordings/record.py > tests/unit/recordings/podman-4.3.1.json
    .venv/bin/python tests/unit/recordings/record.py --as-api-1.52 \
        < tests/unit/recordings/docker-26.1.5.json > tests/unit/recordings/docker-29-api-1.52.json

Runs a fixed scenario with the docker CLI (a container, a network it joins and leaves, a
volume, a stop and a removal) and writes, as JSON: the engine's ``/version``, each step with
the raw events that arrived during it, the ids of what the scenario made, and the listings
taken while the container was on the network (and the inspect, by id, of the network listed
as ``bridge``). The engine should be idle (other events would be recorded too).

``--as-api-1.52`` reads a Docker recording and writes it as Docker 29 (API 1.52) says the same
things, by the Engine API's version history (Docker 29 cannot run here: see ``_SOURCE_1_52``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from dockstate.engine import DockerClient

IMAGE = "dockstate-test/busybox:latest"
STEPS = [
    ["run", "-d", "--name", "rec-c", IMAGE, "sleep", "300"],
    ["network", "create", "rec-n"],
    ["network", "connect", "rec-n", "rec-c"],
    ["network", "disconnect", "rec-n", "rec-c"],
    ["network", "rm", "rec-n"],
    ["volume", "create", "rec-v"],
    ["volume", "rm", "rec-v"],
    ["stop", "-t", "0", "rec-c"],
    ["rm", "rec-c"],
]
#: Seconds to wait for a step's events (Podman's arrive 0.2-0.25 s late).
SETTLE = 1.5


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


async def record() -> dict[str, Any]:
    out: dict[str, Any] = {"steps": [], "ids": {}, "listings": {}}
    async with DockerClient() as client:
        out["version"] = await client.negotiate()
        async with client.events() as stream:
            arrived: list[dict[str, Any]] = []

            async def pump() -> None:
                async for event in stream:
                    arrived.append(event)

            reader = asyncio.create_task(pump())
            for step in STEPS:
                output = await asyncio.to_thread(docker, *step)
                await asyncio.sleep(SETTLE)
                out["steps"].append({"command": step, "events": arrived[:]})
                arrived.clear()
                if step[:2] == ["network", "create"]:
                    out["ids"]["network"] = output.strip()
                if step[0] == "run":
                    out["ids"]["container"] = output.strip()
                if step[:2] == ["network", "connect"]:
                    # The raw listings, as the engine gives them (no dialect applied).
                    listings = {"containers": "/containers/json", "networks": "/networks"}
                    for kind, path in listings.items():
                        out["listings"][kind] = await client._get_json(path, kind, all="1")
                    bridge = next(n for n in out["listings"]["networks"] if n["Name"] == "bridge")
                    out["default_network"] = await client._get_json(
                        f"/networks/{bridge['Id']}", "network"
                    )
            reader.cancel()
    out["ids"]["volume"] = "rec-v"
    return out


_SOURCE_1_52 = (
    "Docker 29 (API 1.52) cannot run here: no archive this machine reaches has it (Debian's "
    "newest docker.io is 28.5.2, in sid; Docker's own repository is not reachable). This is "
    "the Docker 26.1.5 recording, changed as the Engine API version history says: GET /events "
    "no longer includes the deprecated status, id and from fields (1.52); GET /containers/json "
    "items carry Health {Status, FailingStreak}, 'none' without a health check (1.52); "
    "/version says ApiVersion 1.52, MinAPIVersion 1.44 (Docker 29.0 refuses older clients)."
)


def as_api_1_52(recording: dict[str, Any]) -> dict[str, Any]:
    """A Docker recording as Docker 29 (API 1.52) tells the same scenario."""
    out: dict[str, Any] = json.loads(json.dumps(recording))
    out["_source"] = _SOURCE_1_52
    numbers = {"ApiVersion": "1.52", "MinAPIVersion": "1.44"}
    out["version"].update({"Version": "29.0.0", **numbers})
    for component in out["version"].get("Components") or []:
        if component.get("Name") == "Engine":
            component.update({"Version": "29.0.0"})
            component["Details"].update(numbers)
    for step in out["steps"]:
        for event in step["events"]:
            for old in ("status", "id", "from"):
                event.pop(old, None)
    for item in out["listings"]["containers"]:
        item["Health"] = {"Status": "none", "FailingStreak": 0}
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--as-api-1.52"]:
        result = as_api_1_52(json.load(sys.stdin))
    else:
        result = asyncio.run(record())
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
