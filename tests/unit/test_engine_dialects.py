"""Every engine's way of speaking the Docker Engine API, from what the engines said.

The recordings (tests/unit/recordings, made by record.py there) are one scenario each, as
Podman 4.3.1 and Docker 26.1.5 told it on this machine, and as Docker 29 (API 1.52) tells it by
its documentation (its own engine cannot run here: see the file's ``_source``). The real
engines themselves are tested by the integration suite (scripts/test runs it against each).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockstate.engine import Dialect, DockerEvent, Read, Target, targets_of
from dockstate.engine._convert import (
    container_from_inspect,
    list_item_summary,
    network_from_api,
)

RECORDINGS = {
    path.stem: json.loads(path.read_text())
    for path in sorted((Path(__file__).parent / "recordings").glob("*.json"))
}
IMAGE = "dockstate-test/busybox:latest"


def steps(name: str) -> dict[str, set[Target]]:
    """What each step's events ask the watcher to re-read, by the step's first two words."""
    return {
        " ".join(step["command"][:2]): {
            t for raw in step["events"] for t in targets_of(DockerEvent.from_json(raw))
        }
        for step in RECORDINGS[name]["steps"]
    }


def test_every_engine_is_recorded() -> None:
    assert set(RECORDINGS) == {"docker-26.1.5", "docker-29-api-1.52", "podman-4.3.1"}


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_every_change_to_a_container_or_volume_reads_it(name: str) -> None:
    """Whatever the engine's words, each step's events name what the step changed: the
    container (created, connected, disconnected, stopped, removed) and the volume."""
    ids = RECORDINGS[name]["ids"]
    container, volume = Read("container", ids["container"]), Read("volume", ids["volume"])
    reads = steps(name)
    for step in ("run -d", "network connect", "network disconnect", "stop -t", "rm rec-c"):
        assert container in reads[step], step
    assert volume in reads["volume create"]
    assert volume in reads["volume rm"]


@pytest.mark.parametrize("name", ["docker-26.1.5", "docker-29-api-1.52"])
def test_docker_tells_of_its_networks(name: str) -> None:
    network = Read("network", RECORDINGS[name]["ids"]["network"])
    reads = steps(name)
    assert network in reads["network create"]
    assert network in reads["network rm"]
    assert network in reads["network connect"]


def test_podman_tells_of_no_network_creation_or_removal() -> None:
    """Seen instead: a container that joins a network the state lacks relists the networks
    (the watcher), and reconciliation (integration: test_network_create_and_remove)."""
    reads = steps("podman-4.3.1")
    assert reads["network create"] == reads["network rm"] == set()


def test_api_1_52_events_read_as_the_older_ones() -> None:
    """Docker 29 drops the events' old ``status``, ``id`` and ``from``: nothing read from
    an event changes."""
    old, new = (
        [DockerEvent.from_json(e) for s in RECORDINGS[n]["steps"] for e in s["events"]]
        for n in ("docker-26.1.5", "docker-29-api-1.52")
    )
    assert "status" not in RECORDINGS["docker-29-api-1.52"]["steps"][0]["events"][0]
    assert new == old


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_the_dialect_is_known_from_the_version(name: str) -> None:
    assert Dialect.of(RECORDINGS[name]["version"]).podman == name.startswith("podman")


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_listed_networks_and_their_containers_meet(name: str) -> None:
    """Podman lists its default network as ``bridge`` while containers name it ``podman``:
    through the dialect, every network a container names is listed, under that name, and
    the made-up creation time of Podman's default network is left out."""
    recording = RECORDINGS[name]
    dialect = Dialect.of(recording["version"])
    listed = recording["listings"]["networks"]
    bridge = dialect.listed_as_bridge(listed)
    default = recording.get("default_network") if bridge else None
    networks = [network_from_api(n) for n in dialect.networks(listed, default)]
    names = {n.name for n in networks}
    [item] = [dialect.container_item(c) for c in recording["listings"]["containers"]]
    assert set(item["NetworkSettings"]["Networks"]) <= names
    assert item["Image"] == IMAGE  # not docker.io/dockstate-test/busybox:latest
    if dialect.podman:
        assert next(n for n in networks if n.name == "podman").created is None


def test_a_podman_image_is_named_as_docker_names_it() -> None:
    dialect = Dialect(podman=True)
    tags = ["docker.io/library/nginx:1", "quay.io/a/b:2"]
    item = dialect.image_item({"RepoTags": tags, "RepoDigests": ["docker.io/me/app@sha256:2"]})
    assert item["RepoTags"] == ["nginx:1", "quay.io/a/b:2"]
    assert item["RepoDigests"] == ["me/app@sha256:2"]
    assert Dialect().image_item(item) is item  # Docker's own: untouched


def _inspect(status: str, exit_code: int = 0) -> dict[str, Any]:
    return {"Id": "c1", "Name": "/web", "Config": {"Image": IMAGE}, "Image": "sha256:1",
            "State": {"Status": status, "ExitCode": exit_code}}  # fmt: skip


@pytest.mark.parametrize(
    ("podman", "docker"),
    [("stopped", "exited"), ("configured", "created"), ("initialized", "created"),
     ("stopping", "running"), ("unknown", "dead"), ("never-heard-of", "dead")],
)  # fmt: skip
def test_podman_states_read_in_docker_words(podman: str, docker: str) -> None:
    """Podman reports ``stopped`` between ``die`` and ``cleanup``: once a validation error
    that made the watcher disconnect and relist."""
    container = container_from_inspect(_inspect(podman, 137))
    assert container.state == docker
    assert list_item_summary({"Id": "c1", "State": podman})[2] == docker
    if docker == "exited":
        assert (container.exit_code, container.status) == (137, "Exited (137)")


def test_the_listing_health_of_api_1_52_is_read() -> None:
    """Docker 29 lists each container's health (``none`` without a health check), which
    the older engines only tell in the status text."""
    [item] = RECORDINGS["docker-29-api-1.52"]["listings"]["containers"]
    assert list_item_summary(item)[3] is None  # "none"
    healthy = {**item, "Health": {"Status": "healthy", "FailingStreak": 0}, "Status": "Up 3s"}
    assert list_item_summary(healthy)[3] == "healthy"
    older = {**item, "Status": "Up 3 seconds (unhealthy)"}
    del older["Health"]
    assert list_item_summary(older)[3] == "unhealthy"
