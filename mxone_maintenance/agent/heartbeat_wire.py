"""Heartbeats between cluster agents: the wire format and its authentication (heartbeat.py has the channel).

Wire format (one UDP datagram): ``VERSION (1 byte) | JSON body | HMAC-SHA256(key, VERSION | body)``.
The tag covers the version byte, so no bit of the datagram can change without detection. JSON keeps
the body readable in a packet capture and is small enough (a few hundred bytes for ten LIMs).

Decoding checks the cheap and unauthenticated things last: the tag is verified before the body is
parsed, so a forged datagram never reaches the JSON parser and a flipped bit is reported as
"forged" (or "malformed" when it hits the version byte or the length), never accepted. Whatever the
bytes, decode returns a Heartbeat or raises BadHeartbeat (deep nesting, huge numbers included).

Replay: see replay_guard.py (per peer run by boot id and sequence number, kept across restarts).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields

from mxone_maintenance.agent import signing

VERSION = 1
TAG_SIZE = signing.TAG_SIZE
MAX_DATAGRAM = 65507
MAX_FLAG_CHARS = 256            # ours are under 30: a longer one is a bug, not a flag to parse
# This process's boot id: the default for every Heartbeat it sends, fresh on every agent start.
PROCESS_BOOT_ID = int.from_bytes(os.urandom(8), "big")    # not secrets: it imports hmac (OpenSSL)


class BadHeartbeat(ValueError):
    """A datagram that is not a valid heartbeat; ``reason`` is malformed, forged or wrong-cluster."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Heartbeat:
    """What one agent tells its peers every heartbeat period.

    ``sent_wall`` is the sender's time.time() (for clock-skew checks by the receiver), ``up_since``
    the seconds since the sender's agent started (a peer that just came back says so), ``boot`` the
    sender process's random id (replay_guard.py: one window per run).
    """
    cluster: str
    node: str
    generation: int
    seq: int
    sent_wall: float
    running: tuple[int, ...]
    blocked: tuple[int, ...] = ()
    releasing: tuple[int, ...] = ()
    up_since: float = 0.0
    flags: tuple[str, ...] = ()
    boot: int = field(default=PROCESS_BOOT_ID)


# Short JSON keys: the datagram goes out ten times per second per peer at the fastest setting.
_KEYS = {"cluster": "c", "node": "n", "generation": "g", "seq": "s", "sent_wall": "w", "running": "r",
         "blocked": "b", "releasing": "x", "up_since": "u", "flags": "f", "boot": "i"}


def encode(hb: Heartbeat, key: bytes) -> bytes:
    """Serialise and sign ``hb``. Raises ValueError for values that could not be decoded again."""
    _check_fields(hb, ValueError)
    body = {_KEYS[f.name]: _plain(getattr(hb, f.name)) for f in fields(Heartbeat)}
    data = bytes([VERSION]) + json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    return signing.signed(key, data)


def decode(data: bytes, key: bytes, cluster: str | None = None) -> Heartbeat:
    """Verify and parse a datagram; raises BadHeartbeat (malformed, forged, and wrong-cluster when
    ``cluster`` is given and the authentic heartbeat names another one: two clusters sharing a key
    by mistake must not merge)."""
    if len(data) < 1 + 2 + TAG_SIZE or len(data) > MAX_DATAGRAM or data[0] != VERSION:
        raise BadHeartbeat("malformed", "bad length or version")
    signed = signing.verified(data, key)
    if signed is None:
        raise BadHeartbeat("forged", "HMAC does not match")
    try:
        body = _JSON.decode(signed[1:].decode("utf-8"))
        hb = Heartbeat(**{name: _tuple(body[key]) for name, key in _FIELD_KEYS})
    except RecursionError:      # authentic but nested deeper than the parser goes
        raise BadHeartbeat("malformed", "nested too deeply") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadHeartbeat("malformed", str(exc)[:200]) from None
    _check_fields(hb, lambda detail: BadHeartbeat("malformed", detail))
    if cluster is not None and hb.cluster != cluster:
        raise BadHeartbeat("wrong-cluster", f"{hb.cluster!r} is not {cluster!r}")
    return hb


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


# Built once: json.loads with an argument builds a new decoder per call, fields() walks the class.
_JSON = json.JSONDecoder(parse_constant=_no_constant)
_FIELD_KEYS = tuple((f.name, _KEYS[f.name]) for f in fields(Heartbeat))


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if not (_is_int(value) or isinstance(value, float)):
        return False
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except OverflowError:           # an integer too large for a float
        return False


def _check_fields(hb: Heartbeat, error) -> None:
    """Type and range checks shared by encode (ValueError) and decode (BadHeartbeat malformed)."""
    problems = []
    if not isinstance(hb.cluster, str) or not isinstance(hb.node, str):
        problems.append("cluster and node must be strings")
    for name in ("generation", "seq"):
        if not _is_int(getattr(hb, name)) or getattr(hb, name) < 0:
            problems.append(f"{name} must be an integer >= 0")
    if not _is_int(hb.boot) or not 0 <= hb.boot < 2**64:
        problems.append("boot must be a 64-bit unsigned integer")
    for name in ("sent_wall", "up_since"):
        if not _is_number(getattr(hb, name)):
            problems.append(f"{name} must be a finite number")
    for name in ("running", "blocked", "releasing"):
        value = getattr(hb, name)
        if not isinstance(value, tuple) or not all(_is_int(item) for item in value):
            problems.append(f"{name} must be a list of integers")
    if not isinstance(hb.flags, tuple) or not all(isinstance(item, str) and len(item) <= MAX_FLAG_CHARS
                                                  for item in hb.flags):
        problems.append(f"flags must be a list of strings of at most {MAX_FLAG_CHARS} characters")
    if problems:
        raise error("; ".join(problems))
