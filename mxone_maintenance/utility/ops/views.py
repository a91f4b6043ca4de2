"""Plain-text views of the system for the command line and the menus (pure)."""
from __future__ import annotations

from mxone_maintenance.core.model import Cluster, System


def _lim_rows(cluster: Cluster) -> list[str]:
    rows = []
    for item in cluster.lims:
        lock = f"locked to {item.lock}" if item.lock else "-"
        rows.append(f"  LIM {item.lim:<3} {item.server:<10} base {str(item.base):<18} alias {str(item.alias):<18} "
                    f"priority {item.priority:<4} {lock}")
    return rows


def cluster_summary(cluster: Cluster) -> str:
    return (f"Cluster {cluster.name} (generation {cluster.generation}): standby {cluster.standby.server}, "
            f"failover {cluster.failover}, fallback {cluster.fallback}, detect {cluster.detect_s:g} s, "
            f"heartbeat {cluster.heartbeat_s:g} s")


def cluster_table(system: System) -> str:
    if not system.clusters:
        return "No clusters in the system."
    blocks = []
    for cluster in system.clusters:
        blocks.append("\n".join([cluster_summary(cluster)] + _lim_rows(cluster)))
    return "\n\n".join(blocks)
