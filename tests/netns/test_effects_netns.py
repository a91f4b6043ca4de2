"""Effects: netlink addresses and the nftables block in real network namespaces (root), plus the
command service and the fakes (no root).

Namespaces A (10.99.0.1) and B (10.99.0.2) are joined by a veth pair; B plays the server that
holds (or, preloaded, holds blocked) the alias, A the client. Code under test runs inside a
namespace in a forked child (setns).
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from ipaddress import IPv4Address, IPv4Interface

import pytest
from helpers.fakes import FakeAddresses, FakeFirewall, FakeNeighbours, FakeService
from helpers.netns import A_IP, B_IP, in_netns, mac_of, sh, two_namespaces

from mxone_maintenance.agent.effects import (
    CommandService,
    EffectError,
    NetlinkAddresses,
    NftFirewall,
    RawArp,
    arp,
    expand,
    nft_script,
)

ALIAS, ALIAS2 = "10.99.0.50", "10.99.0.51"
PORT = 7001


@pytest.fixture(scope="module")
def lan():
    """Namespaces A (10.99.0.1) and B (10.99.0.2) on one veth link, each with eth0."""
    yield from two_namespaces("fx")


def addresses_of(ns: str) -> list[str]:
    return re.findall(r"inet (\S+)", sh("ip", "-n", ns, "-4", "addr", "show", "dev", "eth0"))


# --- NetlinkAddresses ---------------------------------------------------------------------------

def test_addresses_add_has_remove_idempotent(lan):
    _, b = lan
    alias = IPv4Interface(f"{ALIAS}/24")

    def scenario():
        addresses = NetlinkAddresses("eth0")
        seen = [addresses.has(alias)]
        addresses.add(alias)
        addresses.add(alias)
        seen += [addresses.has(alias), addresses.list()]
        addresses.remove(alias)
        addresses.remove(alias)
        seen.append(addresses.has(alias))
        addresses.close()
        return seen

    before, after_add, listed, after_remove = in_netns(b, scenario)
    assert (before, after_add, after_remove) == (False, True, False)
    assert listed == [IPv4Interface(f"{B_IP}/24"), alias]
    assert addresses_of(b) == [f"{B_IP}/24"]


def test_removing_a_primary_alias_keeps_the_base_address(lan):
    """Alias configured before the base address (so the alias is primary): removing it must not
    take the base with it (promote_secondaries)."""
    _, b = lan
    sh("ip", "-n", b, "addr", "del", f"{B_IP}/24", "dev", "eth0")
    sh("ip", "-n", b, "addr", "add", f"{ALIAS}/24", "dev", "eth0")
    sh("ip", "-n", b, "addr", "add", f"{B_IP}/24", "dev", "eth0")
    try:
        in_netns(b, lambda: NetlinkAddresses("eth0").remove(IPv4Interface(f"{ALIAS}/24")))
        assert addresses_of(b) == [f"{B_IP}/24"]
    finally:
        subprocess.run(["ip", "-n", b, "addr", "add", f"{B_IP}/24", "dev", "eth0"], capture_output=True)
        subprocess.run(["ip", "-n", b, "addr", "del", f"{ALIAS}/24", "dev", "eth0"], capture_output=True)


def test_addresses_on_a_missing_interface_raise_effect_error(lan):
    _, b = lan
    with pytest.raises(EffectError, match="nosuch0"):
        in_netns(b, lambda: NetlinkAddresses("nosuch0").list())


# --- RawArp (the Neighbours implementation) ----------------------------------------------------

def test_raw_arp_probe_announce_and_own_mac(lan):
    a, b = lan
    assert in_netns(a, lambda: RawArp("eth0").probe(B_IP)) == mac_of(b)
    assert in_netns(a, lambda: RawArp("eth0", timeout=0.1).probe(ALIAS2)) is None
    assert in_netns(b, lambda: RawArp("eth0").own_mac()) == mac_of(b)
    in_netns(b, lambda: RawArp("eth0").announce(B_IP))
    with pytest.raises(EffectError):
        in_netns(a, lambda: RawArp("nosuch0").probe(B_IP))


def test_raw_arp_ignores_claims_queued_before_the_probe(lan):
    """The kept-open socket queues every ARP frame; an announcement heard long ago (by a host that
    has since given the alias up) must not answer a later probe."""
    a, b = lan

    def scenario():
        neighbours = RawArp("eth0", timeout=0.1)
        neighbours.own_mac()  # opens the socket
        in_netns(b, arp.announce, "eth0", ALIAS2)
        time.sleep(0.02)
        return neighbours.probe(ALIAS2)

    assert in_netns(a, scenario) is None


# --- NftFirewall -------------------------------------------------------------------------------

def tcp_answer(address: str) -> str:
    """'refused' (the kernel answered with RST: reachable), 'connected', or 'silent'."""
    try:
        socket.create_connection((address, PORT), timeout=0.3).close()
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "silent"


@pytest.fixture
def blockable_alias(lan):
    """B holds the alias; A has a static neighbour entry for it, so IP reaches B even while B's
    ARP for the alias is blocked (the inet table is then what must stay silent)."""
    a, b = lan
    sh("ip", "-n", b, "addr", "add", f"{ALIAS}/24", "dev", "eth0")
    yield
    in_netns(b, lambda: NftFirewall().unblock_all())
    subprocess.run(["ip", "-n", b, "addr", "del", f"{ALIAS}/24", "dev", "eth0"], check=False)
    subprocess.run(["ip", "-n", a, "neigh", "del", ALIAS, "dev", "eth0"], capture_output=True)


def test_blocked_alias_gets_no_answer_until_unblocked(lan, blockable_alias):
    a, b = lan
    alias = IPv4Address(ALIAS)
    assert in_netns(a, arp.probe, "eth0", ALIAS, 0.1) == mac_of(b)
    in_netns(b, lambda: NftFirewall().block(alias))
    assert in_netns(b, lambda: NftFirewall().blocked()) == {alias}

    assert in_netns(a, arp.probe, "eth0", ALIAS, 0.1) is None
    assert in_netns(a, arp.probe, "eth0", B_IP, 0.1) == mac_of(b), "the base address still answers"
    sh("ip", "-n", a, "neigh", "replace", ALIAS, "lladdr", mac_of(b), "dev", "eth0", "nud", "permanent")
    assert in_netns(a, tcp_answer, ALIAS) == "silent"
    assert in_netns(a, tcp_answer, B_IP) == "refused"
    assert in_netns(b, tcp_answer, ALIAS) == "refused", "local tools still reach the passive LIM"

    in_netns(b, lambda: NftFirewall().unblock(alias))
    assert in_netns(b, lambda: NftFirewall().blocked()) == set()
    assert in_netns(a, tcp_answer, ALIAS) == "refused"
    assert in_netns(a, arp.probe, "eth0", ALIAS, 0.1) == mac_of(b)


def connect_from(source: str, address: str) -> None:
    with socket.socket() as sock:
        sock.bind((source, 0))
        sock.settimeout(0.2)
        try:
            sock.connect((address, PORT))
        except OSError:
            pass


def test_blocked_side_kernel_does_not_advertise_the_alias(lan, blockable_alias):
    """The kernel's own ARP with the alias as sender must not leave B (A would learn B for the
    alias and steal it from the active side). The inet table already stops IP from the alias, so it
    is removed here to test the arp table alone. Raw frames (arp.announce) bypass nftables: never
    announce a blocked alias."""
    a, b = lan
    in_netns(b, lambda: NftFirewall().block(IPv4Address(ALIAS)))
    subprocess.run(["ip", "netns", "exec", b, "nft", "delete", "table", "inet", "mxone_block"], check=True)
    for ns in (a, b):
        sh("ip", "-n", ns, "neigh", "flush", "dev", "eth0")
    in_netns(b, connect_from, ALIAS, A_IP)
    assert ALIAS not in sh("ip", "-n", a, "neigh", "show", "dev", "eth0")
    in_netns(b, lambda: NftFirewall().unblock(IPv4Address(ALIAS)))
    sh("ip", "-n", b, "neigh", "flush", "dev", "eth0")
    in_netns(b, connect_from, ALIAS, A_IP)
    assert ALIAS in sh("ip", "-n", a, "neigh", "show", "dev", "eth0"), "the check above can fail"


def test_block_and_unblock_are_idempotent_and_leave_no_tables(lan, blockable_alias):
    _, b = lan
    one, two = IPv4Address(ALIAS), IPv4Address(ALIAS2)

    def scenario():
        firewall = NftFirewall()
        firewall.block(one)
        firewall.block(one)
        firewall.block(two)
        both = firewall.blocked()
        firewall.unblock(one)
        firewall.unblock(one)
        left = firewall.blocked()
        firewall.unblock(two)
        return both, left, subprocess.run(["nft", "list", "ruleset"], capture_output=True,
                                          text=True).stdout

    both, left, ruleset = in_netns(b, scenario)
    assert both == {one, two} and left == {two}
    assert "mxone_block" not in ruleset


def test_block_repairs_a_half_removed_block(lan, blockable_alias):
    _, b = lan
    alias = IPv4Address(ALIAS)

    def scenario():
        firewall = NftFirewall()
        firewall.block(alias)
        subprocess.run(["nft", "delete", "table", "inet", "mxone_block"], check=True)
        half = firewall.blocked()
        firewall.block(alias)
        return half, firewall.fully_blocked()

    assert in_netns(b, scenario) == ({alias}, {alias})


def test_nft_script_without_aliases_only_deletes():
    script = nft_script(set())
    assert "delete table arp mxone_block" in script and "chain" not in script


def test_nft_failure_raises_effect_error(tmp_path):
    fake_nft = tmp_path / "nft"
    fake_nft.write_text("#!/bin/sh\necho 'Error: Could not process rule: Operation not permitted' >&2\n"
                        "exit 1\n")
    fake_nft.chmod(0o755)
    with pytest.raises(EffectError, match="Operation not permitted"):
        NftFirewall(nft=str(fake_nft)).blocked()


# --- CommandService (no root) ------------------------------------------------------------------

def test_expand_fills_placeholders_only():
    argv = expand(["sn", "{lim}", "{alias}", "--node={node}", "{other}"], 2, IPv4Interface("10.1.0.5/24"),
                  "lim2")
    assert argv == ["sn", "2", "10.1.0.5", "--node=lim2", "{other}"]


def test_command_service_runs_with_placeholders_and_environment(tmp_path):
    out = tmp_path / "out"
    script = f"echo \"$0 $1 $MXONE_LIM $MXONE_ALIAS $MXONE_NODE\" >> {out}"
    service = CommandService(["sh", "-c", script, "start", "{alias}"],
                             ["sh", "-c", script, "stop", "{alias}"], node="sb1")
    service.start(3, IPv4Address("10.77.0.13"))
    service.stop(3, IPv4Address("10.77.0.13"))
    assert out.read_text().splitlines() == ["start 10.77.0.13 3 10.77.0.13 sb1",
                                            "stop 10.77.0.13 3 10.77.0.13 sb1"]


def test_command_service_failure_carries_stderr():
    service = CommandService([sys.executable, "-c", "import sys; sys.exit('no licence for LIM 4')"], [],
                             node="sb1")
    with pytest.raises(EffectError, match="start LIM 4: .*no licence for LIM 4"):
        service.start(4, IPv4Address("10.77.0.14"))


def test_command_service_timeout_and_missing_program():
    slow = CommandService(["sleep", "5"], ["/nonexistent/sn"], node="sb1", timeout=0.2)
    with pytest.raises(EffectError, match="timed out"):
        slow.start(1, IPv4Address("10.77.0.11"))
    with pytest.raises(EffectError, match="/nonexistent/sn"):
        slow.stop(1, IPv4Address("10.77.0.11"))


def test_unconfigured_service_does_nothing():
    service = CommandService.from_settings(None, node="sb1")
    service.start(1, IPv4Address("10.77.0.11"))
    service.stop(1, IPv4Address("10.77.0.11"))


def test_carrier_follows_the_cable(lan):
    """The peer end of B's link down is B's cable out: no carrier (the lab's `cut` does the same)."""
    a, b = lan

    def carrier():
        return NetlinkAddresses("eth0").carrier()

    seen = [in_netns(b, carrier)]
    sh("ip", "-n", a, "link", "set", "eth0", "down")
    try:
        seen.append(in_netns(b, carrier))
    finally:
        sh("ip", "-n", a, "link", "set", "eth0", "up")
    seen.append(in_netns(b, carrier))
    assert seen == [True, False, True]


# --- fakes -------------------------------------------------------------------------------------

def test_fakes_record_calls():
    addresses = FakeAddresses({IPv4Interface("10.0.0.2/24")})
    addresses.add(IPv4Interface("10.0.0.9/24"))
    addresses.remove(IPv4Interface("10.0.0.2/24"))
    assert addresses.list() == [IPv4Interface("10.0.0.9/24")]
    assert [call[0] for call in addresses.calls] == ["add", "remove"]

    neighbours = FakeNeighbours({"10.0.0.9": "02:aa:00:00:00:01"})
    assert neighbours.probe(IPv4Address("10.0.0.9")) == "02:aa:00:00:00:01"
    assert neighbours.probe("10.0.0.8") is None
    neighbours.announce("10.0.0.9")
    assert neighbours.probes == ["10.0.0.9", "10.0.0.8"] and neighbours.announces == ["10.0.0.9"]

    firewall = FakeFirewall()
    firewall.block(IPv4Address("10.0.0.9"))
    assert firewall.blocked() == {IPv4Address("10.0.0.9")}
    firewall.unblock(IPv4Address("10.0.0.9"))
    assert firewall.blocked() == set() and len(firewall.calls) == 2

    service = FakeService(failing={2})
    service.start(1, IPv4Address("10.0.0.9"))
    with pytest.raises(EffectError):
        service.start(2, IPv4Address("10.0.0.10"))
    service.stop(1, IPv4Address("10.0.0.9"))
    assert service.running == set() and [c[0] for c in service.calls] == ["start", "start", "stop"]
