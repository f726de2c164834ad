"""Packaging only: a wheel of dockstate must ship the built web UI (``dockstate/web_dist``).

The UI is built by ``cd web && npm ci && npm run build`` into ``src/dockstate/web_dist`` (build
output, not in git). A wheel or sdist built without it would install a server whose ``/`` says
"the web UI has not been built" on a machine that has no node to build it, so such a build
fails here instead. An editable install (``pip install -e .``, the development setup) serves
the UI from the source tree and does not need it yet.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

UI_INDEX = Path(__file__).parent / "src" / "dockstate" / "web_dist" / "index.html"
MISSING_UI = (
    f"dockstate: the built web UI is missing ({UI_INDEX} does not exist); a wheel without it "
    "would serve no UI. Build it first: cd web && npm ci && npm run build"
)


def _require_ui() -> None:
    if not UI_INDEX.is_file():
        raise SystemExit(MISSING_UI)


class BuildPyWithUI(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            _require_ui()
        super().run()


class SdistWithUI(sdist):
    def run(self) -> None:
        _require_ui()
        super().run()


setup(cmdclass={"build_py": BuildPyWithUI, "sdist": SdistWithUI})
