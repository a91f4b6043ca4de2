"""The interfaces and their IPv4 addresses over a plain netlink socket (NETLINK_ROUTE): read every
cycle (the aliases, the carrier, a bond's links) and changed at a takeover or release (an alias added or
removed).

pyroute2 did this before; each of its calls runs an asyncio loop and its import brings asyncio and ssl
(libcrypto): ~15 MB of an idle agent's memory and ~40 % of its CPU went there. What is exchanged is a
few fixed C structures, so the standard library's struct does it. The socket is opened per call in the
calling thread's network namespace, like every effect, and bytes come only from the kernel.
"""
from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface

from mxone_maintenance.agent.effects.interfaces import EffectError

NLMSG = struct.Struct("=IHHII")          # length, type, flags, sequence, port id
IFADDRMSG = struct.Struct("=BBBBI")      # family, prefix length, flags, scope, interface index
IFINFOMSG = struct.Struct("=BxHiII")     # family, type, index, flags, change
RTATTR = struct.Struct("=HH")            # length, type
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_GETLINK, RTM_NEWLINK, RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 18, 16, 20, 21, 22
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFLA_IFNAME, IFLA_MASTER, IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_CARRIER = 3, 10, 16, 18, 20, 33
IFLA_INFO_KIND, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 4, 5
IFLA_BOND_SLAVE_MII_STATUS = 2
IF_OPER_UP = 6
NLA_TYPE_MASK = 0x3FFF                   # without the nested / byte-order flags


@dataclass(frozen=True)
class LinkInfo:
    index: int
    name: str
    carrier: bool
    oper_up: bool
    master: int | None = None
    kind: str | None = None
    alias: str = ""
    bond_mii: int | None = None          # a bond slave's MII status (0: up), when the kernel says


def addresses(index: int) -> list[IPv4Interface]:
    """The IPv4 addresses of interface `index`, primaries and secondaries."""
    found = []
    for payload in _dump(RTM_GETADDR, IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0), RTM_NEWADDR):
        _family, prefix, _flags, _scope, at = IFADDRMSG.unpack_from(payload)
        if at != index:
            continue
        attrs = _attrs(payload[IFADDRMSG.size:])
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw is not None and len(raw) == 4:
            found.append(IPv4Interface(f"{IPv4Address(raw)}/{prefix}"))
    return found


class NetlinkError(EffectError):
    """The kernel refused a change; `code` is its errno."""

    def __init__(self, code: int) -> None:
        super().__init__(os.strerror(code))
        self.code = code


def change_address(add: bool, index: int, address: IPv4Interface) -> None:
    """`ip address add|del ADDRESS dev INDEX`; raises NetlinkError with the kernel's errno."""
    packed = address.ip.packed
    body = IFADDRMSG.pack(socket.AF_INET, address.network.prefixlen, 0, 0, index) \
        + _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
    flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if add else 0)
    for _ in _exchange(RTM_NEWADDR if add else RTM_DELADDR, flags, body, wanted=None):
        pass


def _attr(kind: int, value: bytes) -> bytes:
    length = RTATTR.size + len(value)
    return RTATTR.pack(length, kind) + value + b"\0" * (-length % 4)


def links() -> list[LinkInfo]:
    """Every interface of this network namespace."""
    return [_link(payload) for payload in _dump(RTM_GETLINK, IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0),
                                                RTM_NEWLINK)]


def link(index: int) -> LinkInfo:
    found = next((item for item in links() if item.index == index), None)
    if found is None:
        raise EffectError(f"interface index {index} not found")
    return found


def index_of(ifname: str) -> int:
    """Looked up per call: the interface may be recreated (its index changes) while the agent runs."""
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        raise EffectError(f"interface {ifname} not found") from None


def _link(payload: bytes) -> LinkInfo:
    _family, _type, index, _flags, _change = IFINFOMSG.unpack_from(payload)
    attrs = _attrs(payload[IFINFOMSG.size:])
    info = _attrs(attrs.get(IFLA_LINKINFO, b""))
    slave = _attrs(info.get(IFLA_INFO_SLAVE_DATA, b"")) if _text(info.get(IFLA_INFO_SLAVE_KIND)) == "bond" else {}
    mii = slave.get(IFLA_BOND_SLAVE_MII_STATUS)      # a bridge port's data has other attributes of that number
    return LinkInfo(index=index, name=_text(attrs.get(IFLA_IFNAME)),
                    carrier=attrs.get(IFLA_CARRIER, b"\0")[:1] == b"\1",
                    oper_up=attrs.get(IFLA_OPERSTATE, b"\0")[:1] == bytes([IF_OPER_UP]),
                    master=_u32(attrs.get(IFLA_MASTER)), kind=_text(info.get(IFLA_INFO_KIND)) or None,
                    alias=_text(attrs.get(IFLA_IFALIAS)), bond_mii=mii[0] if mii else None)


def _text(raw: bytes | None) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace") if raw else ""


def _u32(raw: bytes | None) -> int | None:
    return struct.unpack("=I", raw[:4])[0] if raw and len(raw) >= 4 else None


def _attrs(data: bytes) -> dict[int, bytes]:
    """Route attributes (type -> payload; the first of a type), each padded to 4 bytes."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset + RTATTR.size <= len(data):
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size or offset + length > len(data):
            break
        found.setdefault(kind & NLA_TYPE_MASK, data[offset + RTATTR.size:offset + length])
        offset += (length + 3) & ~3
    return found


def _dump(request: int, body: bytes, wanted: int) -> Iterator[bytes]:
    """One dump request; the payload of every reply message of type `wanted`, until the kernel is done."""
    return _exchange(request, NLM_F_REQUEST | NLM_F_DUMP, body, wanted)


def _exchange(request: int, flags: int, body: bytes, wanted: int | None) -> Iterator[bytes]:
    """Send one request; yield the payload of each reply of type `wanted` until the kernel is done (a
    dump's DONE, or the acknowledgement of a change: an error message with code 0)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(2.0)
        sequence = int.from_bytes(os.urandom(4), "little")
        sock.sendto(NLMSG.pack(NLMSG.size + len(body), request, flags, sequence, 0) + body, (0, 0))
        while True:
            try:
                data = sock.recv(65536)
            except OSError as exc:
                raise EffectError(f"netlink: {exc.strerror or exc}") from None
            offset = 0
            while offset + NLMSG.size <= len(data):
                length, kind, _flags, seq, _port = NLMSG.unpack_from(data, offset)
                if length < NLMSG.size or offset + length > len(data):
                    raise EffectError("netlink: a truncated message")
                payload = data[offset + NLMSG.size:offset + length]
                offset += (length + 3) & ~3
                if seq != sequence:
                    continue
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0] if len(payload) >= 4 else 0
                    if code:
                        raise NetlinkError(code)
                    return                          # the acknowledgement of a change
                if kind == wanted:
                    yield payload
