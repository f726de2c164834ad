"""A real Docker registry on this machine for the pull tests (pytest's and the browser's):
Debian's docker-registry on a loopback port of its own (Docker takes 127.0.0.0/8 registries as
insecure by default, so the shared engine needs no flag), images of the test image plus two
layers of random bytes pushed to it and removed locally, and a throttling TCP proxy in front
of it so that a pull lasts a few seconds and its progress can be watched.

Run as a script (``python tests/server/registry_harness.py --label K=V``), for the browser
tests: it starts a registry, pushes one image, starts a proxy, prints one JSON line
``{"image": "127.0.0.1:<proxy>/<repo>", "registry": <port>}`` and serves until its stdin
closes; then it stops both, removes what it made and the image if it was pulled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from server_harness import ROOT, free_port

REGISTRY = "/usr/bin/docker-registry"
TEST_IMAGE = "dockstate-test/busybox:latest"
#: Bytes of random data in each of an image's two layers of its own (on top of busybox's).
LAYER_BYTES = 1_500_000


@dataclass
class Registry:
    port: int
    root: Path
    #: Repositories pushed, by role (e.g. ``main``: pulled whole, ``broken``: a blob to delete).
    repos: dict[str, str]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def manifest(self, repo: str) -> dict[str, Any]:
        name, tag = repo.rsplit(":", 1)
        response = httpx.get(
            f"http://{self.host}/v2/{name}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        response.raise_for_status()
        manifest: dict[str, Any] = response.json()
        return manifest

    def delete_blob(self, digest: str) -> None:
        hexdigest = digest.removeprefix("sha256:")
        blob = self.root / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest
        shutil.rmtree(blob)


def _ensure_registry_installed() -> None:
    if not os.access(REGISTRY, os.X_OK):
        subprocess.run(
            ["bash", "-c", f"source {ROOT}/scripts/lib.sh && ensure_registry"], check=True
        )


def _build_and_push(host: str, repo: str, workdir: Path, label: str) -> None:
    """An image of busybox plus two layers of random bytes, pushed as ``host/repo`` and then
    removed from the engine (so a pull must fetch its layers)."""
    context = workdir / repo.replace("/", "_").replace(":", "_")
    context.mkdir()
    (context / "a").write_bytes(secrets.token_bytes(LAYER_BYTES))
    (context / "b").write_bytes(secrets.token_bytes(LAYER_BYTES))
    (context / "Dockerfile").write_text(f"FROM {TEST_IMAGE}\nCOPY a /a\nCOPY b /b\n")
    tag = f"{host}/{repo}"
    subprocess.run(
        ["docker", "build", "-q", "--label", label, "-t", tag, str(context)],
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    subprocess.run(["docker", "push", tag], check=True, capture_output=True)
    subprocess.run(["docker", "rmi", tag], check=True, capture_output=True)


@contextlib.contextmanager
def running_registry(roles: tuple[str, ...], label: str) -> Iterator[Registry]:
    """A registry with one image pushed per role (``dst-pull-<role>:<random tag>``), labelled
    ``label`` (``key=value``); stopped and wiped on exit."""
    _ensure_registry_installed()
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="dockstate-registry-"))
    root = workdir / "storage"
    config = workdir / "config.yml"
    config.write_text(
        json.dumps(  # YAML takes JSON
            {
                "version": 0.1,
                "log": {"level": "error", "accesslog": {"disabled": True}},
                "storage": {"filesystem": {"rootdirectory": str(root)}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    process = subprocess.Popen(
        [REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, "docker-registry exited"
            assert time.monotonic() < deadline, "docker-registry did not answer within 20 s"
            time.sleep(0.1)
        tag = secrets.token_hex(4)
        repos = {role: f"dst-pull-{role}:{tag}" for role in roles}
        for repo in repos.values():
            _build_and_push(f"127.0.0.1:{port}", repo, workdir, label)
        yield Registry(port, root, repos)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


class Proxy:
    """A TCP proxy to the registry on a port of its own, sending the registry's answers on
    at ``rate`` bytes a second, after ``delay`` seconds on each new connection."""

    def __init__(self, upstream: int, rate: float, delay: float = 0.0) -> None:
        self.upstream, self.rate, self.delay = upstream, rate, delay
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(self.delay)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        for task in (
            asyncio.create_task(self._pump(reader, up_writer, None)),
            asyncio.create_task(self._pump(up_reader, writer, self.rate)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rate: float | None
    ) -> None:
        try:
            while data := await reader.read(16 * 1024):
                writer.write(data)
                await writer.drain()
                if rate:
                    await asyncio.sleep(len(data) / rate)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()


async def _serve_until_stdin_closes(registry: Registry, rate: float) -> None:
    async with Proxy(registry.port, rate=rate) as proxy:
        image = f"127.0.0.1:{proxy.port}/{registry.repos['main']}"
        print(json.dumps({"image": image, "registry": registry.port}), flush=True)
        try:
            await asyncio.to_thread(sys.stdin.read)
        finally:
            await asyncio.to_thread(
                subprocess.run, ["docker", "rmi", "-f", image], capture_output=True, check=False
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", required=True, help="key=value: the label of what it builds")
    parser.add_argument("--rate", type=float, default=600_000, help="bytes a second")
    args = parser.parse_args()
    with running_registry(("main",), args.label) as registry:
        asyncio.run(_serve_until_stdin_closes(registry, args.rate))


if __name__ == "__main__":
    main()
