"""make_patch produces RFC 6902 patches that a standard library applies exactly."""

from __future__ import annotations

from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from dockstate.state._patch import make_patch

_keys = st.sampled_from(["a", "b", "c/d", "e~f", "containers", "tags"])
_sorted_ids = st.lists(st.sampled_from([f"id{i:02d}" for i in range(20)]), unique=True).map(sorted)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3) | _sorted_ids,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(old=st.dictionaries(_keys, _json), new=st.dictionaries(_keys, _json))
def test_patch_turns_old_into_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert jsonpatch.apply_patch(old, make_patch(old, new)) == new


@settings(max_examples=200, deadline=None)
@given(old=_sorted_ids, new=_sorted_ids)
def test_sorted_id_lists_change_item_by_item(old: list[str], new: list[str]) -> None:
    patch = make_patch({"ids": old}, {"ids": new})
    assert jsonpatch.apply_patch({"ids": old}, patch) == {"ids": new}
    # One operation per id that came or went: never the whole list again.
    assert len(patch) == len(set(old) ^ set(new))


def test_equal_values_need_no_patch() -> None:
    assert make_patch({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}) == []
