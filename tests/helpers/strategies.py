"""Hypothesis strategies: random VALID systems (they pass `rules.system_errors`), and small helpers the
rule tests use to break exactly one rule of such a system.

A system has LIM servers lim1..limN (distinct LIM numbers), standby servers sb1..sbM, free servers
free1..freeK, all on one subnet, and 0..3 clusters of 1..10 LIMs each with unique unused new base
addresses, priorities, at most one LIM locked to the standby, and preloaded failover only with one LIM.
"""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from hypothesis import strategies as st

from mxone_maintenance.core.model import Cluster, ClusterLim, Server, StandbyRef, System

INTERFACES = ("eth0", "ens3", "bond0", "eno1")
HEARTBEATS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 60.0)


def _iface(network: IPv4Network, host: int) -> IPv4Interface:
    return IPv4Interface(f"{network.network_address + host}/{network.prefixlen}")


@st.composite
def timings(draw, failover: str = "normal") -> tuple[float, float]:
    """(detect_s, heartbeat_s) with detect_s at least three heartbeats, within the files' ranges."""
    heartbeat = draw(st.sampled_from(HEARTBEATS) | st.floats(0.1, 60, allow_nan=False))
    low = max(0.3, 3 * heartbeat)
    detect = draw(st.sampled_from((low, max(low, 30.0), max(low, 60.0))) | st.floats(low, 3600, allow_nan=False))
    return detect, heartbeat


@st.composite
def systems(draw, max_clusters: int = 3, min_clusters: int = 0, max_extra: int = 3) -> System:
    sizes = draw(st.lists(st.integers(1, 10), min_size=min_clusters, max_size=max_clusters))
    spare_lims = draw(st.integers(0, max_extra))
    spare_standbys = draw(st.integers(0, 2))
    free = draw(st.integers(0, 2))
    n_lim = sum(sizes) + spare_lims
    n_standby = len(sizes) + spare_standbys

    network = IPv4Network(f"10.{draw(st.integers(0, 255))}.{draw(st.integers(0, 255))}.0/24")
    hosts_needed = n_lim + n_standby + free + sum(sizes)
    hosts = draw(st.lists(st.integers(1, 254), min_size=hosts_needed, max_size=hosts_needed, unique=True))
    host_iter = iter(hosts)

    lim_numbers = draw(st.lists(st.integers(1, 99), min_size=n_lim, max_size=n_lim, unique=True))
    lim_servers = [Server(f"lim{i + 1}", _iface(network, next(host_iter)), "lim", number)
                   for i, number in enumerate(lim_numbers)]
    standbys = [Server(f"sb{i + 1}", _iface(network, next(host_iter)), "standby") for i in range(n_standby)]
    frees = [Server(f"free{i + 1}", _iface(network, next(host_iter)), "free") for i in range(free)]

    # which LIM servers go to which cluster: a random order, cut into the cluster sizes
    order = draw(st.permutations(range(n_lim)))
    clusters = []
    start = 0
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,7}", fullmatch=True), min_size=len(sizes),
                          max_size=len(sizes), unique=True))
    for index, size in enumerate(sizes):
        members = [lim_servers[i] for i in order[start:start + size]]
        start += size
        locks = draw(st.lists(st.sampled_from((None, "regular")), min_size=size, max_size=size))
        standby_locked = draw(st.none() | st.integers(0, size - 1))
        if standby_locked is not None:
            locks[standby_locked] = "standby"
        lims = tuple(ClusterLim(lim=server.lim, server=server.name, base=_iface(network, next(host_iter)),
                                alias=server.address, priority=draw(st.integers(0, 999)), lock=locks[i])
                     for i, server in enumerate(members))
        failover = draw(st.sampled_from(("normal", "preloaded"))) if size == 1 else "normal"
        detect, heartbeat = draw(timings(failover))
        standby = standbys[index]
        clusters.append(Cluster(
            name=names[index], standby=StandbyRef(standby.name, standby.address), lims=lims,
            generation=draw(st.integers(1, 2**53 - 1000)), fallback=draw(st.sampled_from(("automatic", "manual"))),
            failover=failover, detect_s=detect, heartbeat_s=heartbeat, port=draw(st.integers(1, 65535)),
            interface=draw(st.sampled_from(INTERFACES))))
    servers = draw(st.permutations(lim_servers + standbys + frees))
    return System(servers=tuple(servers), clusters=tuple(clusters))


def clustered_systems(**kwargs) -> st.SearchStrategy[System]:
    """Valid systems with at least one cluster."""
    return systems(min_clusters=1, **kwargs)


# --- helpers to build a broken system out of a valid one ------------------------------------------------

def used_ips(system: System) -> set[IPv4Address]:
    ips = {s.address.ip for s in system.servers}
    for cluster in system.clusters:
        ips.add(cluster.standby.base.ip)
        ips.update(item.base.ip for item in cluster.lims)
        ips.update(item.alias.ip for item in cluster.lims)
    return ips


def fresh_address(system: System, network: IPv4Network, taken: set[IPv4Address] = frozenset()) -> IPv4Interface:
    """An address of `network` that nothing in the system uses (nor anything in `taken`)."""
    used = used_ips(system) | set(taken)
    for ip in network.hosts():
        if ip not in used:
            return IPv4Interface(f"{ip}/{network.prefixlen}")
    raise AssertionError(f"no free address left on {network}")


def fresh_lim_number(system: System) -> int:
    used = {s.lim for s in system.servers if s.lim is not None}
    used |= {item.lim for c in system.clusters for item in c.lims}
    return next(n for n in range(99, 0, -1) if n not in used)


def fresh_name(system: System, prefix: str) -> str:
    names = {s.name for s in system.servers} | {c.name for c in system.clusters}
    return next(f"{prefix}{i}" for i in range(1, 1000) if f"{prefix}{i}" not in names)


def subnet_of(system: System) -> IPv4Network:
    return system.servers[0].address.network


def add_lim_server(system: System) -> tuple[System, Server]:
    """A new LIM server in no cluster, on the system's subnet."""
    server = Server(fresh_name(system, "new"), fresh_address(system, subnet_of(system)), "lim",
                    fresh_lim_number(system))
    return system.with_server(server), server


def add_standby_server(system: System) -> tuple[System, Server]:
    server = Server(fresh_name(system, "newsb"), fresh_address(system, subnet_of(system)), "standby")
    return system.with_server(server), server


def join(system: System, cluster: Cluster, server: Server) -> tuple[System, Cluster]:
    """`server` (a LIM server) joins `cluster` with a fresh base address; returns the new system and cluster."""
    item = ClusterLim(server.lim, server.name, fresh_address(system, cluster.standby.base.network), server.address)
    changed = replace(cluster, lims=cluster.lims + (item,))
    return _replace_in_place(system, cluster, changed), changed


def _replace_in_place(system: System, old: Cluster, new: Cluster) -> System:
    return replace(system, clusters=tuple(new if c is old else c for c in system.clusters))


def with_cluster(system: System, old: Cluster, new: Cluster) -> System:
    """The system with `old` replaced by `new`, in the same place."""
    return _replace_in_place(system, old, new)


# --- fixed examples -----------------------------------------------------------------------------------

def sample_system(lims: int = 3, free: int = 1) -> System:
    """The shape of examples/system.yaml: lim1..limN at 10.77.0.11.. (from LIM 10 on at .50..) with LIM 1..N,
    sb1 at .20, free servers at .30..; no cluster."""
    servers = [Server(f"lim{n}", IPv4Interface(f"10.77.0.{10 + n if n < 10 else 40 + n}/24"), "lim", n)
               for n in range(1, lims + 1)]
    servers.append(Server("sb1", IPv4Interface("10.77.0.20/24"), "standby"))
    servers += [Server(f"spare{n}", IPv4Interface(f"10.77.0.{29 + n}/24"), "free") for n in range(1, free + 1)]
    return System(servers=tuple(servers))


def sample_cluster(system: System, lims: tuple[int, ...] = (1, 2, 3), name: str = "c1", standby: str = "sb1",
                   **settings) -> Cluster:
    """A cluster of the sample system: LIM n gets the new base 10.77.0.(100 + n)."""
    items = []
    for number in lims:
        server = system.server_with_lim(number)
        items.append(ClusterLim(number, server.name, IPv4Interface(f"10.77.0.{100 + number}/24"), server.address))
    sb = system.server(standby)
    return Cluster(name=name, standby=StandbyRef(sb.name, sb.address), lims=tuple(items), **settings)


def sample_with_cluster(lims: int = 3, members: tuple[int, ...] = (1, 2, 3), **settings) -> System:
    system = sample_system(lims)
    return system.replace_cluster(sample_cluster(system, members, **settings))
