"""SNMP v2c traps (agent/events/traps.py): our BER read back by a tiny decoder of our own, and, where
net-snmp's snmptrapd is installed (scripts/setup-env installs it), received by the real thing."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.events import traps
from mxone_maintenance.agent.events.traps import ENTERPRISE, SNMP_TRAP_OID, SYS_UPTIME, TrapSender, trap_message
from mxone_maintenance.core.contracts.events import EventKind, new_event

T0 = 1_796_000_000.0


# --- a tiny BER decoder (X.690), only what a trap holds ----------------------------------------------

def decode(data: bytes, at: int = 0) -> tuple[object, int]:
    """(value, next offset): SEQUENCE and the PDU as lists, INTEGER/TimeTicks as ints (TimeTicks as
    ("ticks", n)), OCTET STRING as bytes, OID as a tuple."""
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        length, at = int.from_bytes(data[at:at + count], "big"), at + count
    body, end = data[at:at + length], at + length
    assert len(body) == length, "truncated"
    if tag in (0x30, 0xA7):
        items, inner = [], 0
        while inner < len(body):
            item, inner = decode(body, inner)
            items.append(item)
        return (items if tag == 0x30 else ("trap", items)), end
    if tag == 0x02:
        return int.from_bytes(body, "big", signed=True), end
    if tag == 0x43:
        return ("ticks", int.from_bytes(body, "big")), end
    if tag == 0x04:
        return bytes(body), end
    if tag == 0x06:
        parts, value = [body[0] // 40, body[0] % 40], 0
        for byte in body[1:]:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                parts.append(value)
                value = 0
        return tuple(parts), end
    raise AssertionError(f"unexpected tag {tag:#x}")


def varbinds(message: bytes) -> tuple[int, bytes, dict]:
    (version, community, (kind, (request_id, status, index, binds))), end = decode(message)
    assert (kind, status, index, end) == ("trap", 0, 0, len(message)) and request_id > 0
    return version, community, {name: value for name, value in binds}


def test_the_trap_decodes_to_the_event() -> None:
    event = new_event(EventKind.TAKEOVER, "sb1", "LIM 2 taken over from lim2 ☎", lim=2, cause="lim2 silent",
                      generation=4, at=T0)
    version, community, binds = varbinds(trap_message(event, "secret", 12.34, 7))
    objects = ENTERPRISE + (1,)
    assert (version, community) == (1, b"secret")
    assert list(binds)[:2] == [SYS_UPTIME, SNMP_TRAP_OID]
    assert binds[SYS_UPTIME] == ("ticks", 1234) and binds[SNMP_TRAP_OID] == ENTERPRISE + (0, 4101)
    assert binds[objects + (1,)] == 4101 and binds[objects + (2,)] == 3
    assert binds[objects + (3,)].decode() == "LIM 2 taken over from lim2 ☎"
    assert (binds[objects + (4,)], binds[objects + (5,)], binds[objects + (6,)]) == (2, b"sb1", b"takeover")
    assert (binds[objects + (7,)], binds[objects + (8,)], binds[objects + (9,)]) == (b"lim2 silent", 4, int(T0))


@given(st.integers(-2**40, 2**40))
def test_integers_round_trip(value: int) -> None:
    assert decode(traps.integer(value))[0] == value


@given(st.lists(st.integers(0, 2**32), min_size=0, max_size=12))
def test_oids_round_trip(tail: list[int]) -> None:
    name = (1, 3, *tail)
    assert decode(traps.oid(name))[0] == name


def test_long_text_keeps_the_trap_one_datagram() -> None:
    event = new_event(EventKind.ALARM_RAISED, "sb1", "é" * 999, cause="x" * 999, at=T0)
    message = trap_message(event, "public", 2**40, 2**31 - 1)
    assert len(message) < 1400
    assert varbinds(message)[2][SYS_UPTIME][0] == "ticks"      # wrapped at 2**32, as TimeTicks do


def test_traps_go_to_every_receiver_over_udp_and_a_bad_one_is_logged(caplog) -> None:
    receivers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for sock in receivers:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
    sender = TrapSender([("127.0.0.1", s.getsockname()[1]) for s in receivers] + [("no-such-host.invalid", 162)])
    started = time.monotonic()
    assert sender.send(new_event(EventKind.FALLBACK, "lim2", "LIM 2 back on lim2", lim=2, at=T0))
    assert time.monotonic() - started < 0.05                    # the caller never waits for the network
    for sock in receivers:
        assert varbinds(sock.recv(2000))[2][ENTERPRISE + (1, 1)] == 4103
        sock.close()
    sender.close()
    assert (sender.sent, sender.errors) == (2, 1)
    assert any("SNMP trap for fallback to no-such-host.invalid:162 not sent" in r.getMessage() for r in caplog.records)


# --- the real receiver --------------------------------------------------------------------------------

SNMPTRAPD = shutil.which("snmptrapd") or "/usr/sbin/snmptrapd"


def test_snmptrapd_receives_the_trap_and_its_text(tmp_path: Path) -> None:
    if not os.access(SNMPTRAPD, os.X_OK):
        pytest.skip("snmptrapd is not installed (apt-get install snmptrapd; scripts/setup-env does)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp_path / "snmptrapd.conf"
    conf.write_text("disableAuthorization yes\n")
    out = tmp_path / "out"
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(tmp_path), "MIBS": "", "MIBDIRS": "/dev/null"}
    with open(out, "wb") as handle:
        daemon = subprocess.Popen([SNMPTRAPD, "-f", "-Lo", "-C", "-c", str(conf), "-n", "-m", "", "-M", "/dev/null",
                                   f"udp:127.0.0.1:{port}"], stdout=handle, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 10
        while b"NET-SNMP version" not in out.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        sender = TrapSender([("127.0.0.1", port)], "public")
        event = new_event(EventKind.TAKEOVER, "sb1", "LIM 2 taken over from lim2", lim=2, generation=4)
        while time.monotonic() < deadline and b"LIM 2 taken over" not in out.read_bytes():
            sender.send(event)                        # again until it is heard (it may have started late)
            time.sleep(0.3)
        sender.close()
        said = out.read_text(errors="replace")
        assert 'STRING: "LIM 2 taken over from lim2"' in said, said
        assert "32473.18.0.4101" in said and "32473.18.1.2 = INTEGER: 3" in said
    finally:
        daemon.kill()
        daemon.wait()
