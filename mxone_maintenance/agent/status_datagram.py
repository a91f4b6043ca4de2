"""An agent's status shared with its peers: the status datagram, and the book that keeps the peers' ones.

Every agent sends its status (core/contracts/agent_status.py, without what only it needs: its peers'
ages and its counters) to its peers when it changes and every REFRESH_S, so the agent on LIM 1's server
can answer `cluster status` for the whole cluster from one local socket call. Its heartbeats carry the
status's digest (`st=<digest>`), so a receiver knows whether the status it holds is the one the peer
means now. Wire format, on the heartbeat port, signed with the cluster key like a heartbeat:
``STATUS_VERSION (1 byte) | sent wall clock (8 bytes, big-endian double) | digest (4 bytes) |
zlib(JSON of the status) | HMAC-SHA256``.

Receiving costs no more than a heartbeat: the tag is checked and the binary header read, the body is
kept as it came and decompressed and parsed only when someone asks (`StatusBook.latest`), at most
MAX_STATUS bytes however it was compressed. A status never decides anything (decide() reads only
heartbeats); a replayed one would only show an older status, so the book keeps, per member, the newest
by its sender's clock and refuses one further than the heartbeats' skew from ours.
"""
from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from dataclasses import dataclass

from mxone_maintenance.agent import signing

STATUS_VERSION = 3
TAG_SIZE = signing.TAG_SIZE
HEADER = struct.Struct(">dI")          # sent wall clock, digest
MAX_STATUS = 256 * 1024                # JSON bytes of one status after decompression (ten LIMs: ~8 KB)
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
REFRESH_S = 5.0                        # sent this often when nothing changed: a peer that restarted learns it


class BadStatus(ValueError):
    """Not a usable status datagram; ``reason`` is malformed, forged or stale (the heartbeat counters' names)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def is_status(data: bytes) -> bool:
    return data[:1] == bytes([STATUS_VERSION])


def digest_of(canonical: bytes) -> int:
    """The 32-bit digest the heartbeats announce: of the status without its ever-changing values."""
    return int.from_bytes(signing.digest(canonical)[:4], "big")


def encode_status(status_json: dict, digest: int, sent_wall: float, key: bytes) -> bytes:
    body = zlib.compress(json.dumps(status_json, separators=(",", ":")).encode(), 6)
    data = bytes([STATUS_VERSION]) + HEADER.pack(sent_wall, digest) + body
    return signing.signed(key, data)


@dataclass(frozen=True)
class Received:
    """A peer's verified status datagram, as it came: parsed only when asked for."""
    sent_wall: float
    digest: int
    body: bytes                        # zlib-compressed JSON
    received: float                    # our monotonic clock

    def status_json(self) -> dict:
        """The status as a JSON object; raises BadStatus if it is not one within MAX_STATUS bytes."""
        inflate = zlib.decompressobj()
        try:
            text = inflate.decompress(self.body, MAX_STATUS + 1)
        except zlib.error as exc:
            raise BadStatus("malformed", f"not zlib data ({exc})") from None
        if len(text) > MAX_STATUS or inflate.unconsumed_tail:
            raise BadStatus("malformed", f"more than {MAX_STATUS} bytes")
        try:
            value = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BadStatus("malformed", f"not JSON ({str(exc)[:80]})") from None
        if not isinstance(value, dict):
            raise BadStatus("malformed", "not an object")
        return value


def verify(data: bytes, key: bytes, now: float, wall: float, max_skew_s: float | None) -> Received:
    """The datagram's tag and header; raises BadStatus (malformed, forged, stale)."""
    if len(data) < 1 + HEADER.size + TAG_SIZE or not is_status(data):
        raise BadStatus("malformed", "bad length or version")
    signed = signing.verified(data, key)
    if signed is None:
        raise BadStatus("forged", "HMAC does not match")
    sent_wall, digest = HEADER.unpack_from(signed, 1)
    if sent_wall != sent_wall or (max_skew_s is not None and abs(sent_wall - wall) > max_skew_s):
        raise BadStatus("stale", "sent too far from our clock")
    return Received(sent_wall, digest, bytes(signed[1 + HEADER.size:]), now)


class StatusBook:
    """The newest status of each member, and the digest each member's latest heartbeat announced.

    Written by the loop (the channel), read by the control thread: one lock around two small dicts."""

    def __init__(self, monotonic=time.monotonic) -> None:
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._latest: dict[str, Received] = {}
        self._announced: dict[str, int] = {}

    def keep(self, member: str, received: Received) -> bool:
        """Keep it unless we hold a newer one of that member (a replay, or datagrams out of order), or
        it is the one the member's latest heartbeat announces (heartbeats have their replay window: so a
        peer whose clock was set back is followed all the same)."""
        with self._lock:
            held = self._latest.get(member)
            announced = self._announced.get(member) == received.digest
            follow = announced and (held is None or held.digest != received.digest)
            if held is not None and held.sent_wall >= received.sent_wall and not follow:
                return False
            self._latest[member] = received
            return True

    def announced(self, member: str, digest: int | None) -> None:
        with self._lock:
            if digest is None:
                self._announced.pop(member, None)
            else:
                self._announced[member] = digest

    def latest(self, member: str) -> tuple[Received | None, bool]:
        """The member's newest status, and whether it is the one its latest heartbeat announced."""
        with self._lock:
            held, announced = self._latest.get(member), self._announced.get(member)
        return held, held is not None and announced == held.digest


def parse_digest(flags: tuple[str, ...]) -> int | None:
    """The `st=<8 hex digits>` flag of a heartbeat, if it has one."""
    for flag in flags:
        if flag.startswith("st=") and len(flag) == 11 and all(c in HEX_DIGITS for c in flag[3:]):
            return int(flag[3:], 16)
    return None


def digest_flag(digest: int) -> str:
    return f"st={digest:08x}"
