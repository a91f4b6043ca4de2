"""The control socket under hostile or broken clients (issue 15, finding 7), over real Unix sockets in a
temp dir: a request that breaks the parser, a handler that fails, an idle or trickling client, too many
clients at once. Each gets one clean error reply, and status keeps being answered. Plus the parser
fuzzed: any bytes are a request or one of its documented errors, never an exception."""
from __future__ import annotations

import json
import logging
import os
import select
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.agent import control
from mxone_maintenance.agent.control_requests import (
    ERRORS,
    MAX_REQUEST,
    NOT_JSON,
    TOO_DEEP,
    TOO_LONG,
    Invalid,
    Request,
    encode_reply,
    parse_request,
    too_slow,
)

STATUS = {"ok": True, "node": "sb1", "cluster": "c1"}


class Boom(Exception):
    pass


def _boom(_request: dict) -> dict:
    raise Boom("handler bug")


HANDLERS = {
    "status": lambda _request: dict(STATUS),
    "echo": lambda request: {"ok": True, "got": request},
    "boom": _boom,
    "unsendable": lambda _request: {"ok": True, "thing": object()},
    "not-a-dict": lambda _request: ["ok"],
}


@pytest.fixture
def served(tmp_path):
    servers: list[control.ControlServer] = []

    def serve(handlers=HANDLERS, **kwargs) -> Path:
        server = control.ControlServer(tmp_path / "ctl.sock", handlers, allowed=lambda uid: True, **kwargs)
        servers.append(server)
        return server.path
    yield serve
    for server in servers:
        server.close()


def raw_ask(path: Path, data: bytes, timeout: float = 3.0) -> dict:
    """Send any bytes as a client would, end our side, read the whole reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return _read_reply(sock)


def _read_reply(sock: socket.socket) -> dict:
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    assert reply.endswith(b"\n") and reply.count(b"\n") == 1, reply[:200]
    answer = json.loads(reply)
    assert isinstance(answer, dict) and isinstance(answer["ok"], bool)
    return answer


def status_is_answered(path: Path) -> None:
    assert control.ask(path, {"cmd": "status"}, timeout=1.5) == STATUS


# --- one request that breaks something ---------------------------------------------------------------

def test_3000_open_brackets_get_an_error_and_the_next_status_is_answered(served):
    path = served()
    assert raw_ask(path, b"[" * 3000 + b"\n") == {"ok": False, "error": TOO_DEEP}
    status_is_answered(path)
    assert raw_ask(path, b'{"cmd": ' * 3000 + b"\n")["error"] == TOO_DEEP
    status_is_answered(path)


@pytest.mark.parametrize("data, error", [
    (b"\xff\xfe{}\n", NOT_JSON),
    (b'{"cmd": "fallback", "lim": ' + b"9" * 5000 + b"}\n", NOT_JSON),   # over Python's int digit limit
    (b'{"cmd": "status", "pad": "' + b"x" * (MAX_REQUEST + 10) + b'"}\n', TOO_LONG),
    (b" " * (3 * MAX_REQUEST), TOO_LONG),                                 # no newline, never ends
    (b"", NOT_JSON),
    (b"[1, 2]\n", 'request must be an object with "cmd"'),
])
def test_a_bad_request_gets_one_error_and_serving_goes_on(served, data, error):
    path = served()
    assert raw_ask(path, data) == {"ok": False, "error": error}
    status_is_answered(path)


@pytest.mark.parametrize("cmd", ["boom", "unsendable", "not-a-dict"])
def test_a_failing_handler_is_answered_logged_once_and_serving_goes_on(served, caplog, cmd):
    path = served()
    with caplog.at_level(logging.INFO, logger="mxone-cluster-agent"):
        reply = control.ask(path, {"cmd": cmd}, timeout=1.5)
        status_is_answered(path)
    assert reply["ok"] is False and reply["error"].startswith("internal error")
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_a_long_unknown_command_is_named_shortly(served):
    path = served()
    reply = control.ask(path, {"cmd": "x" * 10_000}, timeout=1.5)
    assert reply["error"].startswith("unknown command 'xxx") and len(reply["error"]) < 200


# --- slow, idle and many clients -----------------------------------------------------------------------

def _still_open_and_unanswered(sock: socket.socket) -> bool:
    return not select.select([sock], [], [], 0)[0]


def test_an_idle_connection_does_not_delay_another_clients_status(served):
    path = served()   # the default 2 s deadline
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(path))
        time.sleep(0.2)                      # the server has taken the idle one first
        status_is_answered(path)
        assert _still_open_and_unanswered(idle)
        idle.settimeout(4)
        assert _read_reply(idle) == {"ok": False, "error": too_slow(control.CONNECTION_DEADLINE_S)}


def test_a_trickling_client_is_cut_off_by_the_overall_deadline(served):
    path = served()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as slow:
        slow.connect(str(path))
        start = time.monotonic()
        asked = False
        while time.monotonic() - start < 8:
            try:
                slow.send(b" ")              # a byte every 0.25 s: no per-byte timeout ever fires
            except OSError:
                break
            if select.select([slow], [], [], 0.25)[0]:
                break
            if not asked and time.monotonic() - start > 0.5:
                status_is_answered(path)     # answered while the trickler is served
                assert _still_open_and_unanswered(slow)
                asked = True
        cut_after = time.monotonic() - start
        slow.settimeout(1)
        assert _read_reply(slow) == {"ok": False, "error": too_slow(control.CONNECTION_DEADLINE_S)}
    assert asked and cut_after < control.CONNECTION_DEADLINE_S + 2


def test_many_clients_at_once_are_all_answered(served):
    path = served()
    replies: list[dict] = []

    def client() -> None:
        replies.append(control.ask(path, {"cmd": "status"}, timeout=5))
    clients = [threading.Thread(target=client) for _ in range(3 * control.MAX_CONNECTIONS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(10)
    assert replies == [STATUS] * len(clients)


@pytest.mark.parametrize("max_connections", [1, 4])
def test_a_handler_that_hangs_gets_others_a_busy_answer_not_a_hang(served, max_connections):
    """One connection slot (1) or the handlers' lock (4) held by a hung handler: busy, in bounded time."""
    entered, release = threading.Event(), threading.Event()

    def hang(_request: dict) -> dict:
        entered.set()
        release.wait(5)
        return {"ok": True, "hung": True}
    path = served({**HANDLERS, "hang": hang}, deadline_s=0.5, max_connections=max_connections)
    hung: list[dict] = []
    first = threading.Thread(target=lambda: hung.append(control.ask(path, {"cmd": "hang"}, timeout=6)))
    first.start()
    try:
        assert entered.wait(3)
        assert control.ask(path, {"cmd": "status"}, timeout=3) == {"ok": False, "error": control.BUSY}
    finally:
        release.set()
        first.join(6)
    assert hung == [{"ok": True, "hung": True}]
    status_is_answered(path)


def test_only_the_allowed_peer_uid_is_answered(tmp_path):
    """SO_PEERCRED's uid decides, as before: root only by default (here: a refusing check)."""
    seen: list[int] = []

    def allowed(uid: int) -> bool:
        seen.append(uid)
        return False
    server = control.ControlServer(tmp_path / "ctl.sock", HANDLERS, allowed=allowed)
    try:
        assert server.path.stat().st_mode & 0o777 == 0o600
        reply = control.ask(server.path, {"cmd": "status"}, timeout=1.5)
        assert reply == control.refusal(os.getuid()) and seen == [os.getuid()]
        assert raw_ask(server.path, b"[" * 3000 + b"\n") == control.refusal(os.getuid())
    finally:
        server.close()
    assert control.peer_allowed(0) and not control.peer_allowed(os.getuid() or 1000)


# --- the parser, fuzzed ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
commands = st.sampled_from(["status", "fallback", "sync", "reload"]) | st.text(max_size=30)
requests = st.builds(lambda cmd, extra: {**extra, "cmd": cmd}, commands,
                     st.dictionaries(st.text(max_size=8), json_values, max_size=3))
request_lines = requests.map(lambda request: json.dumps(request).encode())


def _spliced(line_and_garbage: tuple[bytes, bytes, int]) -> bytes:
    line, garbage, at = line_and_garbage
    at %= len(line) + 1
    return line[:at] + garbage + line[at:]


any_bytes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    request_lines,
    st.tuples(request_lines, st.binary(min_size=1, max_size=8), st.integers(0, 10_000)).map(_spliced),
    st.tuples(st.sampled_from([b"[", b"{", b'{"cmd": ', b'{"a": [']), st.integers(0, 5000)).map(
        lambda piece_n: piece_n[0] * piece_n[1]),
    st.integers(4000, 6000).map(lambda n: b'{"cmd": "fallback", "lim": ' + b"9" * n + b"}"),
    st.integers(MAX_REQUEST - 3, MAX_REQUEST + 3).map(lambda n: b'{"cmd":"' + b"s" * (n - 10) + b'"}'),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(any_bytes)
def test_any_bytes_parse_to_a_request_or_a_documented_error(raw):
    result = parse_request(raw)
    if isinstance(result, Invalid):
        assert result.error in ERRORS
        assert result.reply() == {"ok": False, "error": result.error}
    else:
        assert isinstance(result, Request) and isinstance(result.cmd, str)
        assert isinstance(result.fields, dict) and result.fields["cmd"] == result.cmd


@given(requests)
def test_a_request_line_parses_to_itself(request):
    assert parse_request(json.dumps(request).encode()) == Request(request["cmd"], request)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(any_bytes)
def test_any_bytes_get_one_reply_line_that_the_client_reads(raw):
    reply = control.handle_request(raw, HANDLERS)
    line = encode_reply(reply)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    answer = json.loads(line)
    assert isinstance(answer, dict) and isinstance(answer["ok"], bool)


def test_any_bytes_over_the_real_socket_get_one_reply_and_status_still_answers(served):
    path = served()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(any_bytes)
    def check(raw):
        raw_ask(path, raw)
    check()
    status_is_answered(path)
