"""The heartbeat channel: the agent's UDP socket, which signs and sends heartbeats and drains, checks and
files what comes in (heartbeats, catch-up offers, shared statuses). The wire format is heartbeat_wire.py;
replay: replay_guard.py (per peer run by boot id and sequence number, kept across restarts).
"""
from __future__ import annotations

import errno
import socket
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from mxone_maintenance.agent.config_offer import BadOffer, ConfigOffer, decode_offer, encode_offer, is_offer
from mxone_maintenance.agent.heartbeat_counters import Counters
from mxone_maintenance.agent.heartbeat_wire import (
    _KEYS,
    MAX_DATAGRAM,
    PROCESS_BOOT_ID,
    TAG_SIZE,
    VERSION,
    BadHeartbeat,
    Heartbeat,
    decode,
    encode,
)
from mxone_maintenance.agent.replay_guard import ReplayGuard, ReplayStore
from mxone_maintenance.agent.socket_filter import attach_member_filter, enlarge_receive_buffer
from mxone_maintenance.agent.status_datagram import BadStatus, StatusBook, is_status, verify

__all__ = ["_KEYS", "MAX_DATAGRAM", "PROCESS_BOOT_ID", "TAG_SIZE", "VERSION", "BadHeartbeat", "Counters",
           "Heartbeat", "HeartbeatChannel", "decode", "encode"]

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
        self.statuses = StatusBook(self.monotonic)              # the members' shared statuses
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

    def send_status(self, data: bytes, addresses: Sequence[str]) -> None:
        """Our status datagram (status_datagram.py), signed already, to each peer."""
        sock = self._sending_socket()
        for address in addresses:
            try:
                sock.sendto(data, (address, self.port))
            except OSError:
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
        if is_status(data):
            self._keep_status(data, member)
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

    def _keep_status(self, data: bytes, member: str | None) -> None:
        try:
            received = verify(data, self.key, self.monotonic(), time.time(), self.max_skew_s)
        except BadStatus as bad:
            self.counters.count_bad(bad.reason)
            return
        if member is not None:          # no admit list (tests): nobody to file it under
            self.statuses.keep(member, received)

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
