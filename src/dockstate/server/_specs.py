"""Which engines to watch (protocol.md §8), from what an operator writes: ``--engine ID=URL``,
``--context NAME`` (a Docker CLI context), ``--config FILE`` (TOML).

Every refusal is a :class:`~dockstate.errors.DockstateError` of one line that names what was
written and what is wrong with it.

The config file holds one table per engine, in order (the first is the default)::

    [engines.local]
    url = "unix:///var/run/docker.sock"

    [engines.prod-1]
    url = "tcp://prod-1.example:2376"
    cert_path = "/etc/dockstate/prod-1"   # ca.pem, cert.pem, key.pem; TLS verified
    db = "/var/lib/dockstate/prod-1.db"   # optional

    [engines.laptop]
    context = "laptop"                    # a Docker CLI context
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..engine import resolve_docker_host
from ..errors import DockstateError
from ._config import EngineSpec, TLSFiles
from ._engines import ENGINE_ID_PATTERN

__all__ = ["SCHEMES", "check_url", "engine_specs", "from_context", "parse_engine", "read_config"]

#: The engine addresses dockstate speaks to.
SCHEMES = ("unix://", "tcp://", "http://", "https://", "ssh://")
_CONFIG_KEYS = frozenset({"url", "context", "cert_path", "tls_verify", "db"})


def check_id(engine: str, where: str) -> str:
    if not ENGINE_ID_PATTERN.fullmatch(engine):
        raise DockstateError(
            f"{where}: engine id {engine[:80]!r} must be letters, digits, '.', '_' or '-' "
            "(at most 63, starting with a letter or digit)"
        )
    return engine


def check_url(url: str, where: str) -> str:
    if not url.startswith(SCHEMES) or url.split("://", 1)[1] == "":
        raise DockstateError(
            f"{where}: unsupported engine address {url[:120]!r}: use unix:///PATH, "
            "tcp://HOST:PORT or ssh://USER@HOST"
        )
    return url


def _tls_from_dir(cert_path: str, verify: bool) -> TLSFiles:
    """The Docker CLI's TLS files of a directory: ca.pem, cert.pem, key.pem (each optional)."""
    folder = Path(cert_path).expanduser()

    def file(name: str) -> str | None:
        path = folder / name
        return str(path) if path.is_file() else None

    return TLSFiles(ca=file("ca.pem"), cert=file("cert.pem"), key=file("key.pem"), verify=verify)


def tls_from_env(url: str, env: Mapping[str, str]) -> TLSFiles | None:
    """TLS for ``url`` as the Docker CLI takes it from the environment: for ``tcp://`` when
    ``DOCKER_TLS_VERIFY`` is set (non-empty), with the files of ``DOCKER_CERT_PATH``
    (default ``~/.docker``)."""
    if not url.startswith("tcp://") or not env.get("DOCKER_TLS_VERIFY"):
        return None
    return _tls_from_dir(env.get("DOCKER_CERT_PATH") or "~/.docker", verify=True)


def parse_engine(text: str, env: Mapping[str, str] = os.environ) -> EngineSpec:
    """``ID=URL`` (``--engine``); a ``tcp://`` URL takes TLS from ``DOCKER_TLS_VERIFY`` and
    ``DOCKER_CERT_PATH`` as the Docker CLI does."""
    engine, sep, url = text.partition("=")
    where = f"--engine {text[:120]!r}"
    if not sep or not url:
        raise DockstateError(f"{where}: expected ID=URL, e.g. local=unix:///var/run/docker.sock")
    check_id(engine, where)
    check_url(url, where)
    return EngineSpec(engine, url, tls=tls_from_env(url, env))


def docker_config_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The Docker CLI's configuration directory: ``$DOCKER_CONFIG``, else ``~/.docker``."""
    return Path(env.get("DOCKER_CONFIG") or "~/.docker").expanduser()


def from_context(
    name: str, engine: str | None = None, *, config_dir: Path | None = None
) -> EngineSpec:
    """The engine of the Docker CLI context ``name``, as the CLI reads it: its endpoint from
    ``contexts/meta/<sha256(name)>/meta.json``, its TLS files from
    ``contexts/tls/<sha256(name)>/docker/`` (``ca.pem``, ``cert.pem``, ``key.pem``). Its id is
    ``engine``, else the context's name."""
    where = f"--context {name[:80]!r}"
    folder = config_dir if config_dir is not None else docker_config_dir()
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = folder / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except FileNotFoundError:
        if name == "default":  # the CLI's own context, kept in no file: $DOCKER_HOST
            url = check_url(resolve_docker_host(), where)
            return EngineSpec(check_id(engine or name, where), url)
        raise DockstateError(f"{where}: no such Docker context (no {meta})") from None
    except (OSError, ValueError) as err:
        raise DockstateError(f"{where}: cannot read {meta}: {err}") from None
    endpoint = (data.get("Endpoints") or {}).get("docker") if isinstance(data, dict) else None
    if not isinstance(endpoint, dict):
        raise DockstateError(f"{where}: {meta} names no docker endpoint")
    host = endpoint.get("Host")
    if not isinstance(host, str) or not host:
        raise DockstateError(f"{where}: {meta} names no docker endpoint Host")
    check_url(host, where)
    tls_dir = folder / "contexts" / "tls" / digest / "docker"
    tls: TLSFiles | None = None
    if tls_dir.is_dir():
        tls = _tls_from_dir(str(tls_dir), verify=not endpoint.get("SkipTLSVerify", False))
    elif endpoint.get("SkipTLSVerify") and host.startswith("tcp://"):
        tls = TLSFiles(verify=False)
    return EngineSpec(check_id(engine or name, where), host, tls=tls)


def read_config(path: str, env: Mapping[str, str] = os.environ) -> list[EngineSpec]:
    """The engines of the TOML file ``path`` (see the module's docstring), in order."""
    where = f"--config {path}"
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as err:
        raise DockstateError(f"{where}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise DockstateError(f"{where}: not TOML: {err}") from None
    tables = data.get("engines")
    if not isinstance(tables, dict) or not tables:
        raise DockstateError(f"{where}: no [engines.ID] table")
    return [_config_engine(engine, table, f"{where}: [engines.{engine}]", env)
            for engine, table in tables.items()]  # fmt: skip


def _config_engine(engine: str, table: Any, where: str, env: Mapping[str, str]) -> EngineSpec:
    if not isinstance(table, dict):
        raise DockstateError(f"{where}: must be a table")
    unknown = sorted(set(table) - _CONFIG_KEYS)
    if unknown:
        raise DockstateError(f"{where}: unknown key {unknown[0]!r} (known: url, context, "
                             "cert_path, tls_verify, db)")  # fmt: skip
    for key in ("url", "context", "cert_path", "db"):
        if key in table and not isinstance(table[key], str):
            raise DockstateError(f"{where}: {key} must be a string")
    if "tls_verify" in table and not isinstance(table["tls_verify"], bool):
        raise DockstateError(f"{where}: tls_verify must be true or false")
    if ("url" in table) == ("context" in table):
        raise DockstateError(f"{where}: give one of url and context")
    db = table.get("db")
    if "context" in table:
        spec = from_context(table["context"], check_id(engine, where),
                            config_dir=docker_config_dir(env))  # fmt: skip
        return EngineSpec(spec.id, spec.url, spec.tls, db)
    url = check_url(table["url"], where)
    check_id(engine, where)
    tls: TLSFiles | None
    if "cert_path" in table:
        tls = _tls_from_dir(table["cert_path"], verify=table.get("tls_verify", True))
    else:
        tls = tls_from_env(url, env)
    return EngineSpec(engine, url, tls, db)


def engine_specs(
    engines: Iterable[str] = (),
    contexts: Iterable[str] = (),
    config: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> tuple[EngineSpec, ...]:
    """The engines of ``serve``'s ``--config``, ``--engine`` and ``--context`` options, in
    that order (the first is the default); none when none is given (the server then watches
    ``--docker-host`` as ``local``).

    Raises:
        DockstateError: a spec is malformed, a context or file is missing, or two engines
            have the same id.
    """
    specs = read_config(config, env) if config is not None else []
    specs += [parse_engine(text, env) for text in engines]
    specs += [from_context(name, config_dir=docker_config_dir(env)) for name in contexts]
    seen: set[str] = set()
    for spec in specs:
        if spec.id in seen:
            raise DockstateError(f"two engines have the id {spec.id!r}: ids must be unique")
        seen.add(spec.id)
    return tuple(specs)
