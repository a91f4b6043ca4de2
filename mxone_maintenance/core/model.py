"""The domain model: servers, clusters and their LIMs as frozen dataclasses (pure, no I/O).

Addresses are `ipaddress.IPv4Interface` values (address plus prefix), so the subnet rules of
DESIGN §5 are plain comparisons of `.network`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Interface
from typing import Literal

Role = Literal["lim", "standby", "free"]
Fallback = Literal["automatic", "manual"]
Failover = Literal["normal", "preloaded"]
Lock = Literal["regular", "standby"] | None

MAX_LIMS_PER_CLUSTER = 10
DEFAULT_PRIORITY = 5
DEFAULT_PORT = 7400            # heartbeat UDP port (7001 is the Service Node's)
DEFAULT_INTERFACE = "eth0"
DEFAULT_HEARTBEAT_S = 1.0
DEFAULT_FLAP_RETURNS = 3
DEFAULT_FLAP_WINDOW_S = 600.0
DEFAULT_DETECT_S = {"normal": 60.0, "preloaded": 30.0}


@dataclass(frozen=True)
class Server:
    """A server of the system. `address` is its base address as known before any cluster."""
    name: str
    address: IPv4Interface
    role: Role = "lim"
    lim: int | None = None


@dataclass(frozen=True)
class ClusterLim:
    """One LIM of a cluster: its regular server, new base address, alias (old base), priority, lock."""
    lim: int
    server: str
    base: IPv4Interface
    alias: IPv4Interface
    priority: int = DEFAULT_PRIORITY
    lock: Lock = None


@dataclass(frozen=True)
class StandbyRef:
    server: str
    base: IPv4Interface


@dataclass(frozen=True)
class Cluster:
    """The content of cluster.yaml: what every member's agent enforces."""
    name: str
    standby: StandbyRef
    lims: tuple[ClusterLim, ...]
    generation: int = 1
    fallback: Fallback = "automatic"
    failover: Failover = "normal"
    detect_s: float = DEFAULT_DETECT_S["normal"]
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    port: int = DEFAULT_PORT
    interface: str = DEFAULT_INTERFACE
    schema: int = 1
    hold_s: float | None = None          # fallback hold time (None: max(3 heartbeats, 2 s))
    flap_returns: int = DEFAULT_FLAP_RETURNS   # this many failures of a regular within flap_window_s ...
    flap_window_s: float = DEFAULT_FLAP_WINDOW_S   # ... make its LIM's automatic fallback manual

    def lim(self, number: int) -> ClusterLim | None:
        return next((item for item in self.lims if item.lim == number), None)

    @property
    def member_names(self) -> tuple[str, ...]:
        """Regular servers in LIM order, then the standby."""
        return tuple(item.server for item in self.lims) + (self.standby.server,)

    def base_of(self, server: str) -> IPv4Interface | None:
        if server == self.standby.server:
            return self.standby.base
        return next((item.base for item in self.lims if item.server == server), None)

    def with_lim(self, number: int, **changes) -> Cluster:
        return replace(self, lims=tuple(replace(item, **changes) if item.lim == number else item
                                        for item in self.lims))

    def next_generation(self, **changes) -> Cluster:
        return replace(self, generation=self.generation + 1, **changes)


@dataclass(frozen=True)
class System:
    """The system inventory (system.yaml): every server and every cluster."""
    servers: tuple[Server, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    schema: int = 1

    def server(self, name: str) -> Server | None:
        return next((s for s in self.servers if s.name == name), None)

    def server_with_lim(self, lim: int) -> Server | None:
        return next((s for s in self.servers if s.lim == lim), None)

    def cluster(self, name: str) -> Cluster | None:
        return next((c for c in self.clusters if c.name == name), None)

    def cluster_of_server(self, name: str) -> Cluster | None:
        return next((c for c in self.clusters if name in c.member_names), None)

    def cluster_of_lim(self, lim: int) -> Cluster | None:
        return next((c for c in self.clusters if c.lim(lim) is not None), None)

    def management_address(self, name: str) -> IPv4Interface:
        """Where the utility reaches a server: its cluster base address if it has one (the old
        address is then the LIM's alias, which may have moved to the standby), else its address."""
        cluster = self.cluster_of_server(name)
        base = cluster.base_of(name) if cluster else None
        server = self.server(name)
        if base is not None:
            return base
        if server is None:
            raise KeyError(name)
        return server.address

    def replace_cluster(self, cluster: Cluster) -> System:
        others = tuple(c for c in self.clusters if c.name != cluster.name)
        return replace(self, clusters=tuple(sorted(others + (cluster,), key=lambda c: c.name)))

    def without_cluster(self, name: str) -> System:
        return replace(self, clusters=tuple(c for c in self.clusters if c.name != name))

    def with_server(self, server: Server) -> System:
        others = tuple(s for s in self.servers if s.name != server.name)
        return replace(self, servers=others + (server,))

    def without_server(self, name: str) -> System:
        return replace(self, servers=tuple(s for s in self.servers if s.name != name))
