"""Maintenance mode (`cluster pause`, `cluster resume`): orders to every member's agent. A pause order is
(stamp, until) in wall-clock seconds; the newest stamp wins on every agent, which passes it on in its
heartbeats, so a member that was down learns it from its peers (agent/runtime/pause.py)."""
from __future__ import annotations

import time

from mxone_maintenance.core.model import Cluster, System
from mxone_maintenance.core.rules import refusal
from mxone_maintenance.utility.ops.cluster import address_of, find_cluster
from mxone_maintenance.utility.ops.plan import OrderAgent, Plan, ServerPlan
from mxone_maintenance.utility.ops.requests import RuntimeFacts


def plan_pause(system: System, name: str, minutes: float, facts: RuntimeFacts, now: float) -> Plan:
    """Maintenance mode for every member (an order: the agents keep serving what they serve and decide
    nothing until `minutes` have passed or a resume); refused while a LIM is on the move."""
    cluster = find_cluster(system, name)
    if not 1 <= minutes <= 7 * 24 * 60:
        raise refusal("pause-minutes", f"a pause lasts 1 to 10080 minutes (got {minutes:g})")
    if facts.moving:
        moving = ", ".join(map(str, sorted(facts.moving)))
        raise refusal("pause-while-moving", f"LIM {moving} of cluster {cluster.name} is moving now; pause once "
                                            "it has settled (see cluster status)")
    until = now + minutes * 60
    order = OrderAgent(("pause", "--stamp", f"{now:.3f}", "--until", f"{until:.0f}"),
                       note=f"pause: keep serving, take no decision until {_clock(until)} (or a resume)")
    return _order_to_members(system, cluster, order, "cluster pause",
                             f"pause cluster {cluster.name} (maintenance mode) for {minutes:g} minutes")


def plan_resume(system: System, name: str, now: float) -> Plan:
    cluster = find_cluster(system, name)
    order = OrderAgent(("resume", "--stamp", f"{now:.3f}"), note="resume: decide again by the cluster's rules")
    return _order_to_members(system, cluster, order, "cluster resume", f"resume cluster {cluster.name}")


def _order_to_members(system: System, cluster: Cluster, order: OrderAgent, action: str, title: str) -> Plan:
    return Plan(action=action, title=title, before=system, after=system,
                servers=tuple(ServerPlan(name, address_of(system, name), (order,)) for name in cluster.member_names))


def _clock(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(wall))
