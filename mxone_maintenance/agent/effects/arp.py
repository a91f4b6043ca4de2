"""Raw ARP on one interface (AF_PACKET): address-conflict probe and gratuitous ARP.

Why not arping: it takes about a second per call (whole-second intervals), which would dominate a
failover budget of a few hundred milliseconds. A raw socket sends in well under a millisecond.

Everything here works in the network namespace of the calling thread (the socket is created there),
so the agent in a lab namespace needs no /sys remount. Needs CAP_NET_RAW.
"""
from __future__ import annotations

import select
import socket
import struct
import time
from ipaddress import IPv4Address

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARP_REQUEST = 1
ARP_REPLY = 2
BROADCAST = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ZERO_IP = IPv4Address("0.0.0.0")
MIN_FRAME = 60  # Ethernet minimum without FCS; some drivers do not pad frames from raw sockets
_ARP = struct.Struct("!HHBBH6s4s6s4s")  # htype ptype hlen plen op sha spa tha tpa


def mac_text(mac: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in mac)


def _open(ifname: str) -> socket.socket:
    """A raw ARP socket bound to ``ifname`` (raises OSError if the interface does not exist)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        sock.bind((ifname, ETH_P_ARP))
    except OSError:
        sock.close()
        raise
    return sock


def _own_mac(sock: socket.socket) -> bytes:
    """The bound interface's hardware address, as the kernel reports it for the socket."""
    return sock.getsockname()[4]


def interface_mac(ifname: str) -> str:
    """MAC address of ``ifname`` in this namespace, e.g. ``02:42:0a:00:00:01``."""
    with _open(ifname) as sock:
        return mac_text(_own_mac(sock))


def build_frame(op: int, src_mac: bytes, sender_ip: IPv4Address, target_mac: bytes,
                target_ip: IPv4Address, dst_mac: bytes = BROADCAST) -> bytes:
    """One Ethernet frame carrying an ARP packet (padded to the Ethernet minimum)."""
    frame = dst_mac + src_mac + struct.pack("!H", ETH_P_ARP) + _ARP.pack(
        1, ETH_P_IP, 6, 4, op, src_mac, sender_ip.packed, target_mac, target_ip.packed)
    return frame.ljust(MIN_FRAME, b"\x00")


def parse_frame(frame: bytes) -> tuple[int, bytes, IPv4Address, bytes, IPv4Address] | None:
    """(op, sender MAC, sender IP, target MAC, target IP) of an Ethernet/IPv4 ARP frame, else None."""
    if len(frame) < 14 + _ARP.size or frame[12:14] != b"\x08\x06":
        return None
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, 14)
    if (htype, ptype, hlen, plen) != (1, ETH_P_IP, 6, 4):
        return None
    return op, sha, IPv4Address(spa), tha, IPv4Address(tpa)


class ArpSocket:
    """A raw ARP socket kept open on one interface.

    Binding and closing a packet socket each wait for an RCU grace period in the kernel (8-16 ms
    measured here), so the agent keeps one open instead of paying ~25 ms per probe or announcement.
    The socket queues every ARP frame of the link while idle; ``probe`` drains that backlog first.
    """

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self._sock = _open(ifname)

    @property
    def mac(self) -> bytes:
        """The interface's current MAC (the kernel reads it at each call)."""
        return _own_mac(self._sock)

    def probe(self, ip: str | IPv4Address, timeout: float = 0.3, tries: int = 2) -> str | None:
        """See the module function ``probe``."""
        target = IPv4Address(str(ip))
        tries = max(1, tries)
        own = self.mac
        request = build_frame(ARP_REQUEST, own, ZERO_IP, ZERO_MAC, target)
        self._drain()
        started = time.monotonic()
        for attempt in range(tries):
            self._sock.send(request)
            answer = _wait_claim(self._sock, own, target, started + timeout * (attempt + 1) / tries)
            if answer is not None:
                return mac_text(answer)
        return None

    def announce(self, ip: str | IPv4Address, count: int = 1, interval: float = 0.0) -> None:
        """See the module function ``announce``."""
        address = IPv4Address(str(ip))
        own = self.mac
        frames = (build_frame(ARP_REQUEST, own, address, ZERO_MAC, address),
                  build_frame(ARP_REPLY, own, address, own, address))
        for round_number in range(max(1, count)):
            if round_number and interval > 0:
                time.sleep(interval)
            for frame in frames:
                self._sock.send(frame)

    def ask(self, sender_ip: str | IPv4Address, targets: list[str | IPv4Address]) -> None:
        """An ordinary ARP request (who has TARGET, tell SENDER) for each target, broadcast: the replies
        resolve our kernel's pending entries, and each target's kernel learns our address from it."""
        own, sender = self.mac, IPv4Address(str(sender_ip))
        for target in targets:
            self._sock.send(build_frame(ARP_REQUEST, own, sender, ZERO_MAC, IPv4Address(str(target))))

    def _drain(self) -> None:
        """Discard frames queued since the last use: only answers to this probe count."""
        while True:
            try:
                self._sock.recv(2048, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ArpSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def probe(ifname: str, ip: str | IPv4Address, timeout: float = 0.3, tries: int = 2) -> str | None:
    """Is ``ip`` in use on the link? Returns the MAC that claims it, or None.

    Sends an RFC 5227 probe (sender IP 0.0.0.0, so no neighbour caches are touched) ``tries`` times,
    spread over ``timeout`` seconds, which is the total time spent when nobody answers. Any ARP
    packet from another host with ``ip`` as sender (reply, announcement, or its own probe's answer)
    counts as an answer. RFC 5227's own waits (1-2 s) are far too slow for a failover; a reply on a
    LAN comes within a millisecond, the retry only covers a lost frame. A host probing for an address
    it holds itself gets None: the caller checks its own addresses first.
    """
    with ArpSocket(ifname) as sock:
        return sock.probe(ip, timeout, tries)


def _wait_claim(sock: socket.socket, own: bytes, target: IPv4Address, until: float) -> bytes | None:
    """Read ARP frames until ``until``; the sender MAC of the first one claiming ``target``."""
    while (left := until - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return None
        frame, address = sock.recvfrom(2048)
        if address[2] == socket.PACKET_OUTGOING:
            continue
        parsed = parse_frame(frame)
        if parsed is not None and parsed[2] == target and parsed[1] != own:
            return parsed[1]
    return None


def announce(ifname: str, ip: str | IPv4Address, count: int = 1, interval: float = 0.0) -> None:
    """Gratuitous ARP for ``ip``: both the request form (sender = target = ip, target MAC zero) and
    the reply form (target MAC = our MAC), because hosts and switches differ in which one they
    honour. Updates existing neighbour entries (with the default arp_accept=0 it creates none).
    ``count`` rounds, ``interval`` seconds apart (the daemon repeats announcements itself).

    Raw frames bypass nftables (the ``arp mxone_block`` output rule stops only the kernel's own
    ARP): announcing an alias that is blocked on this host would steal it from the active side."""
    with ArpSocket(ifname) as sock:
        sock.announce(ip, count, interval)
