"""The server's listening socket (server/_run.py): connections accepted from it let the kernel
hold at most NOTSENT_LOWAT bytes unsent, so that a slow client's backlog stays in the server's
bounded buffers, where it is dropped and counted (the logs flood, docs/architecture.md)."""

from __future__ import annotations

import socket
import sys

import pytest

from dockstate.errors import DockstateError
from dockstate.server._run import NOTSENT_LOWAT, listening_socket


@pytest.mark.skipif(sys.platform != "linux", reason="TCP_NOTSENT_LOWAT as Linux has it")
def test_accepted_connections_hold_little_unsent() -> None:
    with listening_socket("127.0.0.1", 0) as server:
        server.listen()
        with socket.create_connection(server.getsockname()) as _client:
            accepted, _ = server.accept()
            with accepted:
                lowat = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT)
    assert lowat == NOTSENT_LOWAT == 16 * 1024


def test_an_address_in_use_is_one_clear_error() -> None:
    with listening_socket("127.0.0.1", 0) as first:
        first.listen()
        port = first.getsockname()[1]
        with pytest.raises(DockstateError, match=f"could not listen on 127.0.0.1:{port}"):
            listening_socket("127.0.0.1", port).close()
