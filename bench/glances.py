"""Glances as a contender: installed from PyPI into its own virtualenv, run as a web server.

The suite installs ``glances[web]`` and the Docker part of its ``containers`` extra (``docker``,
``python-dateutil``, ``six``, ``packaging``) into ``bench/.venv-glances`` the first time it is
needed, then starts ``glances -w --disable-webui`` on a free loopback port with only its
containers plugin enabled, ``all=True`` (so that created and exited containers show too: by
default Glances lists running containers only), ``--time 1`` (a refresh period of one second,
like the polling baseline's; Glances' default is 2 s), and ``DOCKER_HOST`` pointed where the
scenario says. Glances refreshes its containers plugin when its REST API is asked and the last
refresh ended at least a second ago: what it shows is as fresh as its readers make it. A refresh
lists the containers and inspects each one; Glances also keeps a stats stream open per
container.

When Glances cannot be installed or started, :class:`GlancesUnavailable` says why; scenarios
report that in their table and go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .harness import ROOT, free_port, log

__all__ = ["Glances", "GlancesUnavailable", "ensure_glances"]

VENV = ROOT / "bench" / ".venv-glances"
REQUIREMENTS = ["glances[web]>=4.3", "docker>=6.1.1", "python-dateutil", "six", "packaging"]
CONFIG = "[containers]\ndisable=False\nall=True\n"


class GlancesUnavailable(Exception):
    """Glances cannot be installed or started here; the message says why."""


_install_failure: str | None = None


def ensure_glances() -> Path:
    """The ``glances`` program, installed on first use.

    Raises:
        GlancesUnavailable: installing failed (the reason is kept for later calls).
    """
    global _install_failure
    program = VENV / "bin" / "glances"
    stamp = VENV / ".bench-stamp"
    wanted = " ".join(REQUIREMENTS)
    if program.exists() and stamp.exists() and stamp.read_text() == wanted:
        return program
    if _install_failure:
        raise GlancesUnavailable(_install_failure)
    log(f"installing Glances into {VENV} (once)")
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [
            str(VENV / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "--retries",
            "2",
            "--timeout",
            "30",
            *REQUIREMENTS,
        ],
    ]
    for step in steps:
        try:
            result = subprocess.run(step, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as err:
            _install_failure = f"could not install Glances: {err}"
            raise GlancesUnavailable(_install_failure) from None
        if result.returncode != 0:
            lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("WARNING")]
            _install_failure = "could not install Glances: " + (lines[-1] if lines else "failed")
            raise GlancesUnavailable(_install_failure)
    stamp.write_text(wanted)
    return program


def glances_version() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [str(VENV / "bin" / "python"), "-c", "import glances; print(glances.__version__)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip() or None
    return None


class Glances:
    """A running ``glances -w`` and an HTTP client of its REST API (``/api/4``).

    ``async with Glances(docker_host) as glances:``; :attr:`ready_seconds` is the time from
    the start of the process to its first answer listing the containers.
    """

    def __init__(self, docker_host: str | None = None) -> None:
        self.docker_host = docker_host
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0
        self._dir = tempfile.TemporaryDirectory(prefix="bench-glances-")
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}/api/4", timeout=120)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def __aenter__(self) -> Glances:
        try:
            await self.start()
        except GlancesUnavailable:
            await self.stop()
            raise
        except Exception as err:
            await self.stop()
            raise GlancesUnavailable(f"could not start Glances: {err}") from err
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, timeout: float = 180) -> None:  # noqa: ASYNC109
        program = await asyncio.to_thread(ensure_glances)
        home = Path(self._dir.name)
        config = home / "glances.conf"
        config.write_text(CONFIG)
        env = {**os.environ, "XDG_CACHE_HOME": str(home)}
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        args = [str(program), "-C", str(config), "-w", "--disable-webui"]
        args += ["--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--disable-plugin", "all", "--enable-plugin", "containers", "--time", "1"]
        t0 = time.perf_counter()
        with (home / "stderr.log").open("wb") as stderr:
            self.process = subprocess.Popen(  # noqa: ASYNC220 (we poll it, never wait on it)
                args, stdout=subprocess.DEVNULL, stderr=stderr, env=env
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise GlancesUnavailable(
                    f"glances exited with {self.process.returncode}: " + self._tail()
                )
            with contextlib.suppress(httpx.HTTPError):
                response = await self.http.get("/containers", timeout=timeout)
                if response.status_code == 200 and response.json():
                    self.ready_seconds = time.perf_counter() - t0
                    return
            await asyncio.sleep(0.2)
        raise GlancesUnavailable(
            f"glances did not list containers within {timeout:.0f} s: " + self._tail()
        )

    def _tail(self) -> str:
        home = Path(self._dir.name)
        for name in ("glances/glances.log", "stderr.log"):
            with contextlib.suppress(OSError):
                lines = [
                    ln
                    for ln in (home / name).read_text(errors="replace").splitlines()
                    if "ERROR" in ln or "Error" in ln or "Traceback" in ln
                ]
                if lines:
                    return lines[-1][-200:]
        return "(no error logged)"

    async def containers(self) -> list[dict[str, Any]]:
        """What Glances shows now: ``GET /api/4/containers``."""
        response = await self.http.get("/containers")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def stop(self) -> None:
        await self.http.aclose()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        self._dir.cleanup()


def view_of(containers: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Glances' containers as ``{id: (name, state)}``."""
    return {c["id"]: (c.get("name", ""), c.get("status", "")) for c in containers if "id" in c}
