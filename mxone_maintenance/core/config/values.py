"""What a name and an address must look like: the files' rules, which typed-in values follow too (a
value the utility accepts is one the files load back)."""
from __future__ import annotations

import string
from ipaddress import AddressValueError, IPv4Interface, NetmaskValueError
from typing import Any

from mxone_maintenance.core.rules import unusable_address

NAME_RULE = "must be letters, digits, '-', '_' or '.'"
MAX_NAME = 63                   # a host name's label: far below a file name's 255 bytes (keys/<cluster>.key)
MAX_INTERFACE_NAME = 15         # Linux: IFNAMSIZ less the terminating NUL
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-_.")


def name_problem(value: Any) -> str | None:
    """Why `value` is no server, cluster or interface name as the files accept it (None: it is one).
    Letters are ASCII only: a Cyrillic 'а' looks like 'a' and would make a second, different name."""
    if not isinstance(value, str) or not value:
        return NAME_RULE
    odd = next((c for c in value if c not in _NAME_CHARS), None)
    if odd is not None and odd.isalnum():
        return f"{NAME_RULE}, in ASCII (U+{ord(odd):04X} is not an ASCII letter or digit)"
    if odd is not None:
        return NAME_RULE
    if not value[0].isalnum():      # "-x" reads as an option to ssh, rsync or ip; "." and ".." are folders
        return f"{NAME_RULE}, starting with a letter or digit"
    if len(value) > MAX_NAME:
        return f"must be at most {MAX_NAME} characters (it has {len(value)})"
    return None


def is_name(value: Any) -> bool:
    """A server, cluster or interface name as the files accept it."""
    return name_problem(value) is None


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


def parse_server_interface(value: Any) -> IPv4Interface:
    """An address a server can have: as parse_interface, and not 0.0.0.0, loopback, multicast, broadcast
    or reserved (system.yaml and typed-in addresses; cluster.yaml, the agent's, is not refused for it)."""
    iface = parse_interface(value)
    problem = unusable_address(iface.ip)
    if problem:
        raise ValueError(problem)
    return iface
