"""Rebuild a state from a snapshot and the changes after it, as a client does. No I/O."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import jsonpatch

from ._kinds import MAP_OF_KIND

__all__ = ["apply_change", "replay"]


def apply_change(state: dict[str, Any], change: dict[str, Any]) -> None:
    """Apply one wire change (protocol.md §4) to ``state``, a protocol EngineState, in place.

    Raises:
        KeyError: the change names an object the state does not hold (a gap: resync).
        jsonpatch.JsonPatchException: the patch does not apply (a gap: resync).
    """
    kind, op, key = change["kind"], change["op"], change["id"]
    if kind == "engine":
        holder, slot = state, key
    else:
        holder, slot = state[MAP_OF_KIND[kind]], key
    if op == "removed":
        del holder[slot]
    elif "object" in change:
        holder[slot] = copy.deepcopy(change["object"])
    else:
        holder[slot] = jsonpatch.apply_patch(holder[slot], change["patch"])
    state["version"] = change["v"]


def replay(snapshot: dict[str, Any], batches: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The state that ``snapshot`` becomes after the wire change batches ``batches``.

    Each batch is ``{"from", "to", "timestamp", "changes"}``; the result's ``version`` and
    ``last_updated`` are the last batch's ``to`` and ``timestamp``. ``snapshot`` is not changed.
    """
    state = copy.deepcopy(snapshot)
    for batch in batches:
        for change in batch["changes"]:
            apply_change(state, change)
        state["version"] = batch["to"]
        state["last_updated"] = batch["timestamp"]
    return state
