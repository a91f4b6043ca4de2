"""Plain-text views of the system for the command line and the menus (pure), in columns that fit 80."""
from __future__ import annotations

from mxone_maintenance.core import config
from mxone_maintenance.core.model import Cluster, System


def _cluster_block(c: Cluster) -> str:
    """The settings on their own lines, then one line per LIM."""
    lines = [f"Cluster {c.name} (generation {c.generation}): standby {c.standby.server}",
             f"  failover {c.failover}, fallback {c.fallback}, detect {c.detect_s:g} s, heartbeat {c.heartbeat_s:g} s",
             f"  {'LIM':<5}{'server':<12}{'base':<18}{'alias':<18}{'priority':<10}lock"]
    lines += [f"  {item.lim:<5}{item.server:<12}{str(item.base):<18}{str(item.alias):<18}{item.priority:<10}"
              f"{item.lock or '-'}" for item in c.lims]
    return "\n".join(lines)


def clusters_text(system: System) -> str:
    """List all clusters."""
    if not system.clusters:
        return "No clusters in the system."
    return "\n\n".join(_cluster_block(c) for c in system.clusters)


def clusters_data(system: System) -> dict:
    """List all clusters as JSON: each as in cluster.yaml."""
    return {"clusters": [config.cluster_to_data(c) for c in system.clusters]}


def servers_text(system: System, roles: tuple[str, ...] = ("lim", "standby", "free")) -> str:
    """List servers (of these roles), with the cluster each is in."""
    shown = [s for s in system.servers if s.role in roles]
    if not shown:
        return "No such servers in the system."
    lines = [f"{'server':<12}{'address':<20}{'role':<10}{'LIM':<5}cluster"]
    for s in shown:
        cluster = system.cluster_of_server(s.name)
        lim = str(s.lim) if s.lim is not None else "-"
        lines.append(f"{s.name:<12}{str(s.address):<20}{s.role:<10}{lim:<5}{cluster.name if cluster else '-'}")
    return "\n".join(lines)
