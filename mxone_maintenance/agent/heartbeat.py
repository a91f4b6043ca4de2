"""Heartbeats between cluster agents: wire format, authentication, the UDP channel.

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

import errno
import hashlib
import hmac
import json
import math
import secrets
import socket
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from mxone_maintenance.agent.config_offer import BadOffer, ConfigOffer, decode_offer, encode_offer, is_offer
from mxone_maintenance.agent.heartbeat_counters import Counters
from mxone_maintenance.agent.replay_guard import ReplayGuard, ReplayStore
from mxone_maintenance.agent.socket_filter import attach_member_filter, enlarge_receive_buffer

VERSION = 1
TAG_SIZE = hashlib.sha256().digest_size
MAX_DATAGRAM = 65507
MAX_FLAG_CHARS = 256            # ours are under 30: a longer one is a bug, not a flag to parse
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
    except RecursionError:      # authentic but nested deeper than the parser goes
        raise BadHeartbeat("malformed", "nested too deeply") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadHeartbeat("malformed", str(exc)[:200]) from None
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


DEFAULT_MAX_SKEW_S = 30.0       # freshness: far above any delay on a LAN, far below a recording's age
MAX_DRAIN = 256                 # datagrams read per receive_all call (ten peers send 100 a second)
MAX_DRAIN_S = 0.01              # ... or this much time, whichever comes first
STALE_KEPT = 64


class HeartbeatChannel:
    """The agent's UDP socket: signs and sends heartbeats, drains and checks incoming ones.

    Non-blocking so the daemon can wait on ``fileno()`` with its own timer. Bound, without
    SO_REUSEADDR, to ``bind`` (default: ``source``, the node's base address, where its peers send),
    so no other process can bind the port beside it and take its datagrams; "0.0.0.0" only without
    a source. Tests run two channels on one port of the loopback (127.0.0.1 and 127.0.0.2).

    ``admit``: the members' base addresses; datagrams from any other source are dropped before the
    HMAC is computed (counted as foreign), and a member's heartbeat must name that member.
    ``max_skew_s``: drop (as stale) heartbeats whose ``sent_wall`` is further than this from our own
    clock (None: off). ``receive_all`` reads at most MAX_DRAIN datagrams or MAX_DRAIN_S per call.
    """

    def __init__(self, port: int, key: bytes, cluster: str, bind: str | None = None,
                 max_skew_s: float | None = DEFAULT_MAX_SKEW_S, source: str | None = None) -> None:
        if not key:
            raise ValueError("heartbeat key is empty")
        self.port = port
        self.key = key
        self.cluster = cluster
        self.max_skew_s = max_skew_s
        self.counters = Counters()
        self.guard = ReplayGuard()
        self.source = source
        self.bind_address = bind if bind is not None else (source or "0.0.0.0")
        self.max_drain, self.max_drain_s = MAX_DRAIN, MAX_DRAIN_S
        self.monotonic = time.monotonic
        self._members: dict[str, str] | None = None             # source address -> member; None: anyone
        self._stale: dict[str, list[float]] = {}                 # node -> [first, last, skew] of refusals
        self._store: ReplayStore | None = None
        self._offers: deque[ConfigOffer] = deque(maxlen=4)     # catch-up offers, newest kept
        self._send_sock: socket.socket | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((self.bind_address, port))
            self._sock.setblocking(False)
            self.receive_buffer = enlarge_receive_buffer(self._sock)
            self.kernel_filter = False
        except OSError:
            self._sock.close()
            raise

    def rekey(self, key: bytes, cluster: str) -> None:
        """Use a new key or cluster name (config reload) without losing counters or windows."""
        if not key:
            raise ValueError("heartbeat key is empty")
        self.key, self.cluster = key, cluster

    def admit(self, members: Mapping[str, str]) -> None:
        """Read datagrams only from these addresses (a member's base address -> that member's name): the
        kernel drops the others (socket_filter), and whatever gets past is checked again here."""
        self._members = dict(members)
        try:
            attach_member_filter(self._sock, self._members)
            self.kernel_filter = True
        except OSError:             # no socket filters in this kernel: the check below still holds
            self.kernel_filter = False

    def keep_replay_state(self, path: Path) -> None:
        """Keep the replay windows in ``path`` across restarts: read now (a damaged file is ignored with
        a log line), written by save_replay_state and close."""
        self._store = ReplayStore(path)
        self.guard.restore(self._store.load())

    def save_replay_state(self, periodic: bool = True) -> bool:
        """Write the windows if a peer's run or what it says changed, or (``periodic``) anything did."""
        guard = self.guard
        if self._store is None or not (guard.urgent or (periodic and guard.changed)):
            return False
        guard.urgent = guard.changed = False
        return self._store.save(guard.runs())

    def clock_refused(self, for_s: float) -> dict[str, float]:
        """The nodes whose heartbeats have all been refused as stale for at least ``for_s`` seconds (none
        accepted meanwhile), each with its clock minus ours when that began."""
        now = self.monotonic()
        for node, (_first, last, _skew) in list(self._stale.items()):
            if now - last > 2 * for_s:
                del self._stale[node]            # it stopped sending: nothing left to tell
        return {node: skew for node, (first, last, skew) in self._stale.items() if last - first >= for_s}

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
        """The authentic offers received since the last call (checked like heartbeats: source, HMAC, cluster)."""
        taken = list(self._offers)
        self._offers.clear()
        return taken

    def _sending_socket(self) -> socket.socket:
        """Heartbeats leave from the node's base address. Left to the kernel, the source would be the
        interface's first address, often a LIM's alias; a peer that holds the same alias (the standby
        serving it, or a preloaded passive side) drops such packets as martians and would never hear
        this node. Bound to the base address, the receiving socket is that; bound elsewhere (tests),
        a second socket sends from ``source``, or the receiving one while ``source`` is not up."""
        if self.source is None or self.source == self.bind_address:
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
        """The valid, new heartbeats waiting on the socket, with the sender's source address: at most
        ``max_drain`` datagrams or ``max_drain_s`` per call, so a flood cannot hold the loop (the rest
        waits; the socket stays readable and the loop comes back after its cycle)."""
        accepted = []
        deadline = self.monotonic() + self.max_drain_s
        for _ in range(self.max_drain):
            packet = self._receive_one()
            if packet is None:
                break
            data, source = packet
            hb = self._check(data, source)
            if hb is not None:
                accepted.append((hb, source))
            if self.monotonic() >= deadline:
                break
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

    def _check(self, data: bytes, source: str) -> Heartbeat | None:
        self.counters.received += 1
        member = self._members.get(source) if self._members is not None else None
        if self._members is not None and member is None:
            self.counters.foreign += 1           # before any HMAC: a flood from elsewhere costs little
            return None
        if is_offer(data):
            self._keep_offer(data, member)
            return None
        try:
            hb = decode(data, self.key, self.cluster)
        except BadHeartbeat as bad:
            self.counters.count_bad(bad.reason)
            return None
        if member is not None and hb.node != member:
            self.counters.foreign += 1
            return None
        if self.max_skew_s is not None and abs(skew := hb.sent_wall - time.time()) > self.max_skew_s:
            self.counters.stale += 1
            self._note_stale(hb.node, skew)
            return None
        if not self.guard.accept(hb):
            self.counters.replayed += 1
            return None
        self._stale.pop(hb.node, None)
        self.counters.accepted += 1
        return hb

    def _note_stale(self, node: str, skew: float) -> None:
        now = self.monotonic()
        entry = self._stale.get(node)
        if entry is None:
            while len(self._stale) >= STALE_KEPT:
                del self._stale[next(iter(self._stale))]
            self._stale[node] = [now, now, skew]
        else:
            entry[1] = now

    def _keep_offer(self, data: bytes, member: str | None) -> None:
        try:
            offer = decode_offer(data, self.key, self.cluster)
        except BadOffer as bad:
            self.counters.count_bad(bad.reason)
            return
        if member is not None and offer.node != member:
            self.counters.foreign += 1
            return
        self._offers.append(offer)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self.save_replay_state()
        self._sock.close()
        if self._send_sock is not None:
            self._send_sock.close()

    def __enter__(self) -> HeartbeatChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
