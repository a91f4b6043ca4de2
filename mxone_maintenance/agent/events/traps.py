"""SNMP v2c traps (RFC 3416 SNMPv2-Trap-PDU, RFC 1901 community) for every event, to agent.yaml's
`traps: {receivers: ["host[:port]", ...], community: public}` (port 162 when none is given).

Encoded here (BER, X.690: SEQUENCE, INTEGER, OCTET STRING, OBJECT IDENTIFIER, TimeTicks): no SNMP
library on a cluster host. Sent over UDP from a worker thread (the name lookup of a receiver may take a
while; the agent's loop never waits for it), one datagram per receiver; a send that fails is logged.

The trap's varbinds: sysUpTime.0 (the agent's uptime), snmpTrapOID.0 = ENTERPRISE.0.<alarm code>, then
under ENTERPRISE.1 (mxoneEventObjects):
    .1 alarm code (INTEGER, 4100..4109)     .2 severity (INTEGER 0..4)     .3 text (OCTET STRING)
    .4 LIM (INTEGER, 0 = none)              .5 server (OCTET STRING)       .6 kind (OCTET STRING)
    .7 cause (OCTET STRING)                 .8 generation (INTEGER)        .9 time (INTEGER, Unix s)
ENTERPRISE is 1.3.6.1.4.1.32473.18: 32473 is IANA's enterprise number for documentation (RFC 5612),
the same for every product until the vendor's own is registered; change ENTERPRISE (one constant)
and the managers' trap filters together.
"""
from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mxone_maintenance.agent.events.worker import Worker
from mxone_maintenance.core.contracts.events import Event

log = logging.getLogger("mxone-cluster-agent")

ENTERPRISE = (1, 3, 6, 1, 4, 1, 32473, 18)
EVENT_OBJECTS = ENTERPRISE + (1,)
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
TRAP_PORT = 162
MAX_TEXT_BYTES = 800      # text and cause cut so that a trap stays one unfragmented datagram (< 1400 bytes)
MAX_CAUSE_BYTES = 300

SEQUENCE, INTEGER, OCTET_STRING, NULL, OID, TIMETICKS, TRAP_V2 = 0x30, 0x02, 0x04, 0x05, 0x06, 0x43, 0xA7


# --- BER ----------------------------------------------------------------------------------------------

def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def integer(value: int, tag: int = INTEGER) -> bytes:
    """Two's complement, shortest form."""
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def unsigned(value: int, tag: int) -> bytes:
    """An unsigned 32-bit value (TimeTicks, Counter32): as an INTEGER of that tag, never negative."""
    value %= 2 ** 32
    return tlv(tag, value.to_bytes((value.bit_length() // 8) + 1, "big"))


def octets(value: str | bytes) -> bytes:
    return tlv(OCTET_STRING, value.encode("utf-8") if isinstance(value, str) else value)


def oid(parts: Sequence[int]) -> bytes:
    if len(parts) < 2 or parts[0] > 2 or any(p < 0 for p in parts):
        raise ValueError(f"not an object identifier: {parts}")
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return tlv(OID, bytes(body))


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def varbind(name: Sequence[int], value: bytes) -> bytes:
    return sequence(oid(name), value)


def _cut(text: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    data = text.encode("utf-8")
    return data if len(data) <= limit else data[:limit].decode("utf-8", "ignore").encode()


def trap_message(event: Event, community: str, uptime_s: float, request_id: int) -> bytes:
    """The whole SNMPv2c message (version 1 = v2c) carrying the event."""
    binds = [varbind(SYS_UPTIME, unsigned(int(uptime_s * 100), TIMETICKS)),
             varbind(SNMP_TRAP_OID, oid(ENTERPRISE + (0, event.code))),
             varbind(EVENT_OBJECTS + (1,), integer(event.code)),
             varbind(EVENT_OBJECTS + (2,), integer(event.severity)),
             varbind(EVENT_OBJECTS + (3,), octets(_cut(event.text))),
             varbind(EVENT_OBJECTS + (4,), integer(event.lim or 0)),
             varbind(EVENT_OBJECTS + (5,), octets(_cut(event.server, 64))),
             varbind(EVENT_OBJECTS + (6,), octets(event.kind.value)),
             varbind(EVENT_OBJECTS + (7,), octets(_cut(event.cause, MAX_CAUSE_BYTES))),
             varbind(EVENT_OBJECTS + (8,), integer(event.generation)),
             varbind(EVENT_OBJECTS + (9,), integer(int(event.at)))]
    pdu = tlv(TRAP_V2, integer(request_id) + integer(0) + integer(0) + sequence(*binds))
    return sequence(integer(1), octets(community), pdu)


# --- sending ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Receiver:
    host: str
    port: int = TRAP_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class TrapSender:
    """Sends each event as a trap to every receiver, from a worker thread."""

    def __init__(self, receivers: Sequence[Receiver | tuple[str, int]], community: str = "public",
                 queue_size: int = 100) -> None:
        self.receivers = tuple(r if isinstance(r, Receiver) else Receiver(*r) for r in receivers)
        self.community = community
        self.started = time.monotonic()
        self.sent = 0
        self.errors = 0
        self._ids = itertools.count(1)
        self._sockets: dict[int, socket.socket] = {}
        self.worker: Worker[Event] = Worker("SNMP traps", self._send, queue_size)

    @property
    def dropped(self) -> int:
        return self.worker.dropped

    def send(self, event: Event) -> bool:
        return self.worker.submit(event)

    def _socket(self, family: int) -> socket.socket:
        sock = self._sockets.get(family)
        if sock is None:
            sock = self._sockets[family] = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
        return sock

    def _send(self, event: Event) -> None:
        message = trap_message(event, self.community, time.monotonic() - self.started,
                               next(self._ids) % 2 ** 31)
        for receiver in self.receivers:
            try:
                family, _, _, _, address = socket.getaddrinfo(receiver.host, receiver.port,
                                                              type=socket.SOCK_DGRAM)[0]
                self._socket(family).sendto(message, address)
                self.sent += 1
            except OSError as exc:          # gaierror, unreachable, a full socket buffer
                self.errors += 1
                log.warning("SNMP trap for %s to %s not sent: %s", event.kind.value, receiver,
                            getattr(exc, "strerror", None) or exc)

    def close(self, timeout: float = 2.0) -> None:
        self.worker.close(timeout)
        for sock in self._sockets.values():
            sock.close()
        self._sockets = {}
