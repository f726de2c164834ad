"""The core is I/O-free: importing it loads no event loop, no HTTP client, no engine adapter."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN_TOP_LEVEL = {
    "asyncio",
    "httpx",
    "httpcore",
    "anyio",
    "aiodocker",
    "websockets",
    "starlette",
    "fastapi",
    "uvicorn",
}
FORBIDDEN_DOCKSTATE = ("dockstate.engine", "dockstate.server", "dockstate.hub", "dockstate.cli")


def modules_loaded_by(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(result.stdout)
    return set(loaded)


def test_importing_the_core_loads_no_io_modules() -> None:
    loaded = modules_loaded_by("import dockstate.state")

    assert "dockstate.state._state" in loaded
    forbidden = sorted(
        name
        for name in loaded
        if name.partition(".")[0] in FORBIDDEN_TOP_LEVEL
        or any(name == f or name.startswith(f + ".") for f in FORBIDDEN_DOCKSTATE)
    )
    assert forbidden == []
