"""Generations across a change: the number by which agents tell a newer cluster.yaml from an older one
(they never go back to a lower one), so every correction of a change must be a newer generation.

- A change rolled back after some server committed goes back to the old settings *as a newer
  generation* (`rolled_forward`), so agents that already read the new file follow.
- A plan made from a system.yaml older than what the servers hold (one restored from a backup, or a
  run whose last write was lost) is numbered above the servers' generation when they hold the same
  settings as system.yaml, and refused when they hold other settings: nothing a later change did on
  the servers is silently undone.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mxone_maintenance.core import paths
from mxone_maintenance.core.config import dump_cluster
from mxone_maintenance.core.model import Cluster, System
from mxone_maintenance.utility.ops.plan import Plan, ServerPlan, WriteFile

CLUSTER_FILE = str(paths.CLUSTER_FILE)


class GenerationConflict(Exception):
    """The servers hold a newer configuration than system.yaml, with other settings: one line."""


def rolled_forward(before: System, after_change: System) -> System:
    """The system `before`, with each cluster the change changed numbered above the change's."""
    system = before
    for cluster in before.clusters:
        after = after_change.cluster(cluster.name)
        if after is not None and after != cluster:
            system = system.replace_cluster(replace(cluster, generation=after.generation + 1))
    return system


def undo_cluster_file(plan: Plan, server: str) -> bytes | None:
    """What rollback writes over cluster.yaml on `server`: the old settings as a newer generation, or
    None when the server had no cluster before (rollback then removes the file)."""
    cluster = rolled_forward(plan.before, plan.after).cluster_of_server(server)
    if cluster is None or cluster == plan.before.cluster_of_server(server):
        return None
    return dump_cluster(cluster).encode()


def _same_settings(one: Cluster, other: Cluster) -> bool:
    return replace(one, generation=0) == replace(other, generation=0)


def _newest_held(held: Mapping[str, Cluster | None], planned: Cluster) -> tuple[str, Cluster] | None:
    """The newest cluster.yaml of `planned`'s cluster not below it that a server holds, other than the
    planned one itself (which a server holds when this run finishes an interrupted change)."""
    found = [(server, cluster) for server, cluster in held.items()
             if cluster is not None and cluster.name == planned.name and cluster.generation >= planned.generation
             and cluster != planned]
    return max(found, key=lambda pair: pair[1].generation) if found else None


def numbered_above_servers(plan: Plan, held: Mapping[str, Cluster | None]) -> Plan:
    """The plan with each cluster it writes numbered above the newest generation a server holds.
    `held`: each reachable server's cluster.yaml (None: none, or unreadable)."""
    for after in plan.after.clusters:
        before = plan.before.cluster(after.name)
        if after == before:
            continue
        newest = _newest_held(held, after)
        if newest is None:
            continue
        server, theirs = newest
        if before is None or not _same_settings(theirs, before):
            said = f"generation {before.generation}" if before else "no such cluster"
            raise GenerationConflict(
                f"{server} holds generation {theirs.generation} of cluster {after.name} with other settings "
                f"than system.yaml ({said}): is system.yaml restored from a backup, or a change unfinished?")
        plan = renumbered(plan, after.name, theirs.generation + 1)
    return plan


def renumbered(plan: Plan, name: str, generation: int) -> Plan:
    """The plan writing generation `generation` of cluster `name` (same settings)."""
    cluster = replace(plan.after.cluster(name), generation=generation)
    content = dump_cluster(cluster).encode()
    note = f"generation {generation}"

    def step_for(server: str, step):
        if isinstance(step, WriteFile) and step.path == CLUSTER_FILE and server in cluster.member_names:
            return replace(step, content=content, note=note)
        return step

    servers = tuple(ServerPlan(s.server, s.address, tuple(step_for(s.server, step) for step in s.steps))
                    for s in plan.servers)
    return replace(plan, after=plan.after.replace_cluster(cluster), servers=servers,
                   system_change=f"cluster {name} now generation {generation} (above the servers' "
                                 f"{generation - 1})")
