"""The client side of the agent's control socket (agent/control.py serves it): one JSON request per
connection, one JSON reply. Here in the core because both programs ask: `mxone-cluster-agent` for its
verbs, the utility for the cluster view of the agent on its own server (`cluster status`)."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

CLIENT_TIMEOUT_S = 5.0        # ask(): how long a client waits for the agent


class ControlError(Exception):
    """The agent could not be asked (no socket, refused, no answer); str() is one line."""


def ask(path: Path, request: dict[str, Any], timeout: float = CLIENT_TIMEOUT_S) -> dict:
    """Send one request, return the reply (an object; its "ok" is the caller's to read)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        _connect(sock, path, timeout)
        sock.sendall(json.dumps(request).encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
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
        reply = json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ControlError(f"the agent gave no valid answer on {path}") from None
    if not isinstance(reply, dict):
        raise ControlError(f"the agent gave no valid answer on {path}")
    return reply


def _connect(sock: socket.socket, path: Path, timeout: float) -> None:
    """Connect, waiting while the agent's backlog is full (a Unix socket with a timeout says EAGAIN at
    once then: the agent is busy, not gone)."""
    until = time.monotonic() + timeout
    while True:
        try:
            sock.connect(str(path))
            return
        except BlockingIOError:
            if time.monotonic() >= until:
                raise
            time.sleep(0.02)
