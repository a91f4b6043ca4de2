"""The agent's effects on the world behind small interfaces (interfaces.py), so ``decide()`` and the
daemon loop are tested with fakes (tests/helpers/fakes.py) and no root; the real classes are tested in
network namespaces.

- addresses.py: the alias addresses on the cluster interface (netlink: rtnl.py).
- neighbours.py: ARP probe and gratuitous ARP (raw AF_PACKET frames, arp.py).
- firewall.py: a preloaded passive side keeps the alias but the kernel must not answer for it
  (nftables tables ``arp mxone_block`` and ``inet mxone_block``, one set of blocked aliases each).
- service.py: start and stop a LIM's Service Node (argv templates from agent.yaml).

The real classes read the kernel's state on every query instead of caching it, so an agent that
restarts finds what its previous run left (an alias still held, an alias still blocked).
"""
from __future__ import annotations

from mxone_maintenance.agent.effects.addresses import NetlinkAddresses
from mxone_maintenance.agent.effects.firewall import NftFirewall, nft_script, parse_blocked
from mxone_maintenance.agent.effects.interfaces import Addresses, EffectError, Firewall, Neighbours, Service
from mxone_maintenance.agent.effects.neighbours import RawArp
from mxone_maintenance.agent.effects.service import CommandService, argv_alias, expand

__all__ = [
    "Addresses", "CommandService", "EffectError", "Firewall", "Neighbours", "NetlinkAddresses", "NftFirewall",
    "RawArp", "Service", "argv_alias", "expand", "nft_script", "parse_blocked",
]
