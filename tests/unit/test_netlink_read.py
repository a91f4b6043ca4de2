"""The agent's netlink addresses (pyroute2), read only, on the loopback interface of the machine's own
network namespace: what list, has and carrier see, and an unknown interface named in one line. Adding and
removing addresses is tested in namespaces (tests/netns/test_effects_netns.py)."""
from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Interface

import pytest

from mxone_maintenance.agent.effects.addresses import NetlinkAddresses
from mxone_maintenance.agent.effects.interfaces import EffectError


@pytest.fixture
def lo() -> Iterator[NetlinkAddresses]:
    addresses = NetlinkAddresses("lo")
    yield addresses
    addresses.close()


def test_the_loopback_address_and_carrier(lo: NetlinkAddresses) -> None:
    assert IPv4Interface("127.0.0.1/8") in lo.list()
    assert lo.has(IPv4Interface("127.0.0.1/8")) and not lo.has(IPv4Interface("127.0.0.1/32"))
    assert lo.carrier()


def test_an_unknown_interface_is_named() -> None:
    addresses = NetlinkAddresses("nosuch0")
    try:
        with pytest.raises(EffectError, match="^interface nosuch0 not found$"):
            addresses.list()
    finally:
        addresses.close()
