"""What a name and an address must look like: the files' rules, which typed-in values follow too (a
value the utility accepts is one the files load back)."""
from __future__ import annotations

from ipaddress import AddressValueError, IPv4Interface, NetmaskValueError
from typing import Any

NAME_RULE = "must be letters, digits, '-', '_' or '.'"
_NAME_CHARS = "-_."


def is_name(value: Any) -> bool:
    """A server, cluster or interface name as the files accept it."""
    return isinstance(value, str) and bool(value) and all(c.isalnum() or c in _NAME_CHARS for c in value)


def parse_interface(value: Any) -> IPv4Interface:
    """An IPv4 address with prefix length, e.g. 10.77.0.11/24 (a bare address is not enough)."""
    if not isinstance(value, str) or "/" not in value:
        raise ValueError("must be an IPv4 address with prefix length, like 10.77.0.11/24")
    try:
        iface = IPv4Interface(value)
    except (AddressValueError, NetmaskValueError, ValueError):
        raise ValueError("must be an IPv4 address with prefix length, like 10.77.0.11/24") from None
    if iface.ip in (iface.network.network_address, iface.network.broadcast_address) and iface.network.prefixlen < 31:
        raise ValueError("is the network or broadcast address of its subnet")
    return iface
