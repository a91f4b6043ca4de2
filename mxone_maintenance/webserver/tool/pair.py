"""Who the pair is and which virtual IP it may use, from system.yaml alone (pure): the Master server is
LIM 1's server, the standby is its cluster's standby, and the virtual IP is on their subnet and is no
address any cluster or server uses (reusing one, e.g. the standby's alias, would force a reinstall)."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface

from mxone_maintenance.core.config import one_line
from mxone_maintenance.core.model import System
from mxone_maintenance.webserver.shared.pair_file import PairSettings, Role, role_name_problem


class PairProblem(Exception):
    """The request cannot be done as asked (exit 2); str() is one line naming the value."""


@dataclass(frozen=True)
class Pair:
    cluster: str
    master: str
    master_base: IPv4Interface
    standby: str
    standby_base: IPv4Interface
    interface: str
    fallback: str
    used: frozenset[IPv4Address]

    def name_of(self, role: Role) -> str:
        return self.master if role == "master" else self.standby

    def base_of(self, role: Role) -> IPv4Interface:
        return self.master_base if role == "master" else self.standby_base


def unavailable_reason(system: System) -> str | None:
    """Why the Redundancy item cannot be used (None: it can)."""
    master = system.server_with_lim(1)
    if master is None:
        return "there is no LIM 1 server in the system"
    if system.cluster_of_lim(1) is None:
        return "LIM 1 is in no cluster: PM/SNM redundancy follows LIM 1's cluster (create it first)"
    return None


def used_addresses(system: System) -> frozenset[IPv4Address]:
    found = {server.address.ip for server in system.servers}
    for cluster in system.clusters:
        found.add(cluster.standby.base.ip)
        for item in cluster.lims:
            found.update((item.base.ip, item.alias.ip))
    return frozenset(found)


def find_pair(system: System) -> Pair:
    reason = unavailable_reason(system)
    if reason:
        raise PairProblem(reason)
    cluster = system.cluster_of_lim(1)
    lim1 = cluster.lim(1)
    return Pair(cluster=cluster.name, master=lim1.server, master_base=lim1.base, standby=cluster.standby.server,
                standby_base=cluster.standby.base, interface=cluster.interface, fallback=cluster.fallback,
                used=used_addresses(system))


def virtual_ip(pair: Pair, text: str) -> IPv4Interface:
    """The virtual IP as typed (`IP` or `IP/PREFIX`; without a prefix, the master base's)."""
    shown = one_line(text)
    try:
        vip = IPv4Interface(text if "/" in text else f"{text}/{pair.master_base.network.prefixlen}")
    except ValueError:
        raise PairProblem(f"the virtual IP must be an IPv4 address (got {shown!r})") from None
    if vip.network != pair.master_base.network or vip.network != pair.standby_base.network:
        raise PairProblem(f"the virtual IP must be on the servers' subnet {pair.master_base.network} (got {shown!r})")
    if vip.ip in (vip.network.network_address, vip.network.broadcast_address):
        raise PairProblem(f"the virtual IP cannot be the subnet's network or broadcast address (got {shown!r})")
    if vip.ip in pair.used:
        raise PairProblem(f"the virtual IP {vip.ip} is an address a cluster or server uses; choose a free one "
                          "(reusing the standby's alias forces a reinstall of the whole system)")
    return vip


def replication_user(text: str) -> str:
    problem = role_name_problem(text)
    if problem:
        raise PairProblem(one_line(problem))
    return text


def settings_for(pair: Pair, role: Role, vip: IPv4Interface, user: str, generation: int = 1) -> PairSettings:
    other: Role = "standby" if role == "master" else "master"
    return PairSettings(role=role, cluster=pair.cluster, node=pair.name_of(role), base=pair.base_of(role),
                        peer_name=pair.name_of(other), peer_base=pair.base_of(other), virtual_ip=vip,
                        interface=pair.interface, replication_user=user, fallback=pair.fallback,  # type: ignore[arg-type]
                        generation=generation)
