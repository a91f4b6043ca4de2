"""A server that dies under a change: every SSH connection watches for a dead peer (the lab test
test_a_server_dying_while_staging shows it on a real power cut), and its errors read as one line."""
from __future__ import annotations

import socket

import paramiko
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.utility.remote.ssh import DEAD_PEER_S, KEEPALIVE_IDLE_S, reason, watch_for_a_dead_peer


def test_every_connection_drops_a_peer_that_acknowledges_nothing_for_10_s() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with server, socket.create_connection(server.getsockname()) as sock:
        watch_for_a_dead_peer(sock)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == DEAD_PEER_S * 1000 == 10_000
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE_S
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_the_reason_has_no_dangling_colon_and_is_never_empty() -> None:
    assert reason(paramiko.SSHException("Server connection dropped: ")) == "Server connection dropped"
    assert reason(EOFError()) == "EOFError"
    assert reason(OSError(113, "No route to host")) == "No route to host"


@given(st.text(max_size=40))
def test_any_reason_is_one_stripped_non_empty_text(text):
    said = reason(paramiko.SSHException(text))
    assert said and said == said.strip() and not said.endswith(":")
