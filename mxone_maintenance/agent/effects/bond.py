"""The links under the cluster interface when it is a bond, read by netlink (rtnl.py) in the agent's own
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

from mxone_maintenance.agent.effects import rtnl
from mxone_maintenance.agent.effects.interfaces import EffectError
from mxone_maintenance.agent.effects.rtnl import LinkInfo

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


def is_bond(link: LinkInfo) -> bool:
    return link.kind == "bond" or (link.kind == "bridge" and link.alias.startswith(LAB_BOND_ALIAS))


def link_works(link: LinkInfo) -> bool:
    return link.oper_up and (link.bond_mii is None or link.bond_mii == BOND_LINK_UP)


class NetlinkBond:
    """The links of one interface in this network namespace, read on every call (one netlink dump)."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname

    def links(self) -> tuple[Link, ...] | None:
        every = rtnl.links()
        bond = next((item for item in every if item.name == self.ifname), None)
        if bond is None:
            raise EffectError(f"interface {self.ifname} not found")
        if not is_bond(bond):
            return None
        return tuple(sorted((Link(item.name, link_works(item)) for item in every if item.master == bond.index),
                            key=lambda link: link.name))

    def close(self) -> None:
        return None
