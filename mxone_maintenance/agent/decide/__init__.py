"""The agent's decisions: `decide(config, observations, now) -> Decision`, pure (no I/O, no clock).

DESIGN §6 and SCENARIOS.md, rule by rule. Every node runs the same function over its own view:
- a regular server serves its own LIM unless the standby serves it (then it yields: split brain) or
  it is locked to the standby; a node that just started waits two heartbeat periods first (row 24)
  unless it already holds the alias (row 25);
- the standby serves at most one LIM: the one locked to it, else the failed regular's LIM with the
  lowest priority value (equal keeps the current one, strictly better replaces it);
- fallback: the standby hands the LIM back (automatic: after the regular was heard for the hold time
  H; manual: when ordered) and announces the release; the regular takes the alias only once it has
  seen that release, so there are never two holders;
- before taking an alias that nobody handed over, probe it with ARP; an answer blocks the takeover;
- a regular whose Service Node failed its health check releases its LIM (the standby takes it as from a
  failed regular); a LIM taken over K times within T falls back only when ordered (flap damping);
- paused (maintenance mode): every node keeps what it serves and decides nothing.
Preloaded clusters run the LIM on both sides: "release" is Block, "take" is Unblock + Announce.

The parts: timing.py (every time, from the config), cycle.py (one decision in the making: what this
node knows of its peers, the effects in both failover modes), regular.py, standby.py, takeover.py
(probing before taking an alias), alarms.py (the failover alarms' keys and texts). Each LIM's state is
a LimState (core/contracts/lim_state.py), whose words status shows.
"""
from __future__ import annotations

from mxone_maintenance.agent.decide import alarms
from mxone_maintenance.agent.decide.cycle import Cycle
from mxone_maintenance.agent.decide.regular import regular, report_seen
from mxone_maintenance.agent.decide.standby import standby
from mxone_maintenance.agent.decide.timing import (
    announce_period,
    hold_time,
    preprobe_lead,
    probe_fresh_time,
    probe_timeout,
    probe_tries,
    release_memory_time,
    relisten_time,
    reprobe_time,
    settle_time,
)
from mxone_maintenance.agent.state import Decision, Observations
from mxone_maintenance.core.contracts.lim_state import LimState
from mxone_maintenance.core.model import Cluster

__all__ = ["announce_period", "decide", "hold_time", "preprobe_lead", "probe_fresh_time", "probe_timeout", "probe_tries",
           "release_memory_time", "relisten_time", "reprobe_time", "settle_time"]


def decide(config: Cluster, observations: Observations, now: float) -> Decision:
    """What this node does now, as a value. Same inputs, same Decision."""
    cycle = Cycle(config, observations, now)
    if observations.link_down:
        cycle.alarm(alarms.link_down(config))
    if observations.paused:
        _paused(cycle)
    elif observations.node == config.standby.server:
        standby(cycle)
    else:
        _regular_node(cycle)
    cycle.forget_old_releases()
    return cycle.decision()


def _paused(cycle: Cycle) -> None:
    """Maintenance mode: serve what is served (its gratuitous ARP goes on), take nothing, release
    nothing, yield nothing; the alarms stand as they are."""
    cycle.target = cycle.obs.memory.target
    cycle.frozen = True
    for lim in cycle.config.lims:
        holders = ([cycle.obs.node] if lim.lim in cycle.obs.active else []) + \
            [p.name for p in cycle.obs.peers if cycle.alive(p.name) and lim.lim in p.active]
        if lim.lim in cycle.obs.active:
            cycle.keep_announcing(lim.lim)
        cycle.say(lim.lim, holders[0] if holders else None, LimState.PAUSED, servers=tuple(holders))


def _regular_node(cycle: Cycle) -> None:
    """Its own LIMs by the rules; of the others only what it sees; any other alias it holds goes."""
    config, node = cycle.config, cycle.obs.node
    mine = [lim for lim in config.lims if lim.server == node]
    for lim in mine:
        regular(cycle, lim)
    for lim in config.lims:
        if lim.server != node:
            report_seen(cycle, lim)
    for number in sorted(cycle.obs.running - {lim.lim for lim in mine}):
        cycle.deactivate(number, "not this server's LIM")
    for number in cycle.obs.fallback_orders:
        if config.lim(number) is None or config.lim(number).server != node:
            cycle.completed.add(number)
