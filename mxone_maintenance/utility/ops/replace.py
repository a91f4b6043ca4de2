"""The plan for `server replace`: a server rebuilt on new hardware at its address in the cluster (a
regular at its base address, the standby at its own) gets everything the cluster put on the old one.

No setting changes (system.yaml and every cluster.yaml stay at their generation). The new server gets
what joining gave the old one: cluster.yaml, the heartbeat and sync keys, the sync key's
authorized_keys line, the members' host keys and its network file naming its base address (a regular;
the alias is not touched: whoever serves the LIM holds it). Every other member gets the members' host
keys again, since the new server's key is not the old one's and their agents sync with it.

The key the server presented is trusted for it while the change is made and pinned in known_hosts only
once it is made (PinHostKey), its agent checked first (AgentCheck).

What follows is the agents' (SCENARIOS row 23 and the standby's readiness): a new regular pulls its
LIM's newest data from the standby that runs it before the LIM moves back by the cluster's fallback
type; a new standby pulls two backups of every regular before it counts as ready.
"""
from __future__ import annotations

from mxone_maintenance.core.model import Cluster, Server, System
from mxone_maintenance.core.rules import refusal
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops.plan import (
    AddAddress,
    AgentCheck,
    CleanStaged,
    DiskCheck,
    PinHostKey,
    Plan,
    ServerPlan,
    Step,
)
from mxone_maintenance.utility.remote.settings import PresentedKey


def find_server(system: System, name: str) -> Server:
    server = system.server(name)
    if server is None:
        known = ", ".join(s.name for s in system.servers) or "none"
        raise refusal("unknown-server", f"no server named {name} in the system (servers: {known})")
    return server


def replace_address(system: System, name: str) -> str:
    """Where the new server answers: a regular in a cluster at its base address, else its own."""
    return cluster_ops.address_of(system, name)


def _new_server_steps(system: System, cluster: Cluster, name: str, key: bytes) -> tuple[Step, ...]:
    item = next((i for i in cluster.lims if i.server == name), None)
    if item is None:
        return (CleanStaged(), *cluster_ops.standby_joining_steps(cluster, key))
    # It boots at the base already: `ip addr replace` would change nothing, and undoing it in a rollback
    # would take the address the server answers at.
    joining = [s for s in cluster_ops.joining_steps(item, cluster, key) if not isinstance(s, AddAddress)]
    return (CleanStaged(), *joining)


def plan_replace(system: System, name: str, key: bytes, old_key: str, new: PresentedKey) -> Plan:
    """`old_key`: the pinned host key ("ssh-ed25519 SHA256:..." or "none"); `new`: the one presented."""
    server = find_server(system, name)
    cluster = system.cluster_of_server(server.name)
    accepted = f"host key {new.described} accepted" + \
        (f" (was {old_key})" if old_key != new.described else " (unchanged)")
    checks = (f"{name} answers at {replace_address(system, name)} with host key {new.described}",)
    pin = PinHostKey(new.key_type, new.blob, new.fingerprint)
    if cluster is None:
        return Plan(action="server replace", title=f"replace {name} (in no cluster): {accepted}", before=system,
                    after=system, servers=(ServerPlan(name, replace_address(system, name), (pin,)),),
                    checks=checks, agent_check=AgentCheck((name,)))
    steps = _new_server_steps(system, cluster, name, key)
    servers = [ServerPlan(name, replace_address(system, name), (steps[0], pin, *steps[1:]))]
    servers += [ServerPlan(member, cluster_ops.address_of(system, member), (cluster_ops.host_keys(cluster),))
                for member in cluster.member_names if member != name]
    standby = cluster.standby.server == name
    role = "the standby" if standby else f"LIM {server.lim}"
    # a new standby must hold two backups of every regular (DESIGN §5), as at create
    disk = DiskCheck(name, tuple(item.server for item in cluster.lims)) if standby else None
    return Plan(action="server replace",
                title=f"replace {name} ({role} of cluster {cluster.name}, generation {cluster.generation}): "
                      f"{accepted}",
                before=system, after=system, servers=tuple(servers), checks=checks, disk_check=disk,
                agent_check=AgentCheck((name,)))


def preview_replace(system: System, name: str, given: str) -> Plan:
    """The plan the menus show before Apply: the fingerprint the technician typed, not yet held against
    the server (final_replace_plan does that after Apply)."""
    return plan_replace(system, name, b"", "the pinned key", PresentedKey("the key", "", f"{given} (checked after Apply)"))
