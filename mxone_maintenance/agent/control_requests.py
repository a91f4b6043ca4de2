"""The control socket's requests and replies as bytes, without the socket (agent/control.py serves them).

parse_request() turns any bytes into either a Request or one Invalid whose error is one of the lines
below; it never raises (not on invalid UTF-8, deep nesting, huge numbers, non-objects or huge input:
its work is bounded by MAX_REQUEST). encode_reply() turns a reply into its wire line, or into an
internal-error line if the reply cannot be sent as JSON.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("mxone-cluster-agent")

MAX_REQUEST = 64 * 1024           # bytes of one request line; the reader stops reading past this
SHOWN_CMD = 60                    # at most this much of an unknown command is echoed in the error

NOT_JSON = "request is not JSON"
TOO_DEEP = "request is nested too deeply"
NOT_OBJECT = 'request must be an object with "cmd"'
TOO_LONG = f"request is longer than {MAX_REQUEST} bytes"
ERRORS = frozenset({NOT_JSON, TOO_DEEP, NOT_OBJECT, TOO_LONG})   # all parse_request() may answer


def too_slow(deadline_s: float) -> str:
    """The error for a connection that gave no complete request within its deadline."""
    return f"no complete request within {deadline_s:g} s"


@dataclass(frozen=True)
class Request:
    cmd: str
    fields: dict[str, Any]    # the whole JSON object, "cmd" included: what a handler gets

    def __repr__(self) -> str:  # a request may be 64 KiB: keep logs and test reports short
        return f"Request(cmd={_shown(self.cmd)})"


@dataclass(frozen=True)
class Invalid:
    error: str

    def reply(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error}


def parse_request(raw: bytes) -> Request | Invalid:
    """One request line (without its newline) -> the request, or why it is none. Never raises."""
    if len(raw) > MAX_REQUEST:
        return Invalid(TOO_LONG)
    try:
        request = json.loads(raw.decode("utf-8"))
    except RecursionError:
        return Invalid(TOO_DEEP)
    except (UnicodeDecodeError, ValueError):  # JSONDecodeError, and ints over the digit limit
        return Invalid(NOT_JSON)
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        return Invalid(NOT_OBJECT)
    return Request(request["cmd"], request)


def unknown_command(cmd: str, known: list[str]) -> str:
    return f"unknown command {_shown(cmd)} (known: {', '.join(sorted(known))})"


def internal_error(exc: BaseException) -> dict[str, Any]:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose str() fails still gets an answer
        text = type(exc).__name__
    return {"ok": False, "error": f"internal error: {text[:200]}"}


def encode_reply(reply: Any) -> bytes:
    """The reply as its wire line: JSON and a newline (ASCII: json.dumps escapes the rest)."""
    try:
        if not isinstance(reply, dict):
            raise TypeError(f"a reply must be an object, not {type(reply).__name__}")
        return json.dumps(reply).encode() + b"\n"
    except Exception as exc:  # noqa: BLE001 - TypeError, ValueError (circular), RecursionError
        log.error("control reply cannot be sent as JSON: %s", exc)
        return json.dumps(internal_error(exc)).encode() + b"\n"


def _shown(cmd: str) -> str:
    shown = repr(cmd)
    return shown if len(shown) <= SHOWN_CMD else shown[:SHOWN_CMD - 4] + "...'"
