"""The command line without an engine: its usage errors (status 2, one line), the server
config it builds from the options, and the one describer of changes both `watch` modes use."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from typing import Any

import pytest

from dockstate import cli
from dockstate.server import ServerConfig
from dockstate.state import Cause, ChangeBatch, Container, EngineState, Image, Remove, Upsert
from dockstate.wire import batch_json

# -- exit statuses ----------------------------------------------------------------------------


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DOCKSTATE_TOKEN", "DOCKER_HOST")}
    return subprocess.run(
        [sys.executable, "-m", "dockstate.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**clean, **env},
    )


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ((), {}, "the following arguments are required: COMMAND"),
        (("nothing",), {}, "argument COMMAND: invalid choice: 'nothing'"),
        (("serve", "--bogus"), {}, "unrecognized arguments: --bogus"),
        (("serve", "--port", "70000"), {}, "argument --port: not a TCP port (1 to 65535): 70000"),
        (("serve", "--port", "x"), {}, "argument --port: not a whole number: 'x'"),
        (("serve", "--rate", "0"), {}, "argument --rate: must be more than 0: 0"),
        (("serve", "--max-connections", "0"), {}, "argument --max-connections: must be at least"),
        (("serve", "--heartbeat-ms", "-5"), {}, "argument --heartbeat-ms: must be at least 1"),
        (("serve", "--retain-days", "nan"), {}, "argument --retain-days: must be more than 0"),
        (("watch", "--reconcile-interval", "0"), {}, "argument --reconcile-interval: must be"),
        (("serve", "--keyfile", "k.pem"), {}, "--keyfile needs --certfile"),
        (("serve", "--host", "0.0.0.0"), {}, "refusing to listen on 0.0.0.0 with a random token"),
        (("serve", "--docker-host", "ftp://x"), {}, "unsupported Docker host 'ftp://x'"),
        (("snapshot",), {"DOCKER_HOST": "garbage"}, "unsupported Docker host 'garbage'"),
        (("watch", "--url", "localhost:8765", "--token", "t"), {}, "not a dockstate server URL"),
        (("watch", "--url", "http://127.0.0.1:9"), {}, "--url needs the server's token"),
        (
            ("watch", "--url", "http://127.0.0.1:9", "--token", "t", "--docker-host", "unix:///x"),
            {},
            "--docker-host and --url exclude each other",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    result = run_cli(*args, **env)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("dockstate: ")
    assert says in result.stderr


def test_a_failure_that_is_no_usage_error_exits_1_with_one_line() -> None:
    result = run_cli("snapshot", "--docker-host", "unix:///nonexistent/docker.sock")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("dockstate: cannot reach the Docker engine at unix:///")


def test_help_and_version_exit_0() -> None:
    assert run_cli("--version").returncode == 0
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    assert "--allow-origin ORIGIN" in result.stdout


# -- the server config ------------------------------------------------------------------------


def serve_args(*argv: str) -> argparse.Namespace:
    return cli._parser().parse_args(["serve", *argv])


def test_every_option_reaches_the_config() -> None:
    args = serve_args(
        *("--host", "::1", "--port", "9001", "--token", "tok", "--read-only"),
        *("--docker-host", "tcp://engine:2375", "--certfile", "c.pem", "--keyfile", "k.pem"),
        *("--allow-origin", "https://a", "--allow-origin", "https://b"),
        *("--reconcile-interval", "7", "--db", "/tmp/x.db", "--retain-changes", "11"),
        *("--retain-events", "12", "--retain-days", "1.5", "--heartbeat-ms", "900"),
        *("--hello-timeout", "3", "--max-pending", "13", "--send-timeout", "4", "--rate", "20"),
        *("--history-limit", "14", "--max-connections", "15"),
    )
    assert cli.server_config(args) == ServerConfig(
        host="::1",
        port=9001,
        token="tok",
        docker_host="tcp://engine:2375",
        read_only=True,
        allow_origins=("https://a", "https://b"),
        reconcile_interval=7.0,
        heartbeat_ms=900,
        hello_timeout=3.0,
        max_pending=13,
        send_timeout=4.0,
        rate=20.0,
        burst=40,
        history_limit=14,
        db="/tmp/x.db",
        retain_changes=11,
        retain_events=12,
        retain_days=1.5,
        max_connections=15,
        certfile="c.pem",
        keyfile="k.pem",
    )


def test_every_config_field_has_an_option_or_a_derivation() -> None:
    options = set(vars(serve_args()))
    fields = {f.name for f in dataclasses.fields(ServerConfig)}
    assert fields <= options | set(cli._DERIVED)
    assert options - fields <= cli._CLI_ONLY | {"db"}
    assert cli._CLI_ONLY.isdisjoint(fields)


def test_the_defaults_are_serves(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("DOCKSTATE_TOKEN", raising=False)
    monkeypatch.delenv("DOCKSTATE_DB", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    config = cli.server_config(serve_args())
    assert len(config.token) >= 24  # a random one
    assert config.token != cli.server_config(serve_args()).token
    assert config.db == str(tmp_path / "dockstate" / "unix-var-run-docker.sock.db")
    assert (config.host, config.port, config.burst, config.allow_origins) == (
        "127.0.0.1",
        8765,
        100,
        (),
    )
    assert config.history_limit == 500
    assert cli.server_config(serve_args("--no-db")).db is None


def test_the_token_comes_from_the_option_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKSTATE_TOKEN", "from-env")
    assert cli.server_config(serve_args("--no-db")).token == "from-env"
    assert cli.server_config(serve_args("--no-db", "--token", "given")).token == "given"


def test_a_small_rate_still_has_a_burst_of_one() -> None:
    assert cli.server_config(serve_args("--no-db", "--rate", "0.2")).burst == 1


# -- one describer of changes -------------------------------------------------------------------


def container(key: str, state: str, name: str) -> Container:
    return Container.model_validate(
        {
            "id": key,
            "name": name,
            "image": "app:latest",
            "image_id": "",
            "command": "sleep 60",
            "created": "2026-01-01T00:00:00.000000Z",
            "state": state,
            "status": state,
        }
    )


def image(key: str, tag: str) -> Image:
    data = {"id": key, "tags": [tag], "size": 1, "created": "2026-01-01T00:00:00Z"}
    return Image.model_validate(data)


class Recorder:
    """An EngineState and what each of its batches looks like in both `watch` modes."""

    def __init__(self) -> None:
        self.state = EngineState(epoch="e")
        self.batches: list[ChangeBatch] = []
        self.state.subscribe(self.batches.append)

    def apply(self, *ops: Upsert | Remove) -> tuple[str, str]:
        """The batch as the engine mode prints it, and as the --url mode does."""
        before = self.state.snapshot()
        self.state.apply(ops)
        batch = self.batches[-1]
        message = {"type": "changes", "sub": "s1", "epoch": "e", **batch_json(batch)}
        after = self.state.snapshot()
        return cli.describe_batch(batch, self.state), cli.describe_message(message, after, before)


def test_both_watch_modes_describe_changes_alike() -> None:
    engine = Recorder()
    cid = "c" * 64
    cause = Cause("container", "create")
    created_lines = engine.apply(
        Upsert(container(cid, "created", "web"), cause), Upsert(image("sha256:1", "app:latest"))
    )
    updated_lines = engine.apply(
        Upsert(container(cid, "running", "web"), Cause("container", "start"))
    )
    removed_lines = engine.apply(Remove("container", cid, Cause("container", "destroy")))

    for by_engine, by_server in (created_lines, updated_lines, removed_lines):
        assert by_engine == by_server
    lines = [
        line.split(" ", 1)[1]
        for pair in (created_lines, updated_lines, removed_lines)
        for line in pair[0].splitlines()
    ]
    assert lines[0] == "v1 container created web  (container create)"
    assert "image created app:latest" in lines[1]
    assert any(
        'container updated web: state="running", status="running"  (container start)' in line
        for line in lines
    )
    assert "container removed web  (container destroy)" in removed_lines[0]


def test_a_load_and_a_snapshot_share_one_summary() -> None:
    engine = Recorder()
    load = Cause("reconcile", "load")
    engine.state.apply(
        [
            Upsert(container("a" * 64, "running", "a"), load),
            Upsert(container("b" * 64, "exited", "b"), load),
        ]
    )
    loaded = cli.describe_batch(engine.batches[-1], engine.state)
    snapshot = {"type": "snapshot", "sub": "s1", "epoch": "e", "version": engine.state.version}
    shown = cli.describe_message(snapshot, engine.state.snapshot())
    tail = " 2 containers (1 running), 0 images, 0 volumes, 0 networks; engine "
    assert f" v{engine.state.version} loaded{tail}" in loaded
    assert f" v{engine.state.version} snapshot{tail}" in shown
    assert loaded.split(" loaded ")[1] == shown.split(" snapshot ")[1]
