"""An engine over TLS 1.3 that asks for a client certificate refuses its absence after the
handshake: the client sees the connection end, either as an answer cut short or as a failed
read, whichever the scheduler lets come first. Both must name the likely cause (a CI run got
the second and a bare "ReadError"). A listener on loopback, certificates made by trustme."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
import trustme

from dockstate.engine import DockerClient
from dockstate.errors import EngineUnavailable


async def test_a_refused_client_certificate_is_named_whatever_the_close_looks_like() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED  # as dockerd --tlsverify

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read(1)  # the handshake's end: the refusal
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0, ssl=server_context)
    async with server:
        port = server.sockets[0].getsockname()[1]
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)  # trusts the engine, has no certificate of its own
        docker = DockerClient(f"tcp://127.0.0.1:{port}", tls=client_context)
        try:
            for _ in range(5):
                with pytest.raises(EngineUnavailable) as refused:
                    await docker.ping()
                assert "check cert.pem and key.pem in DOCKER_CERT_PATH" in str(refused.value)
        finally:
            await docker.aclose()
