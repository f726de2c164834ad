"""What differs between the engines that serve the Docker Engine API, translated at the door.

The rest of the adapter reads Docker's API as Docker documents it. :class:`DockerClient`
learns its engine's :class:`Dialect` when it negotiates (``GET /version``) and passes every
answer through it, so that what reaches the converters reads as Docker's. Pure functions on
the engine's JSON; no I/O.

Podman (its Docker-compatible service, ``podman system service``; seen with 4.3), as the
converters and the watcher would otherwise misread it:

- Images are named in full (``docker.io/library/nginx:latest``, ``docker.io/me/app``) where
  Docker says ``nginx:latest`` and ``me/app``: tags, digests and a container's image are
  given Docker's short ("familiar") form.
- Its default network is *listed* as ``bridge`` while containers name it by its own name
  (``podman``); an inspect by id gives the own name too. The listing is given the own name,
  so that the network and its containers meet. Its ``Created`` is the time of each answer
  (Podman makes the network up in memory at every call): it is left empty, or every
  reconciliation would count a repair.

Container states of Podman's own (``stopped``, between ``die`` and ``cleanup``, and others)
are mapped by the converters (:data:`~dockstate.engine._convert.STATE_WORDS`); its events
by :func:`~dockstate.engine._events.targets_of`; its 500 for a container mid-removal by the
client (:func:`is_gone`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DOCKER", "Dialect", "familiar", "is_gone"]

#: Docker Hub's names, which Docker leaves out of image references and Podman spells out.
_HUB_PREFIXES = ("docker.io/library/", "docker.io/")


def familiar(reference: str) -> str:
    """An image reference in Docker's short form: ``docker.io/library/nginx:1`` ->
    ``nginx:1``, ``docker.io/me/app`` -> ``me/app``; any other registry's unchanged."""
    for prefix in _HUB_PREFIXES:
        if reference.startswith(prefix):
            return reference.removeprefix(prefix)
    return reference


def is_gone(status: int, message: str) -> bool:
    """Whether an engine's error answer means that the object does not exist (Podman answers
    an inspect of a container being removed with a 500 "... does not exist in database")."""
    return status == 404 or (status == 500 and "does not exist in database" in message)


@dataclass(frozen=True, slots=True)
class Dialect:
    """The engine's way of speaking the Docker Engine API (Docker's own: the default).

    Attributes:
        podman: the engine is Podman.
        event_delay: how late its event stream may tell of what is already in its listings
            (seconds): a reconciliation waits this long (plus the usual grace) before taking
            a difference for a lost event. Podman reads its events back from a file: 0.2 to
            0.25 s late, measured.
    """

    podman: bool = False
    event_delay: float = 0.0

    @classmethod
    def of(cls, version: Mapping[str, Any]) -> Dialect:
        """The dialect of the engine whose ``GET /version`` answered ``version``."""
        components = version.get("Components") or []
        if any(str(c.get("Name", "")).startswith("Podman") for c in components):
            return cls(podman=True, event_delay=0.5)
        return DOCKER

    # -- Podman's answers, as Docker's ---------------------------------------------------------

    def container(self, data: dict[str, Any]) -> dict[str, Any]:
        """An inspect of a container (``GET /containers/{id}/json``)."""
        config = data.get("Config")
        if not self.podman or not isinstance(config, dict) or not config.get("Image"):
            return data
        return {**data, "Config": {**config, "Image": familiar(str(config["Image"]))}}

    def container_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """One item of ``GET /containers/json``."""
        if not self.podman or not item.get("Image"):
            return item
        return {**item, "Image": familiar(str(item["Image"]))}

    def image_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """One item of ``GET /images/json``."""
        if not self.podman:
            return item
        return {
            **item,
            "RepoTags": [familiar(t) for t in item.get("RepoTags") or []],
            "RepoDigests": [familiar(d) for d in item.get("RepoDigests") or []],
        }

    def networks(
        self, listed: list[dict[str, Any]], default: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """``GET /networks``, with ``default`` the inspect (by id) of the network listed as
        ``bridge`` (:meth:`listed_as_bridge`): Podman lists its default network under
        Docker's name, while its containers, and an inspect by id, give its own."""
        if not self.podman or default is None:
            return listed
        # Made up in memory at every call, with the time of the call as its creation time.
        own = {**default, "Created": None}
        return [own if item.get("Id") == default.get("Id") else item for item in listed]

    def listed_as_bridge(self, listed: list[dict[str, Any]]) -> str | None:
        """The id of the network that a Podman lists as ``bridge`` (its default network, by
        Docker's name), or None."""
        if not self.podman:
            return None
        return next((str(n["Id"]) for n in listed if n.get("Name") == "bridge"), None)


#: Docker's own dialect.
DOCKER = Dialect()
