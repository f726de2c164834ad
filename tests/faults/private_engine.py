"""A Docker engine of a test's own, to kill and restart without touching the shared one.

:class:`PrivateEngine` runs ``dockerd`` with its own data root, exec root (and so its own
containerd), pid file and socket, all under one temporary directory, with no default bridge
and no iptables rules, so that it leaves the host's network alone. Its containers use a bridge
of its own (``--bridge=none`` is not an option: at start, dockerd then *deletes the host's
docker0*, breaking the shared engine). It needs root and the
``dockerd`` binary (:func:`unavailable` says why not, for a skip).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fault_harness import docker_at
from harness import TEST_IMAGE

__all__ = ["PrivateEngine", "unavailable"]

SUPERVISOR = Path(__file__).resolve().parent / "engine_supervisor.py"
SHARED_BRIDGE = "/sys/class/net/docker0"


def unavailable() -> str | None:
    """Why no private engine can run here, or ``None``."""
    if shutil.which("dockerd") is None:
        return "no dockerd binary"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


class PrivateEngine:
    """One private ``dockerd``; :meth:`start` it, :meth:`kill` it, :meth:`start` it again, and
    always :meth:`destroy` it (which removes everything it made).

    dockerd runs under engine_supervisor.py, which reaps what a killed dockerd leaves behind.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dst-dockerd-"))
        self.host = f"unix://{self.root}/docker.sock"
        self.log = self.root / "dockerd.log"
        self.starts = 0
        self.kills = 0
        self.bridge = f"dstbr{secrets.token_hex(3)}"
        self.running = False
        self._supervisor: asyncio.subprocess.Process | None = None
        self._shared_bridge = _shared_bridge_present()

    async def _command(self, verb: str, timeout: float = 60.0) -> str:  # noqa: ASYNC109
        if self._supervisor is None:
            (self.root / "daemon.json").write_text("{}")
            subnet = f"10.213.{secrets.randbelow(250) + 1}.1/24"
            await _ip("link", "add", self.bridge, "type", "bridge")
            await _ip("addr", "add", subnet, "dev", self.bridge)
            await _ip("link", "set", self.bridge, "up")
            dockerd = [
                "dockerd",
                "--config-file", str(self.root / "daemon.json"),
                "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "exec"),
                "--pidfile", str(self.root / "dockerd.pid"),
                "--host", self.host,
                f"--bridge={self.bridge}",
                "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            ]  # fmt: skip
            self._supervisor = await asyncio.create_subprocess_exec(
                sys.executable, str(SUPERVISOR), str(self.root), "--", *dockerd,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
            )  # fmt: skip
        assert self._supervisor.stdin is not None
        assert self._supervisor.stdout is not None
        self._supervisor.stdin.write(verb.encode() + b"\n")
        await self._supervisor.stdin.drain()
        answer = await asyncio.wait_for(self._supervisor.stdout.readline(), timeout)
        if not answer:
            raise RuntimeError(f"the engine supervisor died: {self._tail()}")
        return answer.decode().strip()

    async def start(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Start dockerd and wait until it answers.

        Raises:
            RuntimeError: it did not answer in time (with the end of its log).
        """
        await self._command("start")
        self.starts += 1
        self.running = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if await docker_at(
                self.host, "version", "--format", "{{.Server.Version}}", check=False
            ):
                # The shared engine's bridge must have survived (see the module's docstring).
                assert _shared_bridge_present() == self._shared_bridge, "docker0 was deleted"
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"dockerd did not answer within {timeout} s: {self._tail()}")

    async def kill(self) -> None:
        """SIGKILL dockerd (its containerd dies with it; container shims live on)."""
        assert await self._command("kill") == "killed"
        self.kills += 1
        self.running = False
        # A pid file left by a killed dockerd stops the next one from starting.
        with contextlib.suppress(FileNotFoundError):
            (self.root / "dockerd.pid").unlink()

    async def load_test_image(self) -> None:
        """Copy the test image from the shared engine (no registry is reachable)."""
        saved = await asyncio.create_subprocess_exec(
            "docker", "save", TEST_IMAGE, stdout=asyncio.subprocess.PIPE
        )
        image, _ = await saved.communicate()
        loading = await asyncio.create_subprocess_exec(
            "docker", "-H", self.host, "load", "-q",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await loading.communicate(image)
        assert loading.returncode == 0, "docker load failed"

    async def destroy(self) -> None:
        """Remove every container, stop dockerd, and remove all it left on disk."""
        if self.running:
            containers = (await docker_at(self.host, "ps", "-aq", check=False)).split()
            if containers:
                await docker_at(self.host, "rm", "-f", *containers, check=False)
        if self._supervisor is not None:
            assert self._supervisor.stdin is not None
            self._supervisor.stdin.close()  # it stops dockerd and reaps what is left
            try:
                await asyncio.wait_for(self._supervisor.wait(), 60)
            except TimeoutError:
                self._supervisor.kill()
                await self._supervisor.wait()
        await _ip("link", "del", self.bridge, check=False)
        # dockerd mounts its data root (and container file systems) under our directory.
        await asyncio.to_thread(self._unmount_and_remove)

    def _unmount_and_remove(self) -> None:
        mounts = [
            line.split()[1]
            for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(self.root))
        ]
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log.read_text().splitlines()[-5:])
        return ""


async def _ip(*args: str, check: bool = True) -> None:
    process = await asyncio.create_subprocess_exec(
        "ip", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if check and process.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {err.decode().strip()}")


def _shared_bridge_present() -> bool:
    return os.path.exists(SHARED_BRIDGE)
