"""The follower test vectors (tests/vectors/*.json, see its README.md) run through the Python
client's Follower; the web UI's follower runs the same ones (web/src/store/vectors.test.ts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockstate.client import Follower, Step

VECTORS = sorted((Path(__file__).parents[1] / "vectors").glob("*.json"))


def test_there_are_vectors() -> None:
    assert len(VECTORS) >= 10


def without_version(state: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if state is None else {k: v for k, v in state.items() if k != "version"}


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    follower = Follower(vector["sub"])
    expected_state: dict[str, Any] | None = None
    for number, step in enumerate(vector["steps"]):
        where = f"{path.name} step {number} ({step.get('note', '')})"
        expect = step["expect"]
        if "subscribe" in step:
            message = follower.subscribe_message()
            assert message.get("since") == expect["since"], where
        else:
            outcome = follower.handle(step["receive"])
            assert outcome is Step(expect["step"]), where
            if expect["answer"] is not None:
                assert follower.resync_message() == expect["answer"], where
            if "state" in expect:
                expected_state = expect["state"]
            assert without_version(follower.state) == without_version(expected_state), where
            if follower.state is not None:
                assert follower.state["version"] == follower.applied, where
            assert follower.applied == expect["applied"], where
            assert follower.version == expect["version"], where
            if "since" in expect:
                assert follower.since() == expect["since"], where
        if "awaiting_snapshot" in expect:
            assert follower.awaiting_snapshot is expect["awaiting_snapshot"], where
