"""Network redundancy (Figure 2.1): while the cluster interface is a bond with fewer than two working
links, the alarm "Network redundancy lost on <server>"; cleared when both work again. Nothing else
changes: one link down is the bond's own business (its switch-over), both down is a cut (senses.py).
A plain interface has no links to report and never raises it.

The bond is read where the addresses are: an agent on netlink addresses (the real one) reads it by
netlink (effects/bond.py); fake effects have no bond unless a test sets `make_reader`.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.effects.addresses import NetlinkAddresses
from mxone_maintenance.agent.effects.bond import BondReader, Link, NetlinkBond
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.ports import Effects
from mxone_maintenance.core.contracts.agent_status import AgentStatus, LinkStatus
from mxone_maintenance.core.model import Cluster

log = logging.getLogger("mxone-cluster-agent")

READ_S = 0.2          # the bond is read at most this often (a netlink dump: ~1 ms)
MakeReader = Callable[[str], BondReader]


def netlink_reader(effects: Effects) -> MakeReader | None:
    return NetlinkBond if isinstance(effects.addresses, NetlinkAddresses) else None


class Links:
    def __init__(self, node: str, alarms: AlarmBook, make_reader: MakeReader | None = None) -> None:
        self.node, self.alarms, self.make_reader = node, alarms, make_reader
        self.links: tuple[Link, ...] = ()       # the bond's links as last read; () not a bond (or unread)
        self._reader: tuple[str, BondReader] | None = None
        self._read_at = float("-inf")

    def watch(self, config: Cluster, effects: Effects, now: float) -> None:
        if now - self._read_at < READ_S:
            return
        self._read_at = now
        reader = self._reader_for(config.interface, effects)
        if reader is None:
            self._set(None)
            return
        links = self.alarms.attempt(reader.links, alarm_keys.effect("bond"), f"read the links of {config.interface}")
        if links is not False:
            self._set(links)

    def _reader_for(self, ifname: str, effects: Effects) -> BondReader | None:
        if self._reader is None or self._reader[0] != ifname:
            make = self.make_reader or netlink_reader(effects)
            reader = make and self.alarms.attempt(lambda: make(ifname), alarm_keys.effect("bond"),
                                                  "open netlink for the bond")
            if not reader:
                return None
            self._reader = (ifname, reader)
        return self._reader[1]

    def _set(self, links: tuple[Link, ...] | None) -> None:
        if links != (self.links or None):
            log.info("links of the cluster interface: %s",
                     ", ".join(f"{link.name} {'up' if link.up else 'DOWN'}" for link in links) if links else "no bond")
        self.links = links or ()
        working = sum(link.up for link in self.links)
        if links is not None and working < 2:
            self.alarms.raise_(alarm_keys.NETWORK_REDUNDANCY, f"Network redundancy lost on {self.node}")
        else:
            self.alarms.clear(alarm_keys.NETWORK_REDUNDANCY)

    def stamp(self, status: AgentStatus) -> AgentStatus:
        """The status with this server's links (none for a plain interface: the status as it is, not a
        copy of it each cycle)."""
        links = tuple(LinkStatus(link.name, link.up) for link in self.links)
        return status if links == status.links else dataclasses.replace(status, links=links)
