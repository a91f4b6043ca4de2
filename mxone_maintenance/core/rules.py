"""The rules of DESIGN §5 as pure checks, each with its own message naming the offending value.

`system_errors(system)` checks every rule that a whole system must satisfy; the `check_*` functions
check the rules that are about a change (they need the system before it). Nothing here does I/O: all of
it runs in plan, before any server is touched.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from mxone_maintenance.core.model import MAX_LIMS_PER_CLUSTER, Cluster, System


@dataclass(frozen=True)
class RuleError:
    """One broken rule: `rule` is a stable identifier (tests and logs), `message` the one line users read."""
    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


class RuleViolation(Exception):
    """Raised by plan when a request breaks a rule; carries every broken rule, the first is shown."""

    def __init__(self, errors: Iterable[RuleError]):
        self.errors = tuple(errors)
        super().__init__(self.errors[0].message if self.errors else "rule broken")


def refusal(rule: str, message: str) -> RuleViolation:
    """One broken rule, to raise: `raise refusal("bad-name", "...")`."""
    return RuleViolation([RuleError(rule, message)])


def enforce(errors: list[RuleError]) -> None:
    """Raise RuleViolation if any rule is broken."""
    if errors:
        raise RuleViolation(errors)


_NOT_A_SERVER = ((IPv4Network("0.0.0.0/8"), "0.0.0.0/8 means this network"),
                 (IPv4Network("127.0.0.0/8"), "127.0.0.0/8 is loopback"),
                 (IPv4Network("224.0.0.0/4"), "224.0.0.0/4 is multicast"),
                 (IPv4Network("255.255.255.255/32"), "255.255.255.255 is broadcast"),
                 (IPv4Network("240.0.0.0/4"), "240.0.0.0/4 is reserved"),
                 # link-local: no router forwards it and the kernel may pick it for itself (zeroconf)
                 (IPv4Network("169.254.0.0/16"), "169.254.0.0/16 is link-local"))


def unusable_address(ip: IPv4Address) -> str | None:
    """Why `ip` cannot be a server's address (its own or a new base address); None if it can."""
    kind = next((kind for network, kind in _NOT_A_SERVER if ip in network), None)
    return None if kind is None else f"cannot be a server's address ({kind})"


def _members_of(cluster: Cluster, system: System) -> Iterator[tuple[str, object]]:
    for name in cluster.member_names:
        yield name, system.server(name)


def _max_lims(cluster: Cluster, system: System) -> Iterator[RuleError]:
    if len(cluster.lims) > MAX_LIMS_PER_CLUSTER:
        yield RuleError("max-lims", f"a cluster has at most {MAX_LIMS_PER_CLUSTER} LIMs (got {len(cluster.lims)})")
    if not cluster.lims:
        yield RuleError("min-lims", f"cluster {cluster.name} needs at least one LIM")


def _known_servers(cluster: Cluster, system: System) -> Iterator[RuleError]:
    for name, server in _members_of(cluster, system):
        if server is None:
            yield RuleError("unknown-server", f"no server named {name} in the system (cluster {cluster.name})")


def _standby_is_standby(cluster: Cluster, system: System) -> Iterator[RuleError]:
    server = system.server(cluster.standby.server)
    if server is not None and server.role != "standby":
        kind = f"a LIM server (LIM {server.lim})" if server.role == "lim" else "a free server"
        yield RuleError("standby-role", f"the standby of a cluster must be a standby server "
                                        f"({server.name} is {kind})")
    if server is not None and cluster.standby.base != server.address:
        yield RuleError("standby-base", f"the standby's base address must be its address "
                                        f"({server.name} is {server.address}, got {cluster.standby.base})")


def _lims_on_their_servers(cluster: Cluster, system: System) -> Iterator[RuleError]:
    for item in cluster.lims:
        server = system.server(item.server)
        if server is None:
            continue
        if server.role != "lim" or server.lim != item.lim:
            yield RuleError("lim-server", f"LIM {item.lim} is not on server {item.server} "
                                          f"(its LIM is {server.lim if server.lim else 'none'})")
        elif item.alias != server.address:
            yield RuleError("alias-is-old-base", f"the alias of LIM {item.lim} must be the old base address of "
                                                 f"{item.server} ({server.address}, got {item.alias})")


def _one_subnet(cluster: Cluster, system: System) -> Iterator[RuleError]:
    network = cluster.standby.base.network
    for item in cluster.lims:
        if item.base.network != network:
            yield RuleError("one-subnet", f"all servers of a cluster must be on one subnet "
                                          f"({item.server} base {item.base} is not on {network})")


def _alias_on_base_subnet(cluster: Cluster, system: System) -> Iterator[RuleError]:
    for item in cluster.lims:
        if item.alias.network != item.base.network:
            yield RuleError("alias-subnet", f"the alias of LIM {item.lim} must be on its base address's subnet "
                                            f"(alias {item.alias}, base {item.base})")


def _preloaded_pair(cluster: Cluster, system: System) -> Iterator[RuleError]:
    if cluster.failover == "preloaded" and len(cluster.lims) != 1:
        yield RuleError("preloaded-pair", f"preloaded failover is only for one regular server and the standby "
                                          f"(cluster {cluster.name} has {len(cluster.lims)} regular servers)")


def _one_lock_to_standby(cluster: Cluster, system: System) -> Iterator[RuleError]:
    locked = [item.lim for item in cluster.lims if item.lock == "standby"]
    if len(locked) > 1:
        shown = ", ".join(str(n) for n in locked)
        yield RuleError("one-standby-lock", f"at most one LIM may be locked to the standby (got LIMs {shown})")


def _timing(cluster: Cluster, system: System) -> Iterator[RuleError]:
    # a nanosecond of slack: 3 * 0.1 is 0.30000000000000004, and DESIGN §6 allows detect_s 0.3 with heartbeat_s 0.1
    if cluster.detect_s < 3 * cluster.heartbeat_s - 1e-9:
        yield RuleError("detect-vs-heartbeat", f"detect_s must be at least three heartbeat periods "
                                               f"(detect_s {cluster.detect_s:g}, heartbeat_s {cluster.heartbeat_s:g})")


_CLUSTER_RULES = (_max_lims, _known_servers, _standby_is_standby, _lims_on_their_servers, _one_subnet,
                  _alias_on_base_subnet, _preloaded_pair, _one_lock_to_standby, _timing)


def _membership(system: System) -> Iterator[RuleError]:
    """A standby belongs to one cluster; a LIM server belongs to one cluster. The message names every cluster
    the server is in: which of them is the "new" one only the plan knows (it says so before this check)."""
    clusters_of: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for cluster in system.clusters:
        for name in cluster.member_names:
            clusters_of.setdefault(name, [])
            if cluster.name not in clusters_of[name]:
                clusters_of[name].append(cluster.name)
            kinds[name] = "standby server" if name == cluster.standby.server else "LIM server"
    for name, names in clusters_of.items():
        if len(names) > 1:
            yield RuleError("one-cluster", f"a {kinds[name]} belongs to one cluster ({name} is in clusters "
                                           f"{', '.join(names)})")


def _unique_lims(system: System) -> Iterator[RuleError]:
    counts = Counter(item.lim for cluster in system.clusters for item in cluster.lims)
    for lim, count in sorted(counts.items()):
        if count > 1:
            yield RuleError("one-cluster", f"LIM {lim} already belongs to another cluster")


def _unique_names(system: System) -> Iterator[RuleError]:
    """Server names, server addresses and cluster names are unique (the loader checks the files too;
    this holds for any system a plan builds)."""
    checks = (("server name", [s.name for s in system.servers]),
              ("server address", [str(s.address.ip) for s in system.servers]),
              ("cluster name", [c.name for c in system.clusters]))
    for what, values in checks:
        for value, count in sorted(Counter(values).items()):
            if count > 1:
                yield RuleError("unique", f"each {what} must be unique ({value} is used {count} times)")


def _unique_addresses(system: System) -> Iterator[RuleError]:
    """New base addresses are unique and unused: not another server's address, not another base."""
    owners: dict[object, str] = {s.address.ip: f"server {s.name}" for s in system.servers}
    for cluster in system.clusters:
        for item in cluster.lims:
            owner = owners.get(item.base.ip)
            if owner is not None:
                yield RuleError("base-unused", f"new base address {item.base.ip} is already used by {owner}")
            owners[item.base.ip] = f"the base address of {item.server}"


def _usable_addresses(system: System) -> Iterator[RuleError]:
    """Server addresses and new base addresses are addresses a server can have."""
    for server in system.servers:
        if problem := unusable_address(server.address.ip):
            yield RuleError("usable-address", f"the address {server.address.ip} of server {server.name} {problem}")
    for cluster in system.clusters:
        for item in cluster.lims:
            if problem := unusable_address(item.base.ip):
                yield RuleError("usable-address", f"the new base address {item.base.ip} of {item.server} {problem}")


def system_errors(system: System) -> list[RuleError]:
    """Every rule a system must satisfy, checked on the whole system (order: per cluster, then across)."""
    errors: list[RuleError] = []
    for cluster in system.clusters:
        for rule in _CLUSTER_RULES:
            errors.extend(rule(cluster, system))
    errors.extend(_usable_addresses(system))
    errors.extend(_unique_names(system))
    errors.extend(_membership(system))
    errors.extend(_unique_lims(system))
    errors.extend(_unique_addresses(system))
    return errors


# --- rules about a change ----------------------------------------------------------------------

def preload_kept(before: Cluster, after: Cluster) -> list[RuleError]:
    """Preloading is removed only by deleting the cluster."""
    if before.failover == "preloaded" and after.failover != "preloaded":
        return [RuleError("preload-kept",
                          f"preloading of cluster {before.name} is removed only by deleting the cluster")]
    return []


def nothing_on_standby(cluster: Cluster, lims: Iterable[int], on_standby: Iterable[int], doing: str) -> list[RuleError]:
    """Removing a LIM or deleting a cluster is refused while a LIM of it runs on the standby."""
    running = sorted(set(lims) & set(on_standby))
    return [RuleError("lim-on-standby", f"cannot {doing}: LIM {lim} of cluster {cluster.name} runs on the standby "
                                        f"server; move it back first (cluster fallback --lim {lim})")
            for lim in running]


def server_not_in_cluster(system: System, name: str, doing: str) -> list[RuleError]:
    cluster = system.cluster_of_server(name)
    if cluster is not None:
        return [RuleError("server-in-cluster", f"cannot {doing}: server {name} belongs to cluster {cluster.name}")]
    return []
