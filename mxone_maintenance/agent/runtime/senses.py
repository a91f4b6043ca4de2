"""What this server reads of itself each cycle, from the kernel: the aliases on its cluster interface
(someone may have removed one), which of them its firewall blocks (preloaded) and its carrier."""
from __future__ import annotations

import logging
from ipaddress import IPv4Interface

from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.ports import Effects
from mxone_maintenance.core.model import Cluster

log = logging.getLogger("mxone-cluster-agent")

BLOCKED_READ_S = 1.0   # nft is a process start: the blocked aliases are read at most this often


class Senses:
    def __init__(self, node: str, alarms: AlarmBook) -> None:
        self.node, self.alarms = node, alarms
        self.link_down = False                   # no carrier on the cluster interface
        self.link_back_at: float | None = None   # when the carrier last came back
        self._blocked: tuple[float, frozenset[int]] | None = None

    def held(self, effects: Effects) -> set[IPv4Interface]:
        return set(self.alarms.attempt(effects.addresses.list, "effect:addresses", "read addresses") or [])

    def blocked(self, config: Cluster, effects: Effects, now: float) -> frozenset[int]:
        """Preloaded only: the LIMs whose alias the firewall blocks."""
        if config.failover != "preloaded":
            return frozenset()
        if self._blocked is None or now - self._blocked[0] >= BLOCKED_READ_S:
            aliases = self.alarms.attempt(effects.firewall.blocked, "effect:firewall", "read firewall") or set()
            self._blocked = (now, frozenset(lim.lim for lim in config.lims if lim.alias.ip in aliases))
        return self._blocked[1]

    def forget_blocked(self) -> None:
        """The firewall changed (or the effects are new): read it again next time."""
        self._blocked = None

    def watch_link(self, config: Cluster, effects: Effects, now: float) -> None:
        """Note when the carrier comes back: we may have been cut off while serving (decide() listens
        before it acts again). Then ask for every peer's address at once: both kernels may still wait
        on the ARP retry timer from the cut (1 s in the lab), holding the first heartbeats back."""
        link = self.alarms.attempt(lambda: "up" if effects.addresses.carrier() else "down", "effect:link",
                                   "read the link state")
        if link == "down" and not self.link_down:
            log.warning("no carrier on %s: cut off from the cluster", config.interface)
        elif link == "up" and self.link_down:
            log.info("carrier back on %s", config.interface)
            self.link_back_at = now
            own = config.base_of(self.node).ip
            peers = [config.base_of(name).ip for name in config.member_names if name != self.node]
            self.alarms.attempt(lambda: effects.neighbours.ask(own, peers), "effect:neighbours",
                                "ask for the peers' addresses")
        self.link_down = link == "down"  # unreadable counts as up: never hold announcements on a guess
