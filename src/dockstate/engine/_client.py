"""A small async client for the parts of the Docker Engine API that dockstate uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx

from ..errors import Conflict, EngineAPIError, EngineUnavailable, NotFound
from ..state import Plural
from ._dialect import DOCKER, Dialect, is_gone
from ._ssh import SSHTunnel, TunnelTransport

__all__ = [
    "DEFAULT_DOCKER_HOST",
    "MAX_API_VERSION",
    "ContainerAction",
    "DockerClient",
    "resolve_docker_host",
]

ContainerAction = Literal["start", "stop", "restart", "pause", "unpause", "kill"]

log = logging.getLogger("dockstate.engine")

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
# The newest API version whose responses dockstate knows (every change from 1.41 on is read in
# docs/architecture.md); older engines are spoken to in their own version.
MAX_API_VERSION = (1, 52)
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: A pull's stream may go quiet for a while (a registry slow to answer, a large layer being
#: extracted); after this long without a line it is taken as failed.
_PULL_TIMEOUT = httpx.Timeout(5.0, read=600.0)


def _grace_timeout(grace: int | None) -> httpx.Timeout:
    """The timeout of a call that waits out a grace period (``None``: Docker's default of
    10 s; a container's own StopTimeout may be longer, so be generous)."""
    return httpx.Timeout(30.0 + (grace if grace is not None else 60), connect=5.0)


def resolve_docker_host(host: str | None = None) -> str:
    """The engine address to use: ``host``, else ``$DOCKER_HOST``, else the local socket."""
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


#: What a TLS 1.3 engine's refusal of the client's certificate looks like to httpx.
_CLOSED_AFTER_HANDSHAKE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class DockerClient:
    """Talks to one Docker engine over its unix socket or TCP.

    Every method raises :class:`~dockstate.errors.EngineUnavailable` when the engine does not
    answer, and :class:`~dockstate.errors.EngineAPIError` (``NotFound``, ``Conflict``) when it
    answers with an error. ``requests`` counts the API calls made, by endpoint.

    Use as ``async with DockerClient(host) as docker: ...``, or call :meth:`aclose`.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        max_connections: int = 32,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: speak HTTPS to a ``tcp://`` engine with this context (the Docker CLI's
        ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``); ``https://`` without one verifies
        against the system's CAs."""
        self.host = resolve_docker_host(host)
        self.requests: Counter[str] = Counter()
        #: How the engine speaks the API (Docker's own until :meth:`negotiate` learns it).
        self.dialect: Dialect = DOCKER
        self._prefix = ""
        self._tls = tls is not None
        limits = httpx.Limits(max_connections=max_connections)
        #: For ``ssh://``: where ssh's failures are told (see engine/_ssh.py).
        self._tunnel: SSHTunnel | None = None
        transport: httpx.AsyncBaseTransport
        if self.host.startswith("ssh://"):
            try:
                self._tunnel = SSHTunnel(self.host)
            except ValueError as err:
                raise EngineUnavailable(str(err)) from None
            transport = TunnelTransport(self._tunnel, limits)
            base_url = "http://docker"
        elif self.host.startswith("unix://"):
            transport = httpx.AsyncHTTPTransport(
                uds=self.host.removeprefix("unix://"), limits=limits
            )
            base_url = "http://docker"
        elif self.host.startswith(("tcp://", "http://", "https://")):
            secure = tls is not None or self.host.startswith("https://")
            scheme = "https" if secure else "http"
            transport = httpx.AsyncHTTPTransport(limits=limits, verify=tls or True)
            base_url = f"{scheme}://{self.host.split('://', 1)[1]}"
        else:
            raise EngineUnavailable(
                f"unsupported Docker host {self.host!r}: use unix://PATH, tcp://HOST:PORT or "
                "ssh://USER@HOST"
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
        call_timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        self.requests[endpoint] += 1
        try:
            response = await self._http.request(
                method,
                self._prefix + path,
                params=params,
                json=json_body,
                timeout=call_timeout or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as err:
            raise self._unavailable(err) from err
        _raise_for_status(response)
        return response

    def _unavailable(self, err: Exception) -> EngineUnavailable:
        reason = _reason(err)
        if self._tunnel is not None and self._tunnel.last_error:
            reason = self._tunnel.last_error  # what ssh said beats "server disconnected"
        if self._tls and isinstance(err, _CLOSED_AFTER_HANDSHAKE):
            # Under TLS 1.3 a server that refuses the client's certificate (or its absence)
            # does so after the handshake: the client only sees the connection close (as an
            # end of the answer, or a read refused: which comes first is the scheduler's).
            reason += (
                " (over TLS: if the engine asks for a client certificate, as dockerd "
                "--tlsverify does, check cert.pem and key.pem in DOCKER_CERT_PATH)"
            )
        return EngineUnavailable(f"cannot reach the Docker engine at {self.host}: {reason}")

    def _not_docker(self, why: str) -> EngineUnavailable:
        return EngineUnavailable(f"{self.host} is not a Docker engine: {why}")

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
        except EngineAPIError as err:
            if is_gone(err.status, err.message):
                return None
            raise
        return result

    # -- engine ----------------------------------------------------------------------------

    async def ping(self) -> float:
        """Check that the engine answers; return its clock (Unix seconds, from ``Date``).

        Raises:
            EngineUnavailable: no answer, or no ``/_ping`` (not a Docker engine).
        """
        try:
            response = await self._request("GET", "/_ping", "ping")
        except NotFound:  # every Docker and Podman has /_ping
            raise self._not_docker("GET /_ping answered 404") from None
        date = response.headers.get("date")
        return parsedate_to_datetime(date).timestamp() if date else 0.0

    async def negotiate(self) -> dict[str, Any]:
        """Read ``/version`` (unversioned: every engine answers it) and speak the engine's API
        version from now on, capped at :data:`MAX_API_VERSION` (an engine newer than that
        still speaks it: Docker 29 refuses only versions below 1.44); learn its dialect.
        Return the version."""
        self._prefix = ""
        try:
            version: dict[str, Any] = await self._get_json("/version", "version")
        except EngineAPIError as err:
            raise self._not_docker(f"GET /version answered {err.status}") from None
        if not isinstance(version, dict) or "ApiVersion" not in version:
            raise self._not_docker("its GET /version names no ApiVersion")
        api = tuple(int(p) for p in str(version.get("ApiVersion", "1.24")).split("."))
        major, minor = min(api, MAX_API_VERSION)
        self._prefix = f"/v{major}.{minor}"
        self.dialect = Dialect.of(version)
        return version

    async def info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._get_json("/info", "info")
        return result

    # -- objects ---------------------------------------------------------------------------

    async def list_containers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get_json(
            "/containers/json", "containers.list", all="1"
        )
        return [self.dialect.container_item(item) for item in result]

    async def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        """The container's inspect data, or ``None`` when it does not exist (or is being
        removed, as Podman answers then)."""
        data = await self._get_optional(
            f"/containers/{quote(container_id)}/json", "containers.inspect"
        )
        return self.dialect.container(data) if data is not None else None

    @property
    def api_version(self) -> tuple[int, int] | None:
        """The API version spoken since :meth:`negotiate`, or None before it."""
        if not self._prefix:
            return None
        major, minor = self._prefix.removeprefix("/v").split(".")
        return int(major), int(minor)

    async def container_stats(self, container_id: str) -> dict[str, Any] | None:
        """One stats reading of a container (``GET /containers/{id}/stats?stream=false``), or
        ``None`` when it does not exist.

        With API 1.41+ (Docker 20.10) it adds ``one-shot=true``: the engine answers at once,
        with ``precpu_stats`` empty, instead of waiting a second to fill them.
        """
        params = {"stream": "false"}
        version = self.api_version
        if version is not None and version >= (1, 41):
            params["one-shot"] = "true"
        try:
            result: dict[str, Any] = await self._get_json(
                f"/containers/{quote(container_id)}/stats", "containers.stats", **params
            )
        except NotFound:
            return None
        return result

    async def list_images(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get_json("/images/json", "images.list")
        return [self.dialect.image_item(item) for item in result]

    async def list_volumes(self) -> list[dict[str, Any]]:
        result = await self._get_json("/volumes", "volumes.list")
        return list(result.get("Volumes") or [])

    async def inspect_volume(self, name: str) -> dict[str, Any] | None:
        """The volume, or ``None`` when it does not exist."""
        return await self._get_optional(f"/volumes/{quote(name, safe='')}", "volumes.inspect")

    async def list_networks(self) -> list[dict[str, Any]]:
        """Every network, each under the name its containers give it (Podman lists its
        default network as ``bridge``: one more call, an inspect of it, tells its own)."""
        result: list[dict[str, Any]] = await self._get_json("/networks", "networks.list")
        bridge = self.dialect.listed_as_bridge(result)
        default = await self.inspect_network(bridge) if bridge else None
        return self.dialect.networks(result, default)

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

        ``grace`` (stop, restart): seconds to wait before killing. The engine answers a stop
        only once the container has stopped (after up to its grace period: 10 s unless the
        container or ``grace`` says otherwise), so the call waits that long plus the usual
        timeout.
        """
        params = {"t": str(grace)} if grace is not None else None
        waits = action in ("stop", "restart")
        await self._request(
            "POST",
            f"/containers/{quote(container_id)}/{action}",
            f"containers.{action}",
            params=params,
            call_timeout=_grace_timeout(grace) if waits else None,
        )

    async def create_container(self, body: Mapping[str, Any], *, name: str | None = None) -> str:
        """Create a container from ``body`` (the Engine API's ``ContainerConfig`` with its
        ``HostConfig``); return its id. The body may hold secrets (``Env``): it is never
        logged."""
        response = await self._request(
            "POST",
            "/containers/create",
            "containers.create",
            params={"name": name} if name else None,
            json_body=dict(body),
        )
        return str(response.json().get("Id", ""))

    async def pull(
        self, image: str, on_line: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        """Pull ``image`` (``name[:tag]`` or ``name@digest``; no tag means ``latest``), as
        ``docker pull`` does; hand every line of the engine's progress stream to ``on_line``.

        Raises:
            EngineAPIError: the engine refused at once (``NotFound`` for an unknown image), or
                its stream ended with an ``error`` line (its message).
        """
        name, tag = split_reference(image)
        params = {"fromImage": name, "tag": tag}
        self.requests["images.create"] += 1
        request = self._http.build_request(
            "POST", self._prefix + "/images/create", params=params, timeout=_PULL_TIMEOUT
        )
        async with self._streamed(request) as response:
            try:
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(message, dict):
                        continue
                    if message.get("error") or message.get("errorDetail"):
                        detail = message.get("errorDetail") or {}
                        text = message.get("error") or detail.get("message") or "the pull failed"
                        raise EngineAPIError(500, str(text))
                    if on_line is not None:
                        on_line(message)
            except httpx.TransportError as err:  # the connection broke mid-stream
                raise self._unavailable(err) from err

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

    async def prune(self, kind: Plural, *, labels: Sequence[str] = ()) -> dict[str, Any]:
        """Prune unused objects of one kind; return the engine's report.

        ``labels``: prune only objects with these labels (Docker's ``label`` filter: ``key``
        or ``key=value``; all must match).

        Volumes: from API 1.42 on, Docker prunes only anonymous volumes unless the filter
        says ``all``; ``docker volume prune`` users expect every unused volume to go (as it
        did before 1.42), so ``all=true`` is sent where the engine knows it.
        """
        filters: dict[str, dict[str, bool]] = {}
        if labels:
            filters["label"] = dict.fromkeys(labels, True)
        version = self.api_version
        if kind == "volumes" and version is not None and version >= (1, 42):
            filters["all"] = {"true": True}
        params = {"filters": json.dumps(filters)} if filters else None
        response = await self._request("POST", f"/{kind}/prune", f"{kind}.prune", params=params)
        report: dict[str, Any] = response.json()
        return report

    # -- logs ------------------------------------------------------------------------------

    @asynccontextmanager
    async def container_logs(
        self,
        container_id: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: str | None = None,
        until: str | None = None,
        timestamps: bool = False,
        stdout: bool = True,
        stderr: bool = True,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open ``GET /containers/{id}/logs``; yield an iterator over the body's chunks, as
        the engine sends them (multiplexed frames unless the container has a TTY).

        ``tail``: the last N lines (None: all); ``since``/``until``: Unix seconds
        (``"<seconds>.<nanoseconds>"``). With ``follow`` the body ends when the container
        stops. Leaving the context closes the stream.

        Raises:
            NotFound: no such container.
        """
        params: dict[str, str] = {
            "follow": "1" if follow else "0",
            "stdout": "1" if stdout else "0",
            "stderr": "1" if stderr else "0",
            "timestamps": "1" if timestamps else "0",
            "tail": "all" if tail is None else str(tail),
        }
        if since is not None:
            params["since"] = since
        if until is not None:
            params["until"] = until
        self.requests["containers.logs"] += 1
        path = f"{self._prefix}/containers/{quote(container_id)}/logs?{urlencode(params)}"
        if self.host.startswith(("unix://", "tcp://", "http://")):
            async with self._raw_stream(path) as chunks:
                yield chunks
            return
        request = self._http.build_request(
            "GET",
            path,
            timeout=httpx.Timeout(30.0, connect=5.0, read=None if follow else 30.0),
        )
        async with self._streamed(request) as response:
            yield self._chunks(response)

    @asynccontextmanager
    async def _raw_stream(self, path: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """``GET path`` as HTTP/1.0 on a connection of its own: the engine then streams the
        body as it is, to the connection's end, instead of one HTTP chunk per log message
        (which costs httpx a parse each, some 10 000 messages a second at most)."""
        try:
            if self.host.startswith("unix://"):
                async with asyncio.timeout(5):
                    reader, writer = await asyncio.open_unix_connection(
                        self.host.removeprefix("unix://")
                    )
            else:
                hostport = self.host.split("://", 1)[1].rstrip("/")
                host, _, port = hostport.rpartition(":")
                async with asyncio.timeout(5):
                    reader, writer = await asyncio.open_connection(
                        host or hostport, int(port or 2375)
                    )
        except (OSError, TimeoutError) as err:
            raise self._unavailable(err) from err
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            try:
                async with asyncio.timeout(30):
                    head = await reader.readuntil(b"\r\n\r\n")
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as err:
                raise self._unavailable(err) from err
            except asyncio.LimitOverrunError:
                raise EngineAPIError(502, "the engine answered with headers too long") from None
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            try:
                status = int(status_line.split()[1])
            except (IndexError, ValueError):
                raise EngineAPIError(502, f"the engine answered {status_line!r}") from None
            if status >= 400:
                body = await reader.read(65_536)
                try:
                    message = str(json.loads(body).get("message", ""))
                except (ValueError, AttributeError):
                    message = body.decode(errors="replace")
                _raise_status(status, message)

            async def chunks() -> AsyncIterator[bytes]:
                while True:
                    try:
                        chunk = await reader.read(256 * 1024)
                    except OSError as err:
                        raise self._unavailable(err) from err
                    if not chunk:
                        return
                    yield chunk

            yield chunks()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except httpx.TransportError as err:
            raise self._unavailable(err) from err

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
        async with self._streamed(request) as response:
            yield self._event_lines(response)

    @asynccontextmanager
    async def _streamed(self, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        """Send ``request`` for a streamed answer: the response (closed on leaving), after the
        engine's refusal (>= 400) is raised as ours and a broken connection as
        ``EngineUnavailable``."""
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as err:
            raise self._unavailable(err) from err
        try:
            if response.status_code >= 400:
                await response.aread()
                _raise_for_status(response)
            yield response
        finally:
            await response.aclose()

    async def _event_lines(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in response.aiter_lines():
                # Newline-delimited JSON; from API 1.52 on the engine may also frame each
                # event as a JSON text sequence (RFC 7464: a leading record separator, which
                # strip() removes).
                text = line.strip()
                if not text:
                    continue
                try:
                    event = json.loads(text)
                except ValueError:
                    log.warning("skipped an event that is not JSON: %r", text[:200])
                    continue
                if isinstance(event, dict):
                    yield event
        except httpx.TransportError as err:
            raise self._unavailable(err) from err


def split_reference(image: str) -> tuple[str, str]:
    """``(name, tag)`` of an image reference as the pull API takes them: ``name:tag`` (a
    ``:`` after the last ``/``; a registry's port is not a tag), ``name@digest``, or a bare
    name (tag ``latest``)."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"


def _raise_status(status: int, message: str) -> None:
    message = message or f"HTTP {status}"
    if status == 404:
        raise NotFound(404, message)
    if status == 409:
        raise Conflict(409, message)
    raise EngineAPIError(status, message)


def _reason(err: BaseException) -> str:
    """Why a connection failed, in words: a TLS refusal says which side refused what."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                "its TLS certificate is not trusted "
                f"({cause.verify_message or cause.reason}; check the CA in DOCKER_CERT_PATH)"
            )
        if isinstance(cause, ssl.SSLError):
            reason = str(cause.reason or cause)
            if "ALERT" in reason.upper() or "CERTIFICATE" in reason.upper():
                return f"it refused our TLS client certificate ({reason})"
            return f"TLS failed ({reason})"
        cause = cause.__cause__ or cause.__context__
    return str(err) or type(err).__name__


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
