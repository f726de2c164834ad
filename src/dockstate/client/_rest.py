"""The :class:`Client`: the REST calls of protocol.md §6 (reads and actions), and the door to
:meth:`Client.watch`."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pydantic

from .. import __version__
from ..backoff import Backoff
from ..errors import DockstateError, ProtocolError
from ..protocol import Filter
from ..state import MAP_OF_KIND
from ._errors import http_error, reason
from ._watch import LogsStream, StatsStream, Stream, Watch

__all__ = ["CLIENT_NAME", "Client"]

#: The ``client`` a hello names.
CLIENT_NAME: Final = f"dockstate-python/{__version__}"


class Client:
    """An async client of one dockstate server.

    Use it as ``async with Client(url, token) as client:``, or call :meth:`aclose` when done.

    Args:
        url: the server's base URL, ``http://host:port`` (``https``, and a path prefix, work
            too).
        token: the server's access token.
        timeout: seconds any REST call may take; actions answer once the engine accepted
            them, and stopping a container can take the engine's whole stop timeout.
        client_name: the ``client`` the WebSocket hello names.
        max_message_size: the largest WebSocket message accepted, in bytes (a snapshot of a
            large engine can be many megabytes); ``None`` for no limit.
        transport: the httpx transport of the REST calls (for tests; default: the network).
        engine: the server's engine to read and act on and to subscribe to (protocol.md §8;
            its id, as :meth:`engines` lists them); ``None``: the server's default engine.

    Raises:
        ValueError: ``url`` is not an http(s) or ws(s) URL.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 60.0,
        client_name: str = CLIENT_NAME,
        max_message_size: int | None = 256 * 2**20,
        transport: httpx.AsyncBaseTransport | None = None,
        engine: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            raise ValueError(f"not a dockstate server URL: {url!r} (want http://HOST:PORT)")
        http_scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        ws_scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        prefix = parts.path.rstrip("/")
        self.url = urlunsplit((http_scheme, parts.netloc, prefix, "", ""))
        self.ws_url = urlunsplit((ws_scheme, parts.netloc, prefix + "/api/v1/ws", "", ""))
        self.token = token
        self.engine = engine
        #: Where this client's engine's routes are (the unprefixed ones: the default engine).
        self._api = "/api/v1" if engine is None else f"/api/v1/engines/{_segment(engine)}"
        self.timeout = timeout
        self.client_name = client_name
        self.max_message_size = max_message_size
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._streams: set[Stream] = set()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every open watch and the HTTP connections."""
        for watch in list(self._streams):
            await watch.aclose()
        await self._http.aclose()

    # -- reading -----------------------------------------------------------------------------

    async def engines(self) -> dict[str, Any]:
        """The server's engines: ``{"default", "engines": [{"id", "host", "status"}]}``."""
        return await self._request("GET", "/api/v1/engines")

    async def state(self) -> dict[str, Any]:
        """The server's whole state: ``{"epoch", "version", "state"}`` (protocol.md §6)."""
        return await self._request("GET", f"{self._api}/state")

    async def changes_since(self, version: int) -> dict[str, Any]:
        """The changes after ``version``: ``{"epoch", "from", "to", "changes"}``.

        Raises:
            VersionExpired: ``version`` is older than the oldest change the server keeps
                (HTTP 410); start again from :meth:`state`.
            VersionTooNew: ``version`` is newer than the server's (a server that lost its
                history: compare epochs).
        """
        return await self._request(
            "GET", f"{self._api}/changes", params={"since": str(version)}, since=version
        )

    def watch(
        self,
        filter: Mapping[str, Any] | None = None,
        *,
        backoff: Backoff | None = None,
        idle_timeout: float | None = None,
    ) -> Watch:
        """Follow the server's state: an async iterator of states (see :class:`Watch`).

        Args:
            filter: the subscription's filter (protocol.md §4): ``kinds``, ``ids``, ``names``,
                ``labels``; ``None`` for everything.
            backoff: the reconnection delays (default: :class:`Backoff` ``()``).
            idle_timeout: seconds without any message after which the connection is taken
                for dead and replaced (default: twice the server's heartbeat, plus 5 s).

        Raises:
            ValueError: ``filter`` is not a valid filter.
        """
        if filter is not None:
            try:
                Filter.model_validate(dict(filter))
            except pydantic.ValidationError as exc:
                raise ValueError(f"invalid filter: {exc}") from None
        watch = Watch(self, filter, backoff=backoff or Backoff(), idle_timeout=idle_timeout)
        self._streams.add(watch)
        return watch

    def stats(
        self,
        filter: Mapping[str, Any] | None = None,
        *,
        interval_ms: int = 1000,
        backoff: Backoff | None = None,
    ) -> StatsStream:
        """What the running containers use, sampled: an async iterator of ``stats``
        messages (see :class:`StatsStream`).

        Args:
            filter: which containers (``ids``, ``names``, ``labels``); ``None`` for all.
            interval_ms: how often (at least 500).

        Raises:
            ValueError: ``filter`` or ``interval_ms`` is not valid.
        """
        if interval_ms < 500:
            raise ValueError("interval_ms must be at least 500")
        if filter is not None:
            try:
                Filter.model_validate(dict(filter))
            except pydantic.ValidationError as exc:
                raise ValueError(f"invalid filter: {exc}") from None
        stream = StatsStream(self, filter, interval_ms=interval_ms, backoff=backoff or Backoff())
        self._streams.add(stream)
        return stream

    def logs(
        self,
        container: str | None = None,
        *,
        project: str | None = None,
        tail: int | None = 200,
        follow: bool = False,
        since: str | None = None,
        until: str | None = None,
        stdout: bool = True,
        stderr: bool = True,
        backoff: Backoff | None = None,
    ) -> LogsStream:
        """A container's log (an id or a name), or a compose project's merged: an async
        iterator of ``logs``/``logs_skipped``/``logs_end`` messages (see
        :class:`LogsStream`).

        Args:
            tail: the last N lines of each container (None: all).
            follow: go on with every new line (across restarts) until the container is
                removed.
            since, until: a window (RFC 3339).

        Raises:
            ValueError: neither or both of ``container`` and ``project``.
        """
        if (container is None) == (project is None):
            raise ValueError("give one of container and project")
        stream = LogsStream(
            self,
            container=container,
            project=project,
            tail=tail,
            follow=follow,
            since=since,
            until=until,
            stdout=stdout,
            stderr=stderr,
            backoff=backoff or Backoff(),
        )
        self._streams.add(stream)
        return stream

    async def container_stats(self, container_id: str) -> dict[str, Any]:
        """A running container's samples of the last 10 minutes: ``{"samples": [...]}``."""
        return await self._request("GET", f"{self._api}/containers/{_segment(container_id)}/stats")

    async def operation(self, operation: str) -> dict[str, Any]:
        """What became of an action (its 202 named the operation): ``{"operation", "action",
        "target", "status": "pending"|"done"|"failed", "error", "progress"}``.

        Raises:
            NotFound: unknown, or forgotten (10 minutes after it finished).
        """
        return await self._request("GET", f"{self._api}/operations/{_segment(operation)}")

    async def stats_now(self) -> dict[str, Any]:
        """A fresh sample of every running container: ``{"time", "containers"}``."""
        return await self._request("GET", f"{self._api}/stats")

    # -- actions -----------------------------------------------------------------------------
    # Each returns the 202 body {"operation", "accepted_at_version"}: the engine accepted the
    # action, and its effect arrives through the change stream.

    async def start(self, container_id: str) -> dict[str, Any]:
        """Start a container."""
        return await self._container_action(container_id, "start")

    async def stop(self, container_id: str, grace: int | None = None) -> dict[str, Any]:
        """Stop a container: the engine waits ``grace`` seconds (default: the container's stop
        timeout) before it kills it. ``grace`` is a dockstate extension (Docker's ``t``)."""
        return await self._container_action(container_id, "stop", params=_grace(grace))

    async def restart(self, container_id: str, grace: int | None = None) -> dict[str, Any]:
        """Restart a container (``grace`` as for :meth:`stop`)."""
        return await self._container_action(container_id, "restart", params=_grace(grace))

    async def pause(self, container_id: str) -> dict[str, Any]:
        """Pause a running container."""
        return await self._container_action(container_id, "pause")

    async def unpause(self, container_id: str) -> dict[str, Any]:
        """Unpause a paused container."""
        return await self._container_action(container_id, "unpause")

    async def kill(self, container_id: str) -> dict[str, Any]:
        """Kill a running container."""
        return await self._container_action(container_id, "kill")

    async def rename(self, container_id: str, name: str) -> dict[str, Any]:
        """Rename a container."""
        return await self._container_action(container_id, "rename", json={"name": name})

    async def remove_container(self, container_id: str, force: bool = False) -> dict[str, Any]:
        """Remove a container; a running one only with ``force`` (else :class:`Conflict`)."""
        path = f"{self._api}/containers/{_segment(container_id)}"
        return await self._action("DELETE", path, force)

    async def remove_image(self, image_id: str, force: bool = False) -> dict[str, Any]:
        """Remove an image (by id or reference)."""
        return await self._action("DELETE", f"{self._api}/images/{_segment(image_id)}", force)

    async def create_volume(
        self, name: str, labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a volume (``labels``: a dockstate extension)."""
        return await self._request("POST", f"{self._api}/volumes", json=_named(name, labels))

    async def remove_volume(self, name: str) -> dict[str, Any]:
        """Remove a volume."""
        return await self._request("DELETE", f"{self._api}/volumes/{_segment(name)}")

    async def create_network(
        self, name: str, labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a network (``labels``: a dockstate extension). The answer's ``id`` (an
        extension) is the new network's id."""
        return await self._request("POST", f"{self._api}/networks", json=_named(name, labels))

    async def remove_network(self, network_id: str) -> dict[str, Any]:
        """Remove a network (by id or name)."""
        return await self._request("DELETE", f"{self._api}/networks/{_segment(network_id)}")

    async def prune(
        self, kind: str, labels: Mapping[str, str | None] | None = None
    ) -> dict[str, Any]:
        """Prune unused ``containers``, ``images``, ``volumes`` or ``networks`` of the whole
        engine, or only those carrying every one of ``labels`` (``{key: value}``, or
        ``{key: None}`` for the key with any value; a dockstate extension).

        Raises:
            ValueError: an unknown kind (the singular forms are accepted too).
        """
        plural = MAP_OF_KIND.get(kind, kind)  # the kinds table names each kind's plural
        if plural not in MAP_OF_KIND.values():
            raise ValueError(
                f"cannot prune {kind!r}: want one of {', '.join(MAP_OF_KIND.values())}"
            )
        selectors = [k if v is None else f"{k}={v}" for k, v in (labels or {}).items()]
        params = tuple(("label", selector) for selector in selectors)
        return await self._request("POST", f"{self._api}/{plural}/prune", params=params or None)

    async def pull(self, image: str) -> dict[str, Any]:
        """Pull ``image`` (``name[:tag]``, no tag: ``latest``; or ``name@digest``). The
        operation's ``progress`` (``{"image", "status", "layers": {id: {"status", "current",
        "total", "fraction"}}, "fraction"}``) follows it; :meth:`operation` reads it."""
        return await self._request("POST", f"{self._api}/images/pull", json={"image": image})

    async def run(self, image: str, **options: Any) -> dict[str, Any]:
        """Create a container from ``image`` and start it (unless ``start=False``), as
        ``docker run -d`` does. ``options``: ``name``, ``command`` (a list), ``env``
        (``["NAME=value"]``, never echoed back), ``ports`` (``["[ip:]host:container[/proto]"]``),
        ``volumes`` (``["source:target[:ro]"]``), ``network``, ``restart``
        (``no|always|unless-stopped|on-failure[:N]``), ``labels``, ``start``. The answer's
        ``id`` is the new container's id (while pending: the operation's ``target`` once
        created).

        Raises:
            ServerError: a malformed form, 422 (nothing was made).
        """
        body = {"image": image, **options}
        return await self._request("POST", f"{self._api}/containers", json=body)

    async def project_action(
        self, project: str, action: str, grace: int | None = None
    ) -> dict[str, Any]:
        """``start``, ``stop``, ``restart`` or ``remove`` every container of the compose
        project ``project``, as one operation (its ``progress`` has each container's
        outcome). ``grace``: seconds a stop waits before it kills.

        Raises:
            ValueError: an unknown action.
            NotFound: the project has no containers.
        """
        if action not in ("start", "stop", "restart", "remove"):
            raise ValueError(
                f"unknown project action {action!r}: want start, stop, restart or remove"
            )
        path = f"{self._api}/projects/{_segment(project)}"
        if action == "remove":
            return await self._request("DELETE", path, params=_grace(grace))
        return await self._request("POST", f"{path}/{action}", params=_grace(grace))

    async def remove_project(self, project: str, grace: int | None = None) -> dict[str, Any]:
        """Stop and remove every container of a compose project (``project_action`` remove)."""
        return await self.project_action(project, "remove", grace)

    async def _container_action(
        self,
        container_id: str,
        action: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        path = f"{self._api}/containers/{_segment(container_id)}/{action}"
        return await self._request("POST", path, json=json, params=params)

    async def _action(self, method: str, path: str, force: bool) -> dict[str, Any]:
        return await self._request(method, path, params={"force": "true"} if force else None)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | tuple[tuple[str, str], ...] | None = None,
        since: int | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise DockstateError(
                f"the dockstate server at {self.url} did not answer {method} {path} "
                f"within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise DockstateError(
                f"cannot reach the dockstate server at {self.url}: {reason(exc)}"
            ) from None
        if response.status_code >= 400:
            raise http_error(response, since)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProtocolError(
                f"the server answered {method} {path} with {response.status_code} "
                "but no JSON object"
            )
        return body


def _segment(value: str) -> str:
    """``value`` as one URL path segment (image references hold ``/`` and ``:``)."""
    return quote(value, safe="")


def _grace(grace: int | None) -> dict[str, str] | None:
    return None if grace is None else {"t": str(grace)}


def _named(name: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    return {"name": name} if not labels else {"name": name, "labels": dict(labels)}
