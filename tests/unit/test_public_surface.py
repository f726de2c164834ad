"""Each package's ``__all__`` is exactly what it exports: every name in it exists, and every
public name it holds (other than its own submodules) is in it; each private module's
``__all__`` names only what it defines or re-exports on purpose."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from types import ModuleType

import pytest

import dockstate

PACKAGES = sorted(
    name
    for _, name, is_package in pkgutil.walk_packages(dockstate.__path__, "dockstate.")
    if is_package
)
MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(dockstate.__path__, "dockstate."))


def public_names(module: ModuleType) -> set[str]:
    """The public names a module holds, but its submodules and what it takes from typing."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and not (hasattr(typing, name) and getattr(typing, name) is value)
        and name != "annotations"
    }


def test_every_package_is_checked() -> None:
    assert {"dockstate.state", "dockstate.engine", "dockstate.server"} <= set(PACKAGES)
    assert {"dockstate.store", "dockstate.client"} <= set(PACKAGES)


@pytest.mark.parametrize("name", ["dockstate", *PACKAGES])
def test_a_package_exports_exactly_its_all(name: str) -> None:
    package = importlib.import_module(name)
    exported = set(package.__all__)
    assert len(exported) == len(package.__all__), "a name appears twice in __all__"
    missing = {n for n in exported if not hasattr(package, n)}  # lazy attributes count
    assert not missing, f"in __all__ but missing: {missing}"
    unlisted = public_names(package) - exported
    assert not unlisted, f"public but not in __all__: {unlisted}"


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_what_it_exports(name: str) -> None:
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    if name.endswith("__main__"):
        return
    assert declared is not None, f"{name} has no __all__"
    missing = {n for n in declared if not hasattr(module, n)}
    assert not missing, f"{name}: in __all__ but missing: {missing}"
