"""A plan as the shells show it, and the plan they apply.

Some plans need what only the servers know: the cluster key (add-lim), or which LIMs run on the standby
(remove-lim, delete, fallback). Such a proposal is first made without asking anybody, so every rule that
needs no server is checked (and a dry run shows the plan) before any SSH; `final` makes it again with
the servers' answers. The command line does that before it asks to apply, the menus after Apply, in a
worker.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops.cluster_keys import cluster_key
from mxone_maintenance.utility.ops.plan import Plan
from mxone_maintenance.utility.ops.requests import AddLim, DeleteCluster, RemoveLim, RuntimeFacts
from mxone_maintenance.utility.remote.settings import SshSettings

Replan = Callable[[Paths, SshSettings], Plan]


@dataclass(frozen=True)
class Proposal:
    """The plan to show (every rule checked that needs no server), and how to make the real one over SSH."""
    plan: Plan
    replan: Replan | None = None

    def final(self, paths: Paths, settings: SshSettings) -> Plan:
        """The plan to apply. May ask the servers (RemoteError), and a rule may refuse on their answer."""
        return self.replan(paths, settings) if self.replan else self.plan


def propose_add_lim(system: System, request: AddLim) -> Proposal:
    def with_key(paths: Paths, settings: SshSettings) -> Plan:
        return cluster_ops.plan_add_lim(system, request, cluster_key(paths, system, request.name, settings))

    return Proposal(cluster_ops.plan_add_lim(system, request, b""), with_key)


def propose_remove_lim(system: System, request: RemoveLim) -> Proposal:
    return _with_facts(system, request.name, lambda facts: cluster_ops.plan_remove_lim(system, request, facts))


def propose_delete(system: System, request: DeleteCluster) -> Proposal:
    return _with_facts(system, request.name, lambda facts: cluster_ops.plan_delete(system, request, facts))


def propose_fallback(system: System, lim: int) -> Proposal:
    cluster = cluster_ops.find_cluster_of_lim(system, lim)
    return _with_facts(system, cluster.name, lambda facts: cluster_ops.plan_fallback(system, lim, facts))


def propose_pause(system: System, name: str, minutes: float, now: float) -> Proposal:
    from mxone_maintenance.utility.ops.maintenance import plan_pause
    return _with_facts(system, name, lambda facts: plan_pause(system, name, minutes, facts, now))


def _with_facts(system: System, cluster_name: str, plan_for: Callable[[RuntimeFacts], Plan]) -> Proposal:
    """Planned once not knowing what runs on the standby, then again with the standby agent's answer."""
    def with_facts(_paths: Paths, settings: SshSettings) -> Plan:
        from mxone_maintenance.utility.ops.status import runtime_facts  # paramiko loads only here
        return plan_for(runtime_facts(system, cluster_name, settings))

    return Proposal(plan_for(RuntimeFacts()), with_facts)
