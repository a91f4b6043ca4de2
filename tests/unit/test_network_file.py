"""A server's own network configuration (SUSE ifcfg, ifupdown, systemd-networkd): the base address
changed in place, every other byte kept, reruns change nothing, bad files give one clear error."""
from __future__ import annotations

from ipaddress import IPv4Interface

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.core.config.network_file import (
    NetworkFileError,
    Style,
    configured_addresses,
    suse_file,
    with_address,
)

OLD, NEW = IPv4Interface("10.77.0.11/24"), IPv4Interface("10.77.0.111/24")

SUSE = """BOOTPROTO='static'
STARTMODE='auto'
IPADDR='10.77.0.11/24'
# a second address, not ours
IPADDR_1='192.168.5.1/24'
MTU='1500'
"""
SUSE_PREFIXLEN = "BOOTPROTO=static\nIPADDR=10.77.0.11\nPREFIXLEN=24\n"
SUSE_NETMASK = "BOOTPROTO='static'\nIPADDR='10.77.0.11'\nNETMASK='255.255.255.0'\n"
IFUPDOWN = """auto lo
iface lo inet loopback

auto eth0
iface eth0 inet static
    address 10.77.0.11
    netmask 255.255.255.0
    gateway 10.77.0.1

iface eth1 inet static
    address 10.77.0.11/24
"""
NETWORKD = "[Match]\nName=eth0\n\n[Network]\nAddress=10.77.0.11/24\nGateway=10.77.0.1\n"


@pytest.mark.parametrize("style, text, expected", [
    (Style.SUSE, SUSE, SUSE.replace("IPADDR='10.77.0.11/24'", "IPADDR='10.77.0.111/24'")),
    (Style.SUSE, SUSE_PREFIXLEN, SUSE_PREFIXLEN.replace("IPADDR=10.77.0.11\n", "IPADDR=10.77.0.111\n")),
    (Style.SUSE, SUSE_NETMASK, SUSE_NETMASK.replace("IPADDR='10.77.0.11'", "IPADDR='10.77.0.111'")),
    (Style.IFUPDOWN, IFUPDOWN, IFUPDOWN.replace("address 10.77.0.11\n", "address 10.77.0.111\n", 1)),
    (Style.NETWORKD, NETWORKD, NETWORKD.replace("Address=10.77.0.11/24", "Address=10.77.0.111/24")),
])
def test_the_base_changes_in_place_and_nothing_else(style, text, expected):
    changed = with_address(style, text, "eth0", OLD, NEW)
    assert changed == expected
    assert NEW in configured_addresses(style, changed, "eth0")
    assert OLD not in configured_addresses(style, changed, "eth0")
    assert with_address(style, changed, "eth0", OLD, NEW) == changed          # a rerun changes nothing
    assert with_address(style, changed, "eth0", NEW, OLD) == text             # and back again


def test_ifupdown_changes_only_the_interfaces_own_stanza():
    changed = with_address(Style.IFUPDOWN, IFUPDOWN, "eth1", OLD, NEW)
    assert "iface eth0 inet static\n    address 10.77.0.11\n" in changed
    assert "iface eth1 inet static\n    address 10.77.0.111/24\n" in changed


def test_networkd_file_of_another_interface_configures_nothing_here():
    assert configured_addresses(Style.NETWORKD, NETWORKD.replace("eth0", "eth1"), "eth0") == []


def test_a_file_without_the_old_address_is_one_clear_error():
    with pytest.raises(NetworkFileError) as error:
        with_address(Style.SUSE, "BOOTPROTO='dhcp'\n", "eth0", OLD, NEW, "ifcfg-eth0")
    assert str(error.value) == "ifcfg-eth0: no address 10.77.0.11/24 for eth0 to change (it configures: none)"


def test_a_fresh_suse_file_configures_its_one_address():
    assert configured_addresses(Style.SUSE, suse_file(OLD), "eth0") == [OLD]


@given(st.sampled_from(list(Style)), st.text(max_size=300))
def test_any_text_gives_addresses_or_one_error(style, text):
    assert all(isinstance(a, IPv4Interface) for a in configured_addresses(style, text, "eth0"))
    try:
        changed = with_address(style, text, "eth0", OLD, NEW)
    except NetworkFileError:
        return
    assert NEW in configured_addresses(style, changed, "eth0") or changed == text


@given(st.sampled_from([SUSE, SUSE_PREFIXLEN]), st.integers(1, 254), st.integers(1, 254))
def test_suse_round_trip_for_any_pair_of_addresses(text, a, b):
    old = IPv4Interface(f"10.77.0.{a}/24")
    new = IPv4Interface(f"10.77.0.{b}/24")
    start = with_address(Style.SUSE, text, "eth0", OLD, old)
    assert with_address(Style.SUSE, with_address(Style.SUSE, start, "eth0", old, new), "eth0", new, old) == start
