"""The links under the cluster interface when it is a bond, read by netlink (pyroute2) in the agent's own
network namespace: the interfaces whose IFLA_MASTER is the bond, each working or not.

A link works when its operstate is UP and, for a kernel bond's slave, the bond's own MII status says up
(IFLA_LINKINFO / IFLA_INFO_SLAVE_DATA / IFLA_BOND_SLAVE_MII_STATUS, when the kernel gives it). Netlink,
not /sys/class/net/<if>/bonding/: it answers in any network namespace and needs no sysfs mount.

The lab's kernel has no bonding driver; its stand-in (scripts/labbond.py) is a bridge named eth0 over
two veths with the ifalias LAB_BOND_ALIAS, read here the same way (its ports are its links).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mxone_maintenance.agent.effects.interfaces import EffectError

LAB_BOND_ALIAS = "lab-bond:"     # the ifalias of scripts/labbond.py's bond stand-in
BOND_LINK_UP = 0                 # IFLA_BOND_SLAVE_MII_STATUS of a slave whose link is up


@dataclass(frozen=True)
class Link:
    name: str
    up: bool


class BondReader(Protocol):
    def links(self) -> tuple[Link, ...] | None:
        """The bond's links, by name; None: the interface is no bond. Raises EffectError."""
        ...


def _attr(message, *path: str):
    """A nested netlink attribute (IFLA_LINKINFO, then IFLA_INFO_KIND, ...) or None."""
    value = message
    for name in path:
        if value is None:
            return None
        value = value.get_attr(name)
    return value


def is_bond(message) -> bool:
    kind = _attr(message, "IFLA_LINKINFO", "IFLA_INFO_KIND")
    alias = message.get_attr("IFLA_IFALIAS") or ""
    return kind == "bond" or (kind == "bridge" and alias.startswith(LAB_BOND_ALIAS))


def link_works(message) -> bool:
    if message.get_attr("IFLA_OPERSTATE") != "UP":
        return False
    mii = _attr(message, "IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA", "IFLA_BOND_SLAVE_MII_STATUS")
    return mii is None or mii == BOND_LINK_UP


class NetlinkBond:
    """The links of one interface in this network namespace, read on every call."""

    def __init__(self, ifname: str) -> None:
        from pyroute2 import IPRoute  # imported here: a unit test of the daemon never needs it

        self.ifname = ifname
        self._ipr = IPRoute()

    def links(self) -> tuple[Link, ...] | None:
        found = self._ipr.link_lookup(ifname=self.ifname)
        if not found:
            raise EffectError(f"interface {self.ifname} not found")
        index = found[0]
        master = self._ipr.get_links(index)
        if not master or not is_bond(master[0]):
            return None
        slaves = [m for m in self._ipr.get_links() if m.get_attr("IFLA_MASTER") == index]
        return tuple(sorted((Link(m.get_attr("IFLA_IFNAME"), link_works(m)) for m in slaves),
                            key=lambda link: link.name))

    def close(self) -> None:
        self._ipr.close()
