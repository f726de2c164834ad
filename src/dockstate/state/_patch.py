"""RFC 6902 JSON Patch between two versions of an entity's JSON.

Why not ``jsonpatch.make_patch``: its list diff is quadratic, and derived lists (the ids of
the containers using an image or a network) hold thousands of items at 1000+ containers, which
made one container creation cost milliseconds. Entity JSON has two kinds of lists: sorted lists
of unique strings (ids, tags), diffed item by item here in one linear merge, and small lists of
objects (ports, mounts), replaced whole. Patches are applied by any RFC 6902 library.
"""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["make_patch"]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def make_patch(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """The operations that turn ``old`` into ``new`` (JSON values), relative to ``path``."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict[str, Any]] = []
        for key in old.keys() - new.keys():
            ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, value in new.items():
            where = f"{path}/{_escape(key)}"
            if key not in old:
                ops.append({"op": "add", "path": where, "value": value})
            else:
                ops.extend(make_patch(old[key], value, where))
        return ops
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and _sorted_strings(old)
        and _sorted_strings(new)
    ):
        return _merge_diff(old, new, path)
    return [{"op": "replace", "path": path, "value": new}]


def _sorted_strings(items: list[Any]) -> bool:
    return all(isinstance(x, str) for x in items) and all(
        a < b for a, b in itertools.pairwise(items)
    )


def _merge_diff(old: list[str], new: list[str], path: str) -> list[dict[str, Any]]:
    """Item by item, for two strictly sorted lists of strings; indexes follow the patched list."""
    ops: list[dict[str, Any]] = []
    i = j = at = 0
    while i < len(old) or j < len(new):
        if j >= len(new) or (i < len(old) and old[i] < new[j]):
            ops.append({"op": "remove", "path": f"{path}/{at}"})
            i += 1
        elif i >= len(old) or new[j] < old[i]:
            ops.append({"op": "add", "path": f"{path}/{at}", "value": new[j]})
            j += 1
            at += 1
        else:
            i, j, at = i + 1, j + 1, at + 1
    return ops
