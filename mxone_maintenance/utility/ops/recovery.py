"""Finish or undo a change that a killed run left unfinished (its journal: ops/journal.py).

Both are plans from what the servers may hold to where they must end, made per server from its
membership before and after: a server that joins gets everything a create gives it, one that leaves
gets everything a delete takes, one that stays gets the new cluster.yaml. Every step is idempotent
(ops/address_changes.py, the transaction's writes), so each server converges whichever part of the
interrupted change it had done, and a rerun of an interrupted finish or undo converges too.

Undo goes back to the settings before the change *as a newer generation* (ops/generations.py): agents
that already run the new one follow it.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from mxone_maintenance.core.model import Cluster, System
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops.generations import rolled_forward
from mxone_maintenance.utility.ops.journal import Journal
from mxone_maintenance.utility.ops.plan import CleanStaged, Plan, ServerPlan, Step

KeyFor = Callable[[str], bytes]     # a cluster's key by name (the journal's, else the one kept on LIM 1)


def _member_steps(server: str, start: Cluster | None, goal: Cluster | None, key_for: KeyFor) -> tuple[Step, ...]:
    if goal is None and start is None:
        return ()
    if goal is None:
        item = next((i for i in start.lims if i.server == server), None)
        return cluster_ops.leaving_steps(item, start) if item else cluster_ops.standby_leaving_steps()
    if start is None or start.name != goal.name:
        item = next((i for i in goal.lims if i.server == server), None)
        key = key_for(goal.name)
        return cluster_ops.joining_steps(item, goal, key) if item else cluster_ops.standby_joining_steps(goal, key)
    if start == goal:
        return ()
    joined = set(goal.member_names) - set(start.member_names)
    return cluster_ops.staying_steps(goal, key_for(goal.name) if joined else None)


def _connect_address(start: System, goal: System, server: str) -> str:
    """A regular that joins or leaves is reached at its own address (its base may not be up); every
    other member at its cluster base."""
    start_c, goal_c = start.cluster_of_server(server), goal.cluster_of_server(server)
    changing = (start_c is None) != (goal_c is None)
    in_cluster = goal_c or start_c
    if changing and in_cluster is not None and in_cluster.standby.server != server:
        return cluster_ops.original_address(goal if goal.server(server) else start, server)
    system = goal if goal_c is not None else start
    return cluster_ops.address_of(system, server)


def converge_plan(start: System, goal: System, key_for: KeyFor, action: str, title: str) -> Plan:
    """Every member of a cluster that differs between the systems brought to its part of `goal`, whatever
    it holds of `start` (the members of other clusters are not touched)."""
    names = [n for c in (*start.clusters, *goal.clusters)
             if start.cluster(c.name) != goal.cluster(c.name) for n in c.member_names]
    servers = []
    key_for = functools.cache(key_for)      # asked once per cluster, however many members need it
    for name in dict.fromkeys(names):
        steps = _member_steps(name, start.cluster_of_server(name), goal.cluster_of_server(name), key_for)
        servers.append(ServerPlan(name, _connect_address(start, goal, name),
                                  (CleanStaged(),) + steps))
    changed = [c.name for c in goal.clusters if c != start.cluster(c.name)]
    gone = [c.name for c in start.clusters if goal.cluster(c.name) is None]
    words = [f"cluster {n} at generation {goal.cluster(n).generation}" for n in changed] + \
            [f"cluster {n} removed" for n in gone]
    return Plan(action=action, title=title, before=start, after=goal, servers=tuple(servers),
                checks=("every server answers over SSH with its pinned host key",),
                system_change="; ".join(words) or "as it is")


def plan_finish(journal: Journal, key_for: KeyFor) -> Plan:
    """The interrupted change carried through on every server."""
    return converge_plan(journal.before, journal.after, _journal_first(journal, key_for), "cluster finish",
                         f"finish the interrupted change: {journal.title}")


def plan_undo(journal: Journal, key_for: KeyFor) -> Plan:
    """Every server back to the settings before the interrupted change, as a newer generation."""
    return converge_plan(journal.after, rolled_forward(journal.before, journal.after), _journal_first(journal, key_for), "cluster undo",
                         f"undo the interrupted change: {journal.title}")


def _journal_first(journal: Journal, key_for: KeyFor) -> KeyFor:
    return lambda name: journal.secrets.get(name) or key_for(name)
