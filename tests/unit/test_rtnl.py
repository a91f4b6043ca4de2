"""The agent's netlink reader (agent/effects/rtnl.py): what it reads of this machine's own interfaces is
what `ip` says, and its attribute parser takes any bytes without failing."""
from __future__ import annotations

import json
import subprocess
from ipaddress import IPv4Interface

from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.effects import rtnl


def ip_json(*args: str) -> list[dict]:
    return json.loads(subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout)


def test_the_interfaces_and_addresses_are_what_ip_says():
    links = {item.name: item for item in rtnl.links()}
    for entry in ip_json("address", "show"):
        found = links[entry["ifname"]]
        assert found.index == entry["ifindex"] == rtnl.index_of(entry["ifname"])
        assert found.oper_up == (entry.get("operstate") == "UP")
        if "UP" in entry.get("flags", []):      # IFLA_CARRIER is reported for a downed interface too
            assert found.carrier == ("LOWER_UP" in entry["flags"])
        expected = {IPv4Interface(f"{a['local']}/{a['prefixlen']}") for a in entry.get("addr_info", [])
                    if a.get("family") == "inet"}
        assert set(rtnl.addresses(found.index)) == expected


@given(st.binary(max_size=300))
def test_attributes_of_any_bytes_are_read_without_failing(data):
    attrs = rtnl._attrs(data)
    assert all(isinstance(kind, int) and isinstance(value, bytes) for kind, value in attrs.items())


@given(st.dictionaries(st.integers(1, 200), st.binary(max_size=40), max_size=6))
def test_attributes_read_back_as_written(values):
    assert rtnl._attrs(b"".join(rtnl._attr(kind, value) for kind, value in values.items())) == values
