"""A small async client for the parts of the Docker Engine API that dockstate uses."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from ..errors import Conflict, EngineAPIError, EngineUnavailable, NotFound

__all__ = [
    "DEFAULT_DOCKER_HOST",
    "ContainerAction",
    "DockerClient",
    "PruneKind",
    "resolve_docker_host",
]

ContainerAction = Literal["start", "stop", "restart", "pause", "unpause", "kill"]
PruneKind = Literal["containers", "images", "volumes", "networks"]

log = logging.getLogger("dockstate.engine")

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
# The newest API version whose responses dockstate knows; older engines are spoken to in
# their own version.
_MAX_API_VERSION = (1, 47)
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def resolve_docker_host(host: str | None = None) -> str:
    """The engine address to use: ``host``, else ``$DOCKER_HOST``, else the local socket."""
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


class DockerClient:
    """Talks to one Docker engine over its unix socket or TCP.

    Every method raises :class:`~dockstate.errors.EngineUnavailable` when the engine does not
    answer, and :class:`~dockstate.errors.EngineAPIError` (``NotFound``, ``Conflict``) when it
    answers with an error. ``requests`` counts the API calls made, by endpoint.

    Use as ``async with DockerClient(host) as docker: ...``, or call :meth:`aclose`.
    """

    def __init__(self, host: str | None = None, *, max_connections: int = 32) -> None:
        self.host = resolve_docker_host(host)
        self.requests: Counter[str] = Counter()
        self._prefix = ""
        limits = httpx.Limits(max_connections=max_connections)
        if self.host.startswith("unix://"):
            transport = httpx.AsyncHTTPTransport(
                uds=self.host.removeprefix("unix://"), limits=limits
            )
            base_url = "http://docker"
        elif self.host.startswith(("tcp://", "http://", "https://")):
            scheme = "https" if self.host.startswith("https://") else "http"
            transport = httpx.AsyncHTTPTransport(limits=limits)
            base_url = f"{scheme}://{self.host.split('://', 1)[1]}"
        else:
            raise EngineUnavailable(
                f"unsupported Docker host {self.host!r}: use unix://PATH or tcp://HOST:PORT"
            )
        self._http = httpx.AsyncClient(transport=transport, base_url=base_url, timeout=_TIMEOUT)

    async def __aenter__(self) -> DockerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def total_requests(self) -> int:
        """How many API calls this client has made."""
        return sum(self.requests.values())

    # -- plumbing --------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        self.requests[endpoint] += 1
        try:
            response = await self._http.request(
                method, self._prefix + path, params=params, json=json_body
            )
        except httpx.TransportError as err:
            raise self._unavailable(err) from err
        _raise_for_status(response)
        return response

    def _unavailable(self, err: Exception) -> EngineUnavailable:
        detail = str(err) or type(err).__name__
        return EngineUnavailable(f"cannot reach the Docker engine at {self.host}: {detail}")

    async def _get_json(self, path: str, endpoint: str, **params: Any) -> Any:
        response = await self._request("GET", path, endpoint, params=params or None)
        try:
            return response.json()
        except ValueError:
            raise EngineAPIError(
                response.status_code, f"the engine answered GET {path} with something not JSON"
            ) from None

    async def _get_optional(self, path: str, endpoint: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self._get_json(path, endpoint)
        except NotFound:
            return None
        return result

    # -- engine ----------------------------------------------------------------------------

    async def ping(self) -> float:
        """Check that the engine answers; return its clock (Unix seconds, from ``Date``)."""
        response = await self._request("GET", "/_ping", "ping")
        date = response.headers.get("date")
        return parsedate_to_datetime(date).timestamp() if date else 0.0

    async def negotiate(self) -> dict[str, Any]:
        """Read ``/version`` and speak the engine's API version from now on; return it."""
        self._prefix = ""
        version: dict[str, Any] = await self._get_json("/version", "version")
        api = tuple(int(p) for p in str(version.get("ApiVersion", "1.24")).split("."))
        major, minor = min(api, _MAX_API_VERSION)
        self._prefix = f"/v{major}.{minor}"
        return version

    async def info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._get_json("/info", "info")
        return result

    # -- objects ---------------------------------------------------------------------------

    async def list_containers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get_json(
            "/containers/json", "containers.list", all="1"
        )
        return result

    async def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        """The container's inspect data, or ``None`` when it does not exist."""
        return await self._get_optional(
            f"/containers/{quote(container_id)}/json", "containers.inspect"
        )

    async def list_images(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get_json("/images/json", "images.list")
        return result

    async def list_volumes(self) -> list[dict[str, Any]]:
        result = await self._get_json("/volumes", "volumes.list")
        return list(result.get("Volumes") or [])

    async def inspect_volume(self, name: str) -> dict[str, Any] | None:
        """The volume, or ``None`` when it does not exist."""
        return await self._get_optional(f"/volumes/{quote(name, safe='')}", "volumes.inspect")

    async def list_networks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get_json("/networks", "networks.list")
        return result

    async def inspect_network(self, network_id: str) -> dict[str, Any] | None:
        """The network, or ``None`` when it does not exist."""
        return await self._get_optional(
            f"/networks/{quote(network_id, safe='')}", "networks.inspect"
        )

    # -- actions ---------------------------------------------------------------------------

    async def container_action(
        self, container_id: str, action: ContainerAction, *, grace: int | None = None
    ) -> None:
        """``start``, ``stop``, ``restart``, ``pause``, ``unpause`` or ``kill`` a container.

        ``grace`` (stop, restart): seconds to wait before killing.
        """
        params = {"t": str(grace)} if grace is not None else None
        await self._request(
            "POST",
            f"/containers/{quote(container_id)}/{action}",
            f"containers.{action}",
            params=params,
        )

    async def rename_container(self, container_id: str, name: str) -> None:
        await self._request(
            "POST",
            f"/containers/{quote(container_id)}/rename",
            "containers.rename",
            params={"name": name},
        )

    async def remove_container(self, container_id: str, *, force: bool = False) -> None:
        await self._request(
            "DELETE",
            f"/containers/{quote(container_id)}",
            "containers.remove",
            params={"force": "1" if force else "0"},
        )

    async def remove_image(self, image: str, *, force: bool = False) -> None:
        await self._request(
            "DELETE",
            f"/images/{quote(image, safe='')}",
            "images.remove",
            params={"force": "1" if force else "0"},
        )

    async def create_volume(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        body = {"Name": name, "Labels": dict(labels or {})}
        await self._request("POST", "/volumes/create", "volumes.create", json_body=body)

    async def remove_volume(self, name: str, *, force: bool = False) -> None:
        await self._request(
            "DELETE",
            f"/volumes/{quote(name, safe='')}",
            "volumes.remove",
            params={"force": "1" if force else "0"},
        )

    async def create_network(self, name: str, labels: Mapping[str, str] | None = None) -> str:
        """Create a bridge network; return its id."""
        body = {"Name": name, "Labels": dict(labels or {}), "CheckDuplicate": True}
        response = await self._request(
            "POST", "/networks/create", "networks.create", json_body=body
        )
        return str(response.json().get("Id", ""))

    async def remove_network(self, network_id: str) -> None:
        await self._request("DELETE", f"/networks/{quote(network_id, safe='')}", "networks.remove")

    async def prune(self, kind: PruneKind, *, labels: Sequence[str] = ()) -> dict[str, Any]:
        """Prune unused objects of one kind; return the engine's report.

        ``labels``: prune only objects with these labels (Docker's ``label`` filter: ``key``
        or ``key=value``; all must match).
        """
        params = None
        if labels:
            params = {"filters": json.dumps({"label": dict.fromkeys(labels, True)})}
        response = await self._request("POST", f"/{kind}/prune", f"{kind}.prune", params=params)
        report: dict[str, Any] = response.json()
        return report

    # -- events ----------------------------------------------------------------------------

    @asynccontextmanager
    async def events(
        self, since: str | None = None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open the engine's event stream; yield an iterator over its events.

        The stream is open (the engine has answered) when this context is entered. With
        ``since`` (``"<seconds>.<nanoseconds>"``), the engine first replays the events it
        still holds from that time on, inclusive. The iterator ends when the engine closes the
        stream, and raises ``EngineUnavailable`` when the connection breaks.
        """
        params = {"since": since} if since else None
        self.requests["events"] += 1
        request = self._http.build_request(
            "GET", self._prefix + "/events", params=params, timeout=httpx.Timeout(5.0, read=None)
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as err:
            raise self._unavailable(err) from err
        try:
            if response.status_code >= 400:
                await response.aread()
                _raise_for_status(response)
            yield self._event_lines(response)
        finally:
            await response.aclose()

    async def _event_lines(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    log.warning("skipped an event that is not JSON: %r", line[:200])
                    continue
                if isinstance(event, dict):
                    yield event
        except httpx.TransportError as err:
            raise self._unavailable(err) from err


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text
    message = message or f"HTTP {response.status_code}"
    if response.status_code == 404:
        raise NotFound(404, message)
    if response.status_code == 409:
        raise Conflict(409, message)
    raise EngineAPIError(response.status_code, message)
