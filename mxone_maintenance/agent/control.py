"""The agent's control socket: one JSON request per connection, one JSON reply.

Server: a Unix stream socket (mode 0600); the peer's uid (SO_PEERCRED) must be 0, else the request is
refused. One thread accepts; each connection is answered on a thread of its own (at most
MAX_CONNECTIONS at once: past that, one waits for a free thread and is answered "busy" if none
frees within a deadline), within an overall deadline (CONNECTION_DEADLINE_S for the whole request,
not per byte: an idle or trickling client is answered with an error and cut off), so no client
delays another. A request line is at most MAX_REQUEST bytes; agent/control_requests.py parses it
(any bytes: a request or one error reply).
Every failure in answering one connection is caught, logged once and, where the socket still works,
answered {"ok": false, "error": ...}; the server keeps serving.
The handlers never touch the loop's state directly, and run one at a time: status returns the status
the loop published last (core/contracts/agent_status.py); fallback, sync and reload only queue an
order or set a flag.
Requests: {"cmd": "status"} | {"cmd": "fallback", "lim": N} | {"cmd": "sync"} | {"cmd": "reload"} |
{"cmd": "pause", "stamp": S, "until": U} (maintenance mode until U; U 0 resumes; the newest stamp wins) |
{"cmd": "history", "since": T|null, "limit": N} (the events file's events at or after T, the newest N:
{"ok": true, "events": [...], "truncated": bool}; agent/events/history.py) |
{"cmd": "cluster"} (every member as this agent hears it: core/contracts/cluster_view.py).
"""
from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mxone_maintenance.agent.control_requests import (
    MAX_REQUEST,
    TOO_LONG,
    Invalid,
    Request,
    encode_reply,
    internal_error,
    parse_request,
    too_slow,
    unknown_command,
)
from mxone_maintenance.core.contracts.control_client import CLIENT_TIMEOUT_S, ControlError, ask

log = logging.getLogger("mxone-cluster-agent")

__all__ = ["MAX_REQUEST", "CLIENT_TIMEOUT_S", "CONNECTION_DEADLINE_S", "HISTORY_LIMIT", "ControlError",
           "ControlServer", "agent_handlers", "history_handler", "ask", "handle_request", "peer_allowed", "peer_uid", "refusal"]

CONNECTION_DEADLINE_S = 2.0   # the server: the whole request of one connection, read and answered
SEND_GRACE_S = 0.25           # ... plus this to send the error reply to one that missed it
SKIP_MAX = 1024 * 1024        # an overlong request is read away (not kept) up to this, then cut off
MAX_CONNECTIONS = 16          # connections answered at once; more wait, then are answered "busy"
BUSY = "the agent is busy: too many control connections at once, try again"
_UCRED = struct.Struct("3i")  # pid, uid, gid


def peer_uid(conn: socket.socket) -> int:
    _pid, uid, _gid = _UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return uid


def peer_allowed(uid: int) -> bool:
    """Only root may ask the agent anything: status shows the cluster, orders move LIMs."""
    return uid == 0


def refusal(uid: int) -> dict:
    return {"ok": False, "error": f"permission denied: uid {uid} is not root"}


Handler = Callable[[dict], dict]


def handle_request(raw: bytes | Request | Invalid, handlers: dict[str, Handler]) -> dict:
    """Parse one request and run its handler; every problem becomes an {"ok": false} reply."""
    request = raw if isinstance(raw, (Request, Invalid)) else parse_request(bytes(raw))
    if isinstance(request, Invalid):
        return request.reply()
    handler = handlers.get(request.cmd)
    if handler is None:
        return {"ok": False, "error": unknown_command(request.cmd, list(handlers))}
    try:
        reply = handler(request.fields)
    except Exception as exc:  # noqa: BLE001 - a handler bug answers, it does not kill the server
        log.exception("control request %s failed", request.cmd[:60])
        return internal_error(exc)
    if not isinstance(reply, dict):
        log.error("control request %s answered %s, not an object", request.cmd[:60], type(reply).__name__)
        return internal_error(TypeError(f"the reply is a {type(reply).__name__}, not an object"))
    return reply


class ControlServer:
    """Serves the control socket until close(): one thread accepts, one thread answers each connection."""

    def __init__(self, path: Path, handlers: dict[str, Handler],
                 allowed: Callable[[int], bool] = peer_allowed, deadline_s: float = CONNECTION_DEADLINE_S,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.path, self.handlers, self.allowed = Path(path), handlers, allowed
        self.deadline_s, self.max_connections = deadline_s, max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self._handling = threading.Lock()  # the handlers run one at a time, as on a single control thread
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket() or self.path.exists():
            self.path.unlink()  # a previous run's socket: nobody listens on it any more
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # created 0600: no moment where others could connect
        try:
            self.sock.bind(str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        self.sock.listen(64)
        self._closed = False
        self.thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self.thread.start()

    # --- the accepting thread

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError as exc:
                if self._closed:
                    return
                log.warning("control socket: accept failed: %s", exc)
                time.sleep(0.05)  # e.g. out of file descriptors: do not spin
                continue
            try:
                self._dispatch(conn)
            except Exception:  # noqa: BLE001 - the accepting thread never dies of one connection
                log.exception("control connection could not be answered")
                conn.close()

    def _dispatch(self, conn: socket.socket) -> None:
        """Answer `conn` on a thread of its own once a slot is free (connections finish within their
        deadline, so one frees soon); if none frees within a deadline, answer busy."""
        if not self._wait_for_slot():
            self._answer_busy(conn)
            return
        try:
            threading.Thread(target=self._connection, args=(conn,), name="control-connection",
                             daemon=True).start()
        except RuntimeError:  # no thread to be had
            self._slots.release()
            self._answer_busy(conn)

    def _wait_for_slot(self) -> bool:
        until = time.monotonic() + self.deadline_s
        while not self._closed:
            if self._slots.acquire(timeout=min(0.1, max(until - time.monotonic(), 0.0))):
                return True
            if time.monotonic() >= until:
                return False
        return False

    def _answer_busy(self, conn: socket.socket) -> None:
        log.warning("control socket: %d connections at once, one answered busy", self.max_connections)
        with conn:
            try:
                conn.setblocking(False)
                _drain(conn)
                conn.sendall(encode_reply({"ok": False, "error": BUSY}))  # small: fits, never waits
                _drain(conn)
            except OSError:
                pass

    # --- a connection's thread

    def _connection(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._answer(conn)
        except Exception:  # noqa: BLE001 - logged once; the server keeps serving
            log.exception("control connection failed")
        finally:
            self._slots.release()

    def _answer(self, conn: socket.socket) -> None:
        deadline = time.monotonic() + self.deadline_s
        try:
            uid = peer_uid(conn)
            raw = _read_request(conn, deadline, self.deadline_s)  # read even when refusing: unread data
            reply = self._reply(uid, raw, deadline)                # would reset the reply
        except OSError as exc:
            log.warning("control connection failed: %s", exc)
            return
        except Exception as exc:  # noqa: BLE001 - logged once and answered
            log.exception("control request failed")
            reply = internal_error(exc)
        try:
            conn.settimeout(max(deadline - time.monotonic(), SEND_GRACE_S))
            conn.sendall(encode_reply(reply))
            _drain(conn)
        except OSError as exc:
            log.warning("control reply not sent: %s", exc)

    def _reply(self, uid: int, raw: bytes | Invalid, deadline: float) -> dict:
        if not self.allowed(uid):
            return refusal(uid)
        request = raw if isinstance(raw, Invalid) else parse_request(raw)
        if isinstance(request, Invalid):
            log.warning("control request refused: %s", request.error)
            return request.reply()
        if not self._handling.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            log.error("control request %s: the previous one's handler has not returned", request.cmd[:60])
            return {"ok": False, "error": BUSY}
        try:
            return handle_request(request, self.handlers)
        finally:
            self._handling.release()

    def close(self) -> None:
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=2)
        try:
            self.path.unlink()
        except OSError:
            pass


def _read_request(conn: socket.socket, deadline: float, deadline_s: float) -> bytes | Invalid:
    """Up to one line (or until the client shuts down its side), at most MAX_REQUEST bytes, by the
    connection's deadline (for the whole line, not per byte)."""
    data = bytearray()
    while (end := data.find(b"\n")) < 0 and len(data) <= MAX_REQUEST:
        chunk = _recv(conn, deadline)
        if chunk is None:
            return Invalid(too_slow(deadline_s))
        if not chunk:
            return bytes(data)
        data += chunk
    if end >= 0:
        return bytes(data[:end])  # parse_request() refuses one over MAX_REQUEST
    _skip_line(conn, deadline)    # so the client reads the error reply rather than a reset
    return Invalid(TOO_LONG)


def _recv(conn: socket.socket, deadline: float) -> bytes | None:
    """The next chunk (b"": the client ended), or None once the deadline has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    conn.settimeout(remaining)
    try:
        return conn.recv(65536)
    except TimeoutError:
        return None


def _skip_line(conn: socket.socket, deadline: float) -> None:
    """Read away the rest of an overlong line, unkept: up to SKIP_MAX bytes, by the deadline."""
    skipped = 0
    while skipped < SKIP_MAX:
        chunk = _recv(conn, deadline)
        if not chunk or b"\n" in chunk:
            return
        skipped += len(chunk)


def _drain(conn: socket.socket) -> None:
    """Read, without waiting, what the client sent past its request: closing a Unix socket with unread
    data resets it, and the client's next read fails instead of ending."""
    conn.setblocking(False)
    for _ in range(16):       # at most 1 MiB: more is a client not worth waiting for
        try:
            if not conn.recv(65536):
                return
        except OSError:       # BlockingIOError: nothing more now
            return


HISTORY_LIMIT = 20000      # events in one history reply at most (the newest; both files hold ~15000)


def history_handler(read: Callable[[float | None], list]) -> Handler:
    """The history request over `read(since) -> [Event]` (EventLog.read)."""
    def history(request: dict) -> dict:
        since, limit = request.get("since"), request.get("limit", HISTORY_LIMIT)
        if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
            return {"ok": False, "error": '"since" must be a time in seconds since the epoch, or null'}
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= HISTORY_LIMIT:
            return {"ok": False, "error": f'"limit" must be a whole number from 1 to {HISTORY_LIMIT}'}
        events = read(since)
        return {"ok": True, "events": [event.to_json() for event in events[-limit:]],
                "truncated": len(events) > limit}
    return history


def agent_handlers(agent: Any, history: Callable[[float | None], list] | None = None) -> dict[str, Handler]:
    """The commands, bound to a runtime.Agent; `history` reads the events (default: the agent's events
    file, read afresh for each request)."""
    def status(_request: dict) -> dict:
        return agent.status()

    def fallback(request: dict) -> dict:
        lim = request.get("lim")
        if not isinstance(lim, int) or isinstance(lim, bool):
            return {"ok": False, "error": '"lim" must be a LIM number'}
        return agent.order_fallback(lim)

    def sync(_request: dict) -> dict:
        return agent.order_sync()

    def reload(_request: dict) -> dict:
        agent.reload_requested = True
        return {"ok": True, "reload": "ordered"}

    def pause(request: dict) -> dict:
        stamp, until = request.get("stamp"), request.get("until", 0)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1e11 for v in (stamp, until)):
            return {"ok": False, "error": '"stamp" and "until" must be wall-clock seconds'}
        return agent.order_pause(float(stamp), float(until))

    def cluster(_request: dict) -> dict:
        found = agent.cluster_view()
        if found is None:
            why = agent.published.config if agent.published.config != "ok" else "not a member of its cluster"
            return {"ok": False, "error": f"this server's agent has no cluster view: {why}"}
        return found

    paths = getattr(agent, "paths", None)
    if history is None and paths is not None:
        from mxone_maintenance.agent.events.history import EventLog
        history = EventLog(paths.events_file).read
    return {"status": status, "fallback": fallback, "sync": sync, "reload": reload, "pause": pause,
            "history": history_handler(history or (lambda _since: [])), "cluster": cluster}
