"""`pip install dockstate` from a built wheel: the web UI comes inside, no node needed.

Builds the wheel with ``python -m build`` (after ``npm run build``, which scripts/test runs
first), installs it into a clean virtualenv (no editable install, no source tree on the path),
serves the test engine from that virtualenv with a PATH that has no node on it, and loads ``/``
in Debian's headless Chromium: the sign-in URL, then the app, whose script and stylesheet are
served from inside the installed package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_harness import free_port

pytestmark = [pytest.mark.integration, pytest.mark.install]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def step(name: str, start: float) -> None:
    print(f"  {name}: {time.monotonic() - start:.1f} s", file=sys.stderr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "src/dockstate/web_dist/index.html").is_file():
        pytest.fail(
            "the web UI is not built: cd web && npm ci && npm run build (scripts/test does)"
        )
    out = tmp_path_factory.mktemp("dist")
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    step("python -m build --wheel", start)
    (built,) = out.glob("dockstate-*.whl")
    return built


def test_the_wheel_holds_the_built_ui(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "dockstate/web_dist/index.html" in names
    assert any(re.fullmatch(r"dockstate/web_dist/assets/.+\.js", n) for n in names), names
    built = {str(p.relative_to(ROOT / "src")) for p in (ROOT / "src/dockstate/web_dist").rglob("*")}
    assert {n for n in built if n.rpartition(".")[2] in {"html", "js", "css"}} <= set(names)


def test_a_wheel_without_the_ui_is_refused(tmp_path: Path) -> None:
    """A build from a tree without web_dist fails and says how to build the UI."""
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(
            "web",
            "web_dist",
            ".venv",
            ".git",
            "tests",
            "bench",
            "docs",
            "*.egg-info",
            "build",
            ".*_cache",
            ".hypothesis",
            ".coverage*",
            "dist",
        ),
    )
    res = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "out"), str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode != 0
    assert "the built web UI is missing" in res.stdout + res.stderr
    assert "npm run build" in res.stdout + res.stderr
    assert not list((tmp_path / "out").glob("*.whl"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    step("a clean virtualenv with the wheel", start)
    return venv


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    port, token = free_port(), "wheel-test-token-0123456789"
    env = {
        # Only the virtualenv's bin: no node (it is in /usr/bin here), no source tree.
        "PATH": str(installed / "bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    assert shutil.which("node", path=env["PATH"]) is None
    assert shutil.which("npm", path=env["PATH"]) is None
    start = time.monotonic()
    proc = subprocess.Popen(
        [
            str(installed / "bin/dockstate"),
            "serve",
            "--port",
            str(port),
            "--token",
            token,
            "--no-db",
        ],
        env=env,
        cwd=tmp_path,  # not the source tree: the package comes from the virtualenv
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed server did not answer"
            time.sleep(0.2)
        step("the installed dockstate serve answering", start)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_the_installed_wheel_serves_the_ui(installed: Path, served: tuple[str, str]) -> None:
    url, token = served
    # Served from the installed package, not from this source tree.
    where = subprocess.run(
        [str(installed / "bin/python"), "-c", "import dockstate; print(dockstate.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout
    assert where.startswith(str(installed)), where

    # The page and each of its assets, signed in with the token.
    auth = {"Authorization": f"Bearer {token}"}
    page = httpx.get(f"{url}/", headers=auth, timeout=10)
    assert page.status_code == 200
    assert '<div id="root">' in page.text
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets), page.text
    for asset in assets:
        got = httpx.get(f"{url}{asset}", headers=auth, timeout=10)
        assert got.status_code == 200, asset
        assert len(got.content) > 100, asset

    # A browser: the printed sign-in URL, the redirect, the cookie, the app rendered by its
    # script (the DOM after it ran, not the served HTML).
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no {CHROMIUM}: apt-get install chromium (scripts/test does)")
    start = time.monotonic()
    with_browser = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={Path(str(installed)).parent / 'chromium'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{url}/?token={token}",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    step("Chromium: sign in and render /", start)
    dom = with_browser.stdout
    # The app sets the title itself ("dockstate", or "dockstate (connecting)" and the like).
    assert "<title>dockstate" in dom, with_browser.stderr[-2000:]
    root = re.search(r'<div id="root">(.*)</body>', dom, re.S)
    assert root, dom[:2000]
    rendered = root.group(1)
    assert len(rendered) > 200, f"the app's root stayed empty: {dom[:2000]}"
    assert "<main" in rendered, rendered[:2000]
    assert "Sign in" not in dom
    assert "has not been built" not in dom
