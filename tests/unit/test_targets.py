"""What each Docker event asks the watcher to re-read: ``Read(kind, id)`` or ``Relist(kind)``."""

from __future__ import annotations

from typing import Any

import pytest

from dockstate.engine import DockerEvent, Read, Relist, targets_of
from dockstate.state import KINDS


def event(type_: str, action: str, actor: str = "x", **attributes: str) -> DockerEvent:
    raw: dict[str, Any] = {"Type": type_, "Action": action, "timeNano": 1,
                           "Actor": {"ID": actor, "Attributes": attributes}}  # fmt: skip
    return DockerEvent.from_json(raw)


def test_a_container_event_reads_the_container() -> None:
    assert targets_of(event("container", "start", "c1")) == {Read("container", "c1")}


def test_noise_reads_nothing() -> None:
    assert targets_of(event("container", "exec_start", "c1")) == set()
    assert targets_of(event("container", "start", "")) == set()
    assert targets_of(event("plugin", "enable")) == set()


def test_a_commit_reads_the_container_and_relists_images() -> None:
    assert targets_of(event("container", "commit", "c1")) == {
        Read("container", "c1"),
        Relist("image"),
    }


def test_any_image_event_relists_images() -> None:
    assert targets_of(event("image", "tag", "sha256:1")) == {Relist("image")}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_prune_relists_its_kind(kind: str) -> None:
    assert targets_of(event(kind, "prune", "")) == {Relist(KINDS[kind].kind)}  # type: ignore[index]


def test_a_connect_reads_the_network_and_the_container() -> None:
    assert targets_of(event("network", "connect", "n1", container="c1")) == {
        Read("network", "n1"),
        Read("container", "c1"),
    }
    assert targets_of(event("volume", "mount", "v1", container="c1")) == {
        Read("volume", "v1"),
        Read("container", "c1"),
    }


def test_a_daemon_event_reads_the_engine_info() -> None:
    assert targets_of(event("daemon", "reload")) == {Read("engine", "engine_info")}


def test_targets_are_values() -> None:
    assert Read("container", "c1") == Read("container", "c1")
    assert len({Relist("image"), Relist("image"), Read("container", "c1")}) == 2
    with pytest.raises(AttributeError):
        Relist("image").kind = "volume"  # type: ignore[misc]
