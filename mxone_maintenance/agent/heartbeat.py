"""Heartbeats between cluster agents: wire format, authentication, replay guard, UDP channel.

Wire format (one UDP datagram): ``VERSION (1 byte) | JSON body | HMAC-SHA256(key, VERSION | body)``.
The tag covers the version byte, so no bit of the datagram can change without detection. JSON keeps
the body readable in a packet capture and is small enough (a few hundred bytes for ten LIMs).

Decoding checks the cheap and unauthenticated things last: the tag is verified before the body is
parsed, so a forged datagram never reaches the JSON parser and a flipped bit is reported as
"forged" (or "malformed" when it hits the version byte or the length), never accepted.

Replay: every agent process draws a random 64-bit ``boot`` id and numbers its heartbeats from 0.
A receiver keeps, per peer, the current boot id and the highest sequence number; a packet is new
only when its sequence number is higher. A new boot id restarts the window (the peer restarted),
but a boot id that was already replaced is never accepted again, and a new boot must not be older
(by the sender's own clock) than what we already have, so recorded traffic of an earlier run of
the peer cannot be played back to make a dead peer look alive.
"""
from __future__ import annotations

import errno
import hashlib
import hmac
import json
import math
import secrets
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from mxone_maintenance.agent.config_offer import BadOffer, ConfigOffer, decode_offer, encode_offer, is_offer

VERSION = 1
TAG_SIZE = hashlib.sha256().digest_size
MAX_DATAGRAM = 65507
# This process's boot id: the default for every Heartbeat it sends, fresh on every agent start.
PROCESS_BOOT_ID = secrets.randbits(64)


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
    sender process's random id (see the module docstring: replay window per boot).
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
    return data + _tag(key, data)


def decode(data: bytes, key: bytes, cluster: str | None = None) -> Heartbeat:
    """Verify and parse a datagram; raises BadHeartbeat (malformed, forged, and wrong-cluster when
    ``cluster`` is given and the authentic heartbeat names another one: two clusters sharing a key
    by mistake must not merge)."""
    if len(data) < 1 + 2 + TAG_SIZE or len(data) > MAX_DATAGRAM or data[0] != VERSION:
        raise BadHeartbeat("malformed", "bad length or version")
    signed, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
    if not hmac.compare_digest(tag, _tag(key, signed)):
        raise BadHeartbeat("forged", "HMAC does not match")
    try:
        body = json.loads(signed[1:].decode("utf-8"), parse_constant=_no_constant)
        values = {f.name: body[_KEYS[f.name]] for f in fields(Heartbeat)}
        hb = Heartbeat(**{name: _tuple(value) for name, value in values.items()})
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadHeartbeat("malformed", str(exc)) from None
    _check_fields(hb, lambda detail: BadHeartbeat("malformed", detail))
    if cluster is not None and hb.cluster != cluster:
        raise BadHeartbeat("wrong-cluster", f"{hb.cluster!r} is not {cluster!r}")
    return hb


def _tag(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


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
    if not isinstance(hb.flags, tuple) or not all(isinstance(item, str) for item in hb.flags):
        problems.append("flags must be a list of strings")
    if problems:
        raise error("; ".join(problems))


# --- flags: what a heartbeat says besides its fields, as `name=value` strings ----------------------

@dataclass(frozen=True)
class AgentFlags:
    """The flags the agent's loop uses: the manual fallback orders it holds (`fallback=<LIM>`) and its
    interface MAC (`mac=<MAC>`, so ARP answers tell a cluster server from a foreign host). `parse`
    ignores the others (the data sync reads its own `xdata=`) and any it cannot read."""
    fallback: frozenset[int] = frozenset()
    mac: str | None = None

    def encode(self) -> tuple[str, ...]:
        return tuple(f"fallback={n}" for n in sorted(self.fallback)) + ((f"mac={self.mac}",) if self.mac else ())

    @classmethod
    def parse(cls, flags: Sequence[str]) -> AgentFlags:
        fallback, mac = set(), None
        for flag in flags:
            name, _, value = flag.partition("=")
            if name == "fallback" and value.isdecimal():  # int() takes every decimal digit, not "²"
                fallback.add(int(value))
            elif name == "mac" and value:
                mac = value
        return cls(frozenset(fallback), mac)


@dataclass
class Counters:
    """What happened to incoming (and outgoing) heartbeats, for status and alarms."""
    received: int = 0
    accepted: int = 0
    malformed: int = 0
    forged: int = 0
    replayed: int = 0
    wrong_cluster: int = 0
    stale: int = 0
    sent: int = 0
    send_errors: int = 0

    def count_bad(self, reason: str) -> None:
        attribute = reason.replace("-", "_")
        setattr(self, attribute, getattr(self, attribute) + 1)


@dataclass
class _PeerWindow:
    boot: int
    seq: int
    sent_wall: float
    retired: OrderedDict[int, None] = field(default_factory=OrderedDict)


class ReplayGuard:
    """Per peer: the current boot id and the highest sequence number accepted.

    ``restart_tolerance_s``: how much earlier (by the peer's own wall clock) a new boot's first
    heartbeat may claim to be sent than the last one of the boot it replaces; covers a clock
    stepped back by NTP across a restart while still refusing recordings of older runs.
    """

    RETIRED_KEPT = 32

    def __init__(self, restart_tolerance_s: float = 120.0) -> None:
        self.restart_tolerance_s = restart_tolerance_s
        self._peers: dict[str, _PeerWindow] = {}

    def accept(self, hb: Heartbeat) -> bool:
        """True if ``hb`` is newer than anything accepted from its node (and remember it)."""
        window = self._peers.get(hb.node)
        if window is None:
            self._peers[hb.node] = _PeerWindow(hb.boot, hb.seq, hb.sent_wall)
            return True
        if hb.boot == window.boot:
            if hb.seq <= window.seq:
                return False
            window.seq, window.sent_wall = hb.seq, hb.sent_wall
            return True
        return self._restart(window, hb)

    def _restart(self, window: _PeerWindow, hb: Heartbeat) -> bool:
        """A heartbeat with a new boot id: the peer restarted, unless it is an old run replayed."""
        if hb.boot in window.retired or hb.sent_wall < window.sent_wall - self.restart_tolerance_s:
            return False
        window.retired[window.boot] = None
        while len(window.retired) > self.RETIRED_KEPT:
            window.retired.popitem(last=False)
        window.boot, window.seq, window.sent_wall = hb.boot, hb.seq, hb.sent_wall
        return True


class HeartbeatChannel:
    """The agent's UDP socket: signs and sends heartbeats, drains and checks incoming ones.

    Non-blocking so the daemon can wait on ``fileno()`` with its own timer. Bound to 0.0.0.0 so it
    hears peers on whichever address (base or alias) they send to; ``bind`` exists for tests that
    run two channels on one port of the loopback (127.0.0.1 and 127.0.0.2).

    ``max_skew_s``: drop (as stale) heartbeats whose ``sent_wall`` is further than this from our own
    clock. Off by default: servers without NTP would otherwise look dead and fail over; the
    replay guard alone already refuses old packets.
    """

    def __init__(self, port: int, key: bytes, cluster: str, bind: str = "0.0.0.0",
                 max_skew_s: float | None = None, source: str | None = None) -> None:
        if not key:
            raise ValueError("heartbeat key is empty")
        self.port = port
        self.key = key
        self.cluster = cluster
        self.max_skew_s = max_skew_s
        self.counters = Counters()
        self.guard = ReplayGuard()
        self.source = source
        self._offers: deque[ConfigOffer] = deque(maxlen=4)     # catch-up offers, newest kept
        self._send_sock: socket.socket | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((bind, port))
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise

    def rekey(self, key: bytes, cluster: str) -> None:
        """Use a new key or cluster name (config reload) without losing counters or windows."""
        if not key:
            raise ValueError("heartbeat key is empty")
        self.key, self.cluster = key, cluster

    def send(self, hb: Heartbeat, addresses: Sequence[str]) -> None:
        """Send ``hb`` to each address on the cluster port. A peer that cannot be reached (no
        route, ARP failure reported late, full buffer) must not stop the others: counted only."""
        data = encode(hb, self.key)
        sock = self._sending_socket()
        for address in addresses:
            try:
                sock.sendto(data, (address, self.port))
                self.counters.sent += 1
            except OSError:
                self.counters.send_errors += 1

    def send_offer(self, offer: ConfigOffer, address: str) -> None:
        """Our cluster.yaml to a peer that is behind (config_offer.py)."""
        try:
            self._sending_socket().sendto(encode_offer(offer, self.key), (address, self.port))
            self.counters.sent += 1
        except (OSError, ValueError):
            self.counters.send_errors += 1

    def take_offers(self) -> list[ConfigOffer]:
        """The authentic offers received since the last call (checked like heartbeats: HMAC, cluster)."""
        taken = list(self._offers)
        self._offers.clear()
        return taken

    def _sending_socket(self) -> socket.socket:
        """Heartbeats leave from the node's base address when it has one. Left to the kernel, the source
        would be the interface's first address, often a LIM's alias; a peer that holds the same alias
        (the standby serving it, or a preloaded passive side) drops such packets as martians and would
        never hear this node. Until the base address is up, the receiving socket sends."""
        if self.source is None:
            return self._sock
        if self._send_sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.source, 0))
            except OSError:
                sock.close()
                return self._sock
            self._send_sock = sock
        return self._send_sock

    def receive_all(self) -> list[tuple[Heartbeat, str]]:
        """Every valid, new heartbeat waiting on the socket, with the sender's source address."""
        accepted = []
        while (packet := self._receive_one()) is not None:
            data, source = packet
            hb = self._check(data)
            if hb is not None:
                accepted.append((hb, source))
        return accepted

    def _receive_one(self) -> tuple[bytes, str] | None:
        while True:
            try:
                data, (source, _port) = self._sock.recvfrom(MAX_DATAGRAM + 1)
                return data, source
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:  # a late ICMP error for an earlier send: skip it, keep draining
                if exc.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    raise
                self.counters.send_errors += 1

    def _check(self, data: bytes) -> Heartbeat | None:
        self.counters.received += 1
        if is_offer(data):
            self._keep_offer(data)
            return None
        try:
            hb = decode(data, self.key, self.cluster)
        except BadHeartbeat as bad:
            self.counters.count_bad(bad.reason)
            return None
        if self.max_skew_s is not None and abs(time.time() - hb.sent_wall) > self.max_skew_s:
            self.counters.stale += 1
            return None
        if not self.guard.accept(hb):
            self.counters.replayed += 1
            return None
        self.counters.accepted += 1
        return hb

    def _keep_offer(self, data: bytes) -> None:
        try:
            self._offers.append(decode_offer(data, self.key, self.cluster))
        except BadOffer as bad:
            self.counters.count_bad(bad.reason)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()
        if self._send_sock is not None:
            self._send_sock.close()

    def __enter__(self) -> HeartbeatChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
