"""``ssh://user@host[:port]`` engines, the way the Docker CLI reaches them: every connection
runs ``ssh … user@host -- docker system dial-stdio`` and speaks the Engine API over its
standard input and output. So the user's ssh (its config, agent, keys, known hosts, jump
hosts) decides everything about the link, and nothing is installed on the host but what
``docker`` already is. (asyncssh would be one more implementation of ssh, with its own reading
of the config and the agent, and a dependency; the ssh binary is what Docker itself uses.)

:class:`SSHTunnel` serves a private unix socket; the HTTP client connects to it as to a local
engine, and each connection is piped to a fresh ``ssh`` process. ``$DOCKSTATE_SSH`` replaces
the ``ssh`` command (e.g. ``ssh -F /etc/dockstate/ssh_config``), as ``GIT_SSH_COMMAND`` does
for git. ssh runs with ``BatchMode=yes``: a key it may not use, or a host key it does not
know, fails at once instead of prompting; :attr:`SSHTunnel.last_error` says which, in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import tempfile
from urllib.parse import urlsplit

import httpx

__all__ = ["SSHTunnel", "TunnelTransport"]

#: The command run on the host (Docker's own, since Docker 18.09).
DIAL = ("docker", "system", "dial-stdio")


class SSHTunnel:
    """A local unix socket whose every connection is an ``ssh … docker system dial-stdio``.

    Raises:
        ValueError: ``url`` is not ``ssh://[user@]host[:port]``.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"not an ssh engine address: {url!r} (ssh://user@host[:port])")
        self.url = url
        self.target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
        self.port = parts.port
        self._dir = tempfile.mkdtemp(prefix="dockstate-ssh-")
        self.path = os.path.join(self._dir, "docker.sock")
        #: The last line ssh (or the host's docker) wrote on failing, in words.
        self.last_error: str | None = None
        self._server: asyncio.Server | None = None
        self._starting = asyncio.Lock()
        self._pipes: set[asyncio.Task[None]] = set()

    def command(self) -> list[str]:
        ssh = shlex.split(os.environ.get("DOCKSTATE_SSH") or "ssh")
        port = ["-p", str(self.port)] if self.port else []
        return [*ssh, "-o", "BatchMode=yes", *port, "--", self.target, *DIAL]

    async def start(self) -> None:
        """Listen (once; later calls return at once)."""
        if self._server is not None:
            return
        async with self._starting:
            if self._server is None:
                self._server = await asyncio.start_unix_server(self._accept, path=self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        shutil.rmtree(self._dir, ignore_errors=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            await self._pipe(reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            self._pipes.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ssh = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C of the server's terminal is the server's
            )
        except OSError as err:
            self.last_error = f"cannot run ssh: {err.strerror or err}"
            return
        stdin, stdout, stderr = ssh.stdin, ssh.stdout, ssh.stderr
        assert stdin is not None
        assert stdout is not None
        assert stderr is not None

        async def up() -> None:
            while data := await reader.read(65536):
                stdin.write(data)
                await stdin.drain()
            stdin.close()

        async def down() -> None:
            while data := await stdout.read(65536):
                self.last_error = None  # the host answered: the link works
                writer.write(data)
                await writer.drain()

        pumps = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
        try:
            await pumps[1]  # the host's side ending ends the exchange
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            with contextlib.suppress(ProcessLookupError):
                ssh.kill()
            error = (await stderr.read()).decode(errors="replace")
            status = await ssh.wait()
            if status not in (0, -9):
                self.last_error = _explain(self.target, error, status)


def _explain(target: str, stderr: str, status: int) -> str:
    """ssh's failure in one line: which of the usual ones it is, and ssh's own words."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else f"ssh exited with {status}"
    text = " ".join(lines)
    if "Host key verification failed" in text:
        return (
            f"the ssh host key of {target} is unknown or has changed ({last}); "
            f"check it and add it to known_hosts (ssh {target} once)"
        )
    if "Permission denied" in text:
        return f"ssh refused our key for {target} ({last})"
    if "dial-stdio" in text or "command not found" in text or status == 127:
        return f"{target} has no docker CLI that can dial-stdio ({last})"
    return f"ssh to {target} failed: {last}"


class TunnelTransport(httpx.AsyncBaseTransport):
    """HTTP over the tunnel's socket, the tunnel started on the first request."""

    def __init__(self, tunnel: SSHTunnel, limits: httpx.Limits) -> None:
        self.tunnel = tunnel
        self._inner = httpx.AsyncHTTPTransport(uds=tunnel.path, limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.tunnel.start()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
        await self.tunnel.close()
