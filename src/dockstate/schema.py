"""The JSON Schema that the server publishes at ``GET /api/v1/schema``, without a server.

``python -m dockstate.schema`` prints it (sorted keys, so that its output is stable); the web
UI's ``web/scripts/gen-types.mjs`` turns it into TypeScript types. The schemas themselves come
from the pydantic models (dockstate.protocol, dockstate.state) via the server's own
:func:`dockstate.server._schema.schemas`: one source, never written twice.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .server._schema import schemas

__all__ = ["json_schema", "main"]


def json_schema() -> dict[str, Any]:
    """Every schema of ``/api/v1/schema``: ``protocol``, then ``client_messages`` and
    ``server_messages`` (by message ``type``), ``entities``, ``types`` and ``rest`` (by name),
    each a self-contained JSON Schema."""
    return schemas()


def main() -> int:
    """Print :func:`json_schema` as JSON on stdout."""
    json.dump(json_schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
