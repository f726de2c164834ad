"""The server's settings, with the defaults of `dockstate serve`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import resolve_docker_host
from ..state import DEFAULT_HISTORY_LIMIT
from ..stats import SourceMode

__all__ = ["DEFAULT_ENGINE", "EngineSpec", "ServerConfig", "TLSFiles"]

#: The id of the one engine of a server not told of any (protocol.md §8).
DEFAULT_ENGINE = "local"


@dataclass(frozen=True)
class TLSFiles:
    """How to speak TLS to an engine, as the Docker CLI does (``DOCKER_CERT_PATH``): the CA
    that signed the engine's certificate (``None``: the system's), and the client's own
    certificate and key (``None``: no client certificate). ``verify`` False accepts any
    certificate (``DOCKER_TLS_VERIFY`` unset), still encrypted."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class EngineSpec:
    """One engine a server watches.

    Attributes:
        id: its short stable name on the wire and in URLs (``local``, ``prod-1``).
        url: where it is, as ``DOCKER_HOST`` says it (``unix://``, ``tcp://``, ``ssh://``).
        tls: TLS material for ``tcp://`` (``None``: plain TCP).
        db: its own history database (``None``: derived from the server's ``db``).
    """

    id: str
    url: str
    tls: TLSFiles | None = None
    db: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server can be told.

    Attributes:
        host, port: where to listen; loopback by default.
        token: the secret every client must present; random unless given.
        docker_host: the engine to watch when ``engines`` is empty (default: $DOCKER_HOST,
            else the local socket); it is then the one engine, id ``local``.
        engines: the engines to watch, the first the default one (protocol.md §8).
        read_only: refuse every action (REST POST/DELETE) with 403.
        allow_origins: extra browser origins allowed to open the WebSocket.
        reconcile_interval: seconds between two full relists of the engine.
        heartbeat_ms: the longest an idle subscription waits for a bookmark.
        hello_timeout: seconds a new connection has to say hello.
        max_pending: coalesced changes a subscription may have waiting before the server gives
            up on them and sends SLOW_CONSUMER with a fresh snapshot.
        send_timeout: seconds one send may block before the client is closed with 4499.
        rate, burst: incoming messages per second per connection (token bucket).
        history_limit: how many changes are kept in memory for resuming clients; older ones
            come from the history database.
        db: the SQLite file of the durable history (changes and raw events); ``None`` keeps
            history in memory only, and a restart begins a new epoch. Each engine has a file
            of its own: the default engine this one, another ``<stem>-<id><suffix>`` beside
            it (unless its spec names one).
        retain_changes, retain_events, retain_days: how much of the durable history to keep.
        max_connections: WebSocket connections open at once (said hello or not); the upgrade
            of one more is closed at once with 1013 (try again later).
        certfile, keyfile: serve HTTPS and WSS with this PEM certificate (chain) and its key
            (``keyfile`` may be None when ``certfile`` holds the key too); None: plain HTTP.
        stats_source: where container usage is read: ``cgroup`` (the files, local engines),
            ``api`` (Docker's stats API), ``auto`` (cgroup where readable, else the API).
        no_logs: turn container logs off (protocol.md §10): ``subscribe_logs`` gets
            ``LOGS_DISABLED``, the download 403.
        metrics_per_container: add per-container usage gauges to ``/metrics`` (off: their
            labels multiply the series by the number of containers).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    docker_host: str | None = None
    engines: tuple[EngineSpec, ...] = ()
    read_only: bool = False
    allow_origins: tuple[str, ...] = ()
    reconcile_interval: float = 60.0
    heartbeat_ms: int = 15_000
    hello_timeout: float = 10.0
    max_pending: int = 10_000
    send_timeout: float = 30.0
    rate: float = 50.0
    burst: int = 100
    history_limit: int = DEFAULT_HISTORY_LIMIT
    db: str | None = None
    retain_changes: int = 100_000
    retain_events: int = 100_000
    retain_days: float = 7.0
    max_connections: int = 1000
    certfile: str | None = None
    keyfile: str | None = None
    stats_source: SourceMode = "auto"
    metrics_per_container: bool = False
    no_logs: bool = False

    def engine_specs(self) -> tuple[EngineSpec, ...]:
        """The engines to watch: ``engines``, else the one of ``docker_host``."""
        if self.engines:
            return self.engines
        return (EngineSpec(DEFAULT_ENGINE, resolve_docker_host(self.docker_host)),)

    def engine_db(self, spec: EngineSpec) -> str | None:
        """Where ``spec``'s history is kept (see ``db``); ``None``: in memory only."""
        if self.db is None:
            return None
        if spec.db is not None:
            return spec.db
        if spec.id == self.engine_specs()[0].id:
            return self.db
        path = Path(self.db)
        return str(path.with_name(f"{path.stem}-{spec.id}{path.suffix}"))
