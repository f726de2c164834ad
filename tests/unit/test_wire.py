"""Every message the server builds (dockstate.wire) is valid against the JSON Schema it
publishes (``GET /api/v1/schema``), in every form a change can take on the wire."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from factories import container, image, network, new_state, volume, wired_hub

from dockstate import wire
from dockstate.hub import compile_filter
from dockstate.protocol import PROTOCOL, ContainerStats
from dockstate.schema import json_schema
from dockstate.state import Cause, Remove, Upsert
from dockstate.wire import EncodedChange

SCHEMAS: dict[str, Any] = json_schema()["server_messages"]


def valid(text: str) -> dict[str, Any]:
    """``text`` parsed, after checking it against the schema of its ``type``."""
    message: dict[str, Any] = json.loads(text)
    jsonschema.validate(message, SCHEMAS[message["type"]])
    return message


def test_every_server_message_type_has_a_builder_and_a_schema() -> None:
    built = {
        "welcome",
        "snapshot",
        "changes",
        "bookmark",
        "resync_required",
        "engine_state_update",
        "stats",
        "operation",
        "logs",
        "logs_skipped",
        "logs_end",
        "error",
        "pong",
    }
    assert set(SCHEMAS) == built


def test_welcome() -> None:
    text = wire.welcome(
        protocol=PROTOCOL,
        server="dockstate/0",
        session="abc",
        engine="local",
        engines=[
            {"id": "local", "host": "unix:///var/run/docker.sock", "status": "connected"},
            {"id": "prod", "host": "tcp://prod:2376", "status": "down"},
        ],
        epoch="e1",
        version=7,
        oldest=2,
        heartbeat_ms=15_000,
    )
    welcome = valid(text)
    assert welcome["oldest"] == 2
    assert welcome["engine"] == "local"
    assert [e["status"] for e in welcome["engines"]] == ["connected", "down"]


def test_snapshot_and_full_state_of_a_populated_state() -> None:
    state = new_state()
    hub = wired_hub(state)
    state.apply(
        [
            Upsert(container("c1", name="wéb", labels={"a": "x"}, image_id="sha256:i1")),
            Upsert(image("sha256:i1", tags=["app:1"])),
            Upsert(volume("data")),
            Upsert(network("n1", name="net1")),
        ]
    )
    text, _ = hub.state_json(None)
    snap = valid(wire.snapshot("s1", "local", state.epoch, state.version, text))
    assert snap["engine"] == "local"
    assert snap["state"]["containers"]["c1"]["name"] == "wéb"
    assert snap["state"]["version"] == state.version
    full = valid(wire.engine_state_update("s1", "local", text, state.last_updated))
    assert full["data"] == snap["state"]
    # A filter that leaves out kind engine: no engine_info, still valid.
    filtered, _ = hub.state_json(compile_filter({"kinds": ["volume"]}))
    assert "engine_info" not in valid(wire.snapshot("s1", "local", "e", 1, filtered))["state"]


def test_changes_in_every_form() -> None:
    state = new_state()
    hub = wired_hub(state)
    cause = Cause("container", "create", 1_763_800_000_123_456_789)
    created = state.apply([Upsert(container("c1"), cause), Upsert(volume("v1"))])
    updated = state.apply([Upsert(container("c1", state="exited"))])
    removed = state.apply([Remove("volume", "v1", Cause("volume", "destroy"))])
    assert created is not None
    assert updated is not None
    assert removed is not None
    texts: list[str] = []
    for batch in (created, updated, removed):
        for change in batch.changes:
            enc = EncodedChange(change, hub.cache)
            texts.append(enc.text())
            if change.obj is not None:
                texts += [enc.text_with_object("created"), enc.text_with_object("updated")]
            texts.append(enc.removed_text())
    message = valid(
        wire.changes("s1", "prod", state.epoch, 0, state.version, state.last_updated, texts)
    )
    assert message["engine"] == "prod"
    ops = {c["op"] for c in message["changes"]}
    assert ops == {"created", "updated", "removed"}
    assert any("patch" in c for c in message["changes"])
    assert message["changes"][0]["cause"]["time_nano"] == cause.time_nano


@pytest.mark.parametrize(
    "code",
    ["EPOCH_MISMATCH", "VERSION_EXPIRED", "VERSION_TOO_NEW", "SLOW_CONSUMER", "INTERNAL_ERROR"],
)
def test_resync_required(code: str) -> None:
    assert valid(wire.resync_required("s1", "local", code, 3, 9))["code"] == code


def test_bookmark_error_pong_and_a_client_s_own_strings() -> None:
    assert valid(wire.bookmark("s1", "local", "e", 4))["version"] == 4
    # A lone surrogate a client sent as an id must come back encodable as UTF-8.
    text = wire.error("\ud800", "INVALID_MESSAGE", "bad")
    text.encode()
    assert valid(text)["code"] == "INVALID_MESSAGE"
    assert valid(wire.pong(7))["id"] == 7
    assert valid(wire.pong(None))["id"] is None


def test_an_invalid_message_is_caught() -> None:
    """The check itself can fail: a bookmark without its version is refused."""
    broken = json.loads(wire.bookmark("s1", "local", "e", 4))
    del broken["version"]
    with pytest.raises(jsonschema.ValidationError):
        valid(json.dumps(broken))


def test_stats() -> None:
    sample = ContainerStats(
        cpu_percent=12.5,
        memory_bytes=1 << 20,
        memory_limit_bytes=1 << 30,
        net_rx_bytes=10,
        net_tx_bytes=20,
        block_read_bytes=0,
        block_write_bytes=4096,
        pids=3,
    )
    text = wire.stats("t1", "local", "2026-12-02T20:00:00Z", {"c1": json.dumps(sample.as_dict())})
    message = valid(text)
    assert message["containers"]["c1"] == sample.as_dict()
    assert valid(wire.stats("t1", "local", "2026-12-02T20:00:00Z", {}))["containers"] == {}


def test_operation() -> None:
    pending = {"operation": "ab12", "action": "stop", "target": "web", "status": "pending"}
    assert valid(wire.operation("local", pending))["status"] == "pending"
    failed = {
        **pending,
        "status": "failed",
        "error": {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "no"},
        "progress": None,
    }
    assert valid(wire.operation("local", failed))["error"]["status"] == 409


def test_logs_messages() -> None:
    from dockstate.logs import LogLine

    lines = [
        LogLine("c1", "stdout", "2026-12-02T20:00:00.000000001Z", "wé \ufffd").as_json(),
        LogLine("c1", "stderr", "2026-12-02T20:00:00.000000002Z", "x" * 10, True).as_json(),
    ]
    message = valid(wire.logs("l1", "local", lines))
    assert message["lines"][0]["text"] == "wé \ufffd"
    assert message["lines"][1]["truncated"] is True
    assert valid(wire.logs_skipped("l1", "local", "c1", 42))["count"] == 42
    assert valid(wire.logs_end("l1", "local", "c1"))["container"] == "c1"
    final = valid(wire.logs_end("\ud800", "local", None, final=True))
    assert final["final"] is True
    assert final["container"] is None
    for code in ("UNKNOWN_CONTAINER", "UNKNOWN_PROJECT", "LOGS_DISABLED"):
        assert valid(wire.error("l1", code, "no"))["code"] == code
