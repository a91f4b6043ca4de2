"""Raw ARP (probe, gratuitous ARP) between two real network namespaces joined by a veth pair.

Needs root: skipped otherwise, failed when CI=true. Code under test runs inside a namespace in a
forked child (setns), so it is the very function the agent calls, not a copy in a subprocess.
"""
from __future__ import annotations

import socket
import subprocess
import time

import pytest
from helpers.netns import A_IP, B_IP, in_netns, mac_of, sh, two_namespaces

from mxone_maintenance.agent.effects import arp

ALIAS, FREE = "10.99.0.50", "10.99.0.77"
OLD_MAC = "02:00:00:00:00:01"


@pytest.fixture(scope="module")
def lan():
    """Namespaces A (10.99.0.1) and B (10.99.0.2) on one veth link, each with eth0."""
    yield from two_namespaces("arp")


@pytest.fixture
def alias_on_b(lan):
    _, b = lan
    sh("ip", "-n", b, "addr", "add", f"{ALIAS}/24", "dev", "eth0")
    yield
    subprocess.run(["ip", "-n", b, "addr", "del", f"{ALIAS}/24", "dev", "eth0"], check=False)


def test_interface_mac_is_the_namespace_own(lan):
    a, b = lan
    assert in_netns(a, arp.interface_mac, "eth0") == mac_of(a)
    assert in_netns(b, arp.interface_mac, "eth0") == mac_of(b)


def test_probe_finds_the_holder(lan, alias_on_b):
    a, b = lan
    assert in_netns(a, arp.probe, "eth0", ALIAS) == mac_of(b)
    assert in_netns(a, arp.probe, "eth0", B_IP) == mac_of(b)


def test_probe_leaves_no_trace_in_the_answering_host(lan, alias_on_b):
    """Sender IP 0.0.0.0 (RFC 5227): the holder learns nothing about the prober's address."""
    a, b = lan
    sh("ip", "-n", b, "neigh", "flush", "dev", "eth0")
    in_netns(a, arp.probe, "eth0", ALIAS)
    assert A_IP not in sh("ip", "-n", b, "neigh", "show", "dev", "eth0")


def test_probe_of_a_free_address_is_none_within_timeout(lan):
    a, _ = lan
    started = time.monotonic()
    assert in_netns(a, arp.probe, "eth0", FREE, 0.2, 2) is None
    assert 0.2 <= time.monotonic() - started < 0.5


def test_announce_moves_the_neighbour_entry(lan, alias_on_b):
    a, b = lan
    sh("ip", "-n", a, "neigh", "replace", ALIAS, "lladdr", OLD_MAC, "dev", "eth0", "nud", "stale")
    assert OLD_MAC in sh("ip", "-n", a, "neigh", "show", ALIAS)
    in_netns(b, arp.announce, "eth0", ALIAS)
    deadline = time.monotonic() + 1.0
    while mac_of(b) not in sh("ip", "-n", a, "neigh", "show", ALIAS) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mac_of(b) in sh("ip", "-n", a, "neigh", "show", ALIAS)


def test_announce_is_fast(lan, alias_on_b):
    _, b = lan

    def timed() -> float:
        started = time.monotonic()
        arp.announce("eth0", ALIAS, count=3)
        return time.monotonic() - started

    assert in_netns(b, timed) < 0.05


def test_kept_open_socket_answers_in_milliseconds(lan, alias_on_b):
    a, b = lan

    def timed() -> list[float]:
        with arp.ArpSocket("eth0") as sock:
            times = []
            for _ in range(5):
                started = time.monotonic()
                assert sock.probe(ALIAS) is not None
                times.append(time.monotonic() - started)
            return times

    assert min(in_netns(a, timed)) < 0.01


def test_frames_round_trip():
    from ipaddress import IPv4Address

    frame = arp.build_frame(arp.ARP_REPLY, b"\x02" * 6, IPv4Address(ALIAS), b"\x03" * 6, IPv4Address(A_IP))
    assert len(frame) == arp.MIN_FRAME
    assert arp.parse_frame(frame) == (arp.ARP_REPLY, b"\x02" * 6, IPv4Address(ALIAS), b"\x03" * 6,
                                      IPv4Address(A_IP))
    assert arp.parse_frame(frame[:20]) is None


def test_missing_interface_raises_oserror(lan):
    a, _ = lan
    with pytest.raises(OSError):
        in_netns(a, arp.probe, "nosuch0", FREE)


def send_udp(ip: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"heartbeat", (ip, 7400))


def test_asking_for_a_peer_resolves_both_kernels_at_once(lan):
    """After a cut, a kernel's entry for a peer waits for its next ARP retry (1 s by default; 5 s here
    to tell the two apart) before heartbeats flow again; one ARP request from A's address resolves
    A's pending entry for B (B's reply) and gives B its entry for A (the request itself)."""
    a, b = lan

    def ask() -> None:
        with arp.ArpSocket("eth0") as sock:
            sock.ask(A_IP, [B_IP])

    sh("ip", "netns", "exec", a, "sysctl", "-q", "-w", "net.ipv4.neigh.eth0.retrans_time_ms=5000")
    sh("ip", "-n", a, "neigh", "flush", "dev", "eth0")
    sh("ip", "-n", b, "neigh", "flush", "dev", "eth0")
    sh("ip", "-n", b, "link", "set", "eth0", "arp", "off")    # B silent, as behind a cut
    in_netns(a, send_udp, B_IP)                                # A's kernel starts asking for B
    try:
        assert "INCOMPLETE" in sh("ip", "-n", a, "neigh", "show", B_IP, "dev", "eth0")
    finally:
        sh("ip", "-n", b, "link", "set", "eth0", "arp", "on")  # back: A's kernel would ask again in 5 s
    in_netns(a, ask)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and mac_of(b) not in sh("ip", "-n", a, "neigh", "show", B_IP, "dev", "eth0"):
        time.sleep(0.02)
    assert mac_of(b) in sh("ip", "-n", a, "neigh", "show", B_IP, "dev", "eth0")
    assert mac_of(a) in sh("ip", "-n", b, "neigh", "show", A_IP, "dev", "eth0")
    sh("ip", "netns", "exec", a, "sysctl", "-q", "-w", "net.ipv4.neigh.eth0.retrans_time_ms=1000")
