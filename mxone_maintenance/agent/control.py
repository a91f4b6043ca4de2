"""The agent's control socket: one JSON request per connection, one JSON reply.

Server: a Unix stream socket (mode 0600) served by one thread; the peer's uid (SO_PEERCRED) must be
0, else the request is refused. The handlers never touch the loop's state directly: status returns
the status the loop published last (core/contracts/agent_status.py); fallback, sync and reload only
queue an order or set a flag.
Requests: {"cmd": "status"} | {"cmd": "fallback", "lim": N} | {"cmd": "sync"} | {"cmd": "reload"}.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("mxone-cluster-agent")

MAX_REQUEST = 4096
CLIENT_TIMEOUT_S = 5.0
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


def handle_request(raw: bytes, handlers: dict[str, Handler]) -> dict:
    """Parse one request and run its handler; every problem becomes an {"ok": false} reply."""
    try:
        request = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"ok": False, "error": "request is not JSON"}
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        return {"ok": False, "error": 'request must be an object with "cmd"'}
    handler = handlers.get(request["cmd"])
    if handler is None:
        return {"ok": False, "error": f"unknown command {request['cmd']!r} (known: {', '.join(sorted(handlers))})"}
    try:
        return handler(request)
    except Exception as exc:  # noqa: BLE001 - a handler bug answers, it does not kill the server
        log.exception("control request %s failed", request["cmd"])
        return {"ok": False, "error": f"internal error: {exc}"}


class ControlServer:
    """Serves the control socket on a daemon thread until close()."""

    def __init__(self, path: Path, handlers: dict[str, Handler],
                 allowed: Callable[[int], bool] = peer_allowed) -> None:
        self.path, self.handlers, self.allowed = Path(path), handlers, allowed
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
        self.sock.listen(16)
        self._closed = False
        self.thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self._closed:
                    return
                continue
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(CLIENT_TIMEOUT_S)
        try:
            uid = peer_uid(conn)
            raw = _read_request(conn)  # read even when refusing: unread data would reset the reply
            reply = handle_request(raw, self.handlers) if self.allowed(uid) else refusal(uid)
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except OSError as exc:
            log.warning("control connection failed: %s", exc)

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


def _read_request(conn: socket.socket) -> bytes:
    """Up to one line (or until the client shuts down its side)."""
    data = b""
    while b"\n" not in data and len(data) < MAX_REQUEST:
        chunk = conn.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


class ControlError(Exception):
    """The agent could not be asked (no socket, refused, no answer); str() is one line."""


def ask(path: Path, request: dict[str, Any], timeout: float = CLIENT_TIMEOUT_S) -> dict:
    """Client: send one request, return the reply."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(json.dumps(request).encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    except FileNotFoundError:
        raise ControlError(f"the agent is not running (no socket {path})") from None
    except ConnectionRefusedError:
        raise ControlError(f"the agent is not running (nobody listens on {path})") from None
    except PermissionError:
        raise ControlError(f"permission denied on {path}: run as root") from None
    except OSError as exc:
        raise ControlError(f"cannot talk to the agent on {path}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    try:
        reply = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ControlError(f"the agent gave no valid answer on {path}") from None
    if not isinstance(reply, dict):
        raise ControlError(f"the agent gave no valid answer on {path}")
    return reply


def agent_handlers(agent: Any) -> dict[str, Handler]:
    """The commands, bound to a runtime.Agent."""
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

    return {"status": status, "fallback": fallback, "sync": sync, "reload": reload}
