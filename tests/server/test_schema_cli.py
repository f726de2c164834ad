"""``python -m dockstate.schema``: the schema of ``GET /api/v1/schema`` without a server, which
the web UI's type generator (web/scripts/gen-types.mjs) reads."""

from __future__ import annotations

import json
import subprocess
import sys

from dockstate.schema import json_schema
from dockstate.server._schema import schemas


def test_it_is_the_schema_the_server_publishes() -> None:
    assert json_schema() == schemas()


def test_the_command_prints_it_as_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dockstate.schema"], check=True, capture_output=True, text=True
    ).stdout
    printed = json.loads(out)
    assert printed == json.loads(json.dumps(schemas()))
    assert printed["protocol"] == "dockstate.v1"
    assert {"hello", "subscribe"} <= printed["client_messages"].keys()
    assert {"Container", "Image", "Volume", "Network"} <= printed["entities"].keys()
