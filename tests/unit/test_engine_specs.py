"""Which engines a server watches (protocol.md §8): ``--engine ID=URL``, ``--context NAME``
read as the Docker CLI reads contexts, ``--config FILE``; each refusal is one clear line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dockstate import cli
from dockstate.errors import DockstateError
from dockstate.server import EngineSpec, ServerConfig, TLSFiles, engine_specs

NO_ENV: dict[str, str] = {}


def make_context(config_dir: Path, name: str, host: str, *, tls: bool = False) -> None:
    """A Docker CLI context as ``docker context create`` writes it."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}})
    )
    if tls:
        files = config_dir / "contexts" / "tls" / digest / "docker"
        files.mkdir(parents=True)
        for file in ("ca.pem", "cert.pem", "key.pem"):
            (files / file).write_text("-----")


def test_engine_options_in_order() -> None:
    specs = engine_specs(["local=unix:///var/run/docker.sock", "b=tcp://10.0.0.2:2375"], env={})
    assert specs == (
        EngineSpec("local", "unix:///var/run/docker.sock"),
        EngineSpec("b", "tcp://10.0.0.2:2375"),
    )


def test_tcp_takes_tls_from_the_environment_as_the_docker_cli(tmp_path: Path) -> None:
    for file in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / file).write_text("-----")
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    (spec,) = engine_specs(["p=tcp://prod:2376"], env=env)
    assert spec.tls == TLSFiles(
        ca=str(tmp_path / "ca.pem"), cert=str(tmp_path / "cert.pem"), key=str(tmp_path / "key.pem")
    )
    (plain,) = engine_specs(["p=unix:///x.sock"], env=env)
    assert plain.tls is None  # a socket speaks no TLS


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("local", "expected ID=URL"),
        ("=unix:///x", "engine id ''"),
        ("bad id=unix:///x", "engine id 'bad id'"),
        ("a=", "expected ID=URL"),
        ("a=ftp://x", "unsupported engine address 'ftp://x'"),
        ("a=tcp://", "unsupported engine address"),
    ],
)
def test_a_bad_engine_is_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(DockstateError) as refused:
        engine_specs([spec], env=NO_ENV)
    assert message in str(refused.value)
    assert f"--engine {spec!r}" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_two_engines_may_not_share_an_id() -> None:
    with pytest.raises(DockstateError, match="two engines have the id 'a'"):
        engine_specs(["a=unix:///x", "a=unix:///y"], env=NO_ENV)


def test_a_context_as_the_docker_cli_stores_it(tmp_path: Path) -> None:
    make_context(tmp_path, "remote", "tcp://10.0.0.9:2376", tls=True)
    make_context(tmp_path, "plain", "unix:///run/other.sock")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    remote, plain = engine_specs(contexts=["remote", "plain"], env=env)
    folder = tmp_path / "contexts" / "tls" / hashlib.sha256(b"remote").hexdigest() / "docker"
    assert remote == EngineSpec(
        "remote",
        "tcp://10.0.0.9:2376",
        TLSFiles(str(folder / "ca.pem"), str(folder / "cert.pem"), str(folder / "key.pem")),
    )
    assert plain == EngineSpec("plain", "unix:///run/other.sock")


def test_a_missing_context_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(DockstateError) as refused:
        engine_specs(contexts=["nowhere"], env={"DOCKER_CONFIG": str(tmp_path)})
    assert "--context 'nowhere': no such Docker context" in str(refused.value)
    assert str(tmp_path) in str(refused.value)


def test_a_config_file(tmp_path: Path) -> None:
    make_context(tmp_path, "laptop", "unix:///run/laptop.sock")
    config = tmp_path / "engines.toml"
    config.write_text(
        '[engines.local]\nurl = "unix:///var/run/docker.sock"\n\n'
        '[engines.prod-1]\nurl = "tcp://prod:2376"\ncert_path = "/nowhere"\n'
        'tls_verify = false\ndb = "/var/lib/p.db"\n\n'
        '[engines.lap]\ncontext = "laptop"\n'
    )
    specs = engine_specs(config=str(config), env={"DOCKER_CONFIG": str(tmp_path)})
    assert specs == (
        EngineSpec("local", "unix:///var/run/docker.sock"),
        EngineSpec("prod-1", "tcp://prod:2376", TLSFiles(verify=False), "/var/lib/p.db"),
        EngineSpec("lap", "unix:///run/laptop.sock"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[engines", "not TOML"),
        ("x = 1", "no [engines.ID] table"),
        ('[engines.a]\nurl = "unix:///x"\nport = 3', "unknown key 'port'"),
        ("[engines.a]\n", "give one of url and context"),
        ('[engines.a]\nurl = "unix:///x"\ncontext = "c"', "give one of url and context"),
        ("[engines.a]\nurl = 3", "url must be a string"),
        ('[engines."a b"]\nurl = "unix:///x"', "engine id 'a b'"),
    ],
)
def test_a_bad_config_file_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "engines.toml"
    config.write_text(text)
    with pytest.raises(DockstateError) as refused:
        engine_specs(config=str(config), env=NO_ENV)
    assert message in str(refused.value)
    assert str(config) in str(refused.value)


def test_without_engines_the_one_engine_is_local() -> None:
    config = ServerConfig(docker_host="unix:///run/x.sock", db="/d/history.db")
    (spec,) = config.engine_specs()
    assert spec == EngineSpec("local", "unix:///run/x.sock")
    assert config.engine_db(spec) == "/d/history.db"


def test_each_engine_has_its_own_history_database() -> None:
    a, b = EngineSpec("a", "unix:///a"), EngineSpec("b", "unix:///b")
    config = ServerConfig(engines=(a, b), db="/d/history.db")
    assert config.engine_db(a) == "/d/history.db"  # the default engine keeps the file
    assert config.engine_db(b) == "/d/history-b.db"
    assert ServerConfig(engines=(a, b)).engine_db(b) is None  # history in memory only


def test_serve_options_make_the_engines(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli._parser().parse_args(
        ["serve", "--no-db", "--engine", "a=unix:///a", "--engine", "b=unix:///b"]
    )
    assert [s.id for s in cli.server_config(args).engines] == ["a", "b"]
    both = cli._parser().parse_args(
        ["serve", "--docker-host", "unix:///x", "--engine", "a=unix:///a"]
    )
    with pytest.raises(DockstateError, match="exclude each other"):
        cli.server_config(both)
    assert cli.main(["serve", "--engine", "nope"]) == 1
    assert capsys.readouterr().err.strip().startswith("dockstate: --engine 'nope': expected ID=URL")


def test_engine_needs_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["watch", "--engine", "prod"]) == 2
    assert "--engine ID needs --url" in capsys.readouterr().err
