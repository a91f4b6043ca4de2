"""A regular server: it serves its own LIM unless the standby serves it (then it yields: split brain)
or it is locked to the standby; after a hand-back it takes the alias only once it has seen the release."""
from __future__ import annotations

from mxone_maintenance.agent.decide import alarms
from mxone_maintenance.agent.decide.cycle import Cycle
from mxone_maintenance.agent.decide.takeover import STARTING, take_when_clear
from mxone_maintenance.agent.decide.timing import silence_alarm_time
from mxone_maintenance.agent.state import SyncData
from mxone_maintenance.core.contracts.lim_state import LimState
from mxone_maintenance.core.model import ClusterLim


def regular(cycle: Cycle, lim: ClusterLim) -> None:
    standby = cycle.config.standby.server
    sb = cycle.peer(standby)
    standby_serves = cycle.alive(standby) and lim.lim in sb.active
    serving = lim.lim in cycle.obs.active
    if cycle.silent_for(standby, silence_alarm_time(cycle.config)) and not cycle.cut_off:
        cycle.alarm(alarms.STANDBY_DOWN)            # (our own cable out says nothing of the standby)
    elif cycle.alive(standby) and lim.lim in sb.unready:  # a new standby without our backups yet
        cycle.alarm(alarms.STANDBY_DOWN)
    if lim.lim in cycle.obs.fallback_orders and serving and not standby_serves:
        cycle.completed.add(lim.lim)
    if lim.lim in cycle.obs.sick:  # raised while the verdict stands, whoever serves the LIM meanwhile
        cycle.alarm(alarms.service_failed(lim.lim, cycle.obs.node))

    if lim.lock == "standby" or standby_serves:
        _yield_to_standby(cycle, lim, serving, standby_serves)
        return
    if lim.lim in cycle.obs.sick:
        _release_sick(cycle, lim, serving)
        return
    if serving:
        cycle.keep_announcing(lim.lim, rival=standby)
        cycle.say(lim.lim, cycle.obs.node, LimState.RUNNING_HERE)
        return
    cycle.ensure_passive(lim.lim)
    if not cycle.settled:
        cycle.say(lim.lim, None, LimState.LISTENING, listening=cycle.listening())
        return
    if cycle.preloaded and lim.lim not in cycle.obs.running:
        cycle.say(lim.lim, None, LimState.STARTING_PASSIVE)
        return
    handed_over = cycle.alive(standby) and (
        lim.lim in sb.releasing or (cycle.preloaded and lim.lim in sb.running and lim.lim in sb.blocked))
    take_when_clear(cycle, lim, handed_over, STARTING)


def _yield_to_standby(cycle: Cycle, lim: ClusterLim, serving: bool, standby_serves: bool) -> None:
    """Locked to the standby, or the standby serves it: release ours, stay passive, get its data."""
    standby = cycle.config.standby.server
    if serving:
        reason = "locked to standby" if lim.lock == "standby" else "split brain: standby serves it too"
        cycle.deactivate(lim.lim, reason)
        cycle.released[lim.lim] = cycle.now  # the standby may take it without probing
        if lim.lock != "standby":
            cycle.alarm(alarms.split_brain(lim.lim, cycle.obs.node, standby))
    cycle.ensure_passive(lim.lim)
    if standby_serves and _fallback_coming(cycle, lim):
        cycle.do(SyncData(lim.lim, standby))  # row 23: pull the standby's newer data beforehand
    cycle.say(lim.lim, standby if standby_serves else None, _waiting_state(cycle, lim))


def _release_sick(cycle: Cycle, lim: ClusterLim, serving: bool) -> None:
    """Its Service Node failed the health check here: stop it, release the alias (announced, so the
    standby takes it at once, by priority), and take nothing back while the check's verdict stands."""
    if serving:
        cycle.deactivate(lim.lim, "Service Node does not answer")
        cycle.released[lim.lim] = cycle.now
    cycle.ensure_passive(lim.lim)
    cycle.say(lim.lim, None, LimState.SERVICE_FAILED)


def _fallback_coming(cycle: Cycle, lim: ClusterLim) -> bool:
    """Will the standby hand this LIM back once we are up long enough (so our data must be current)?"""
    if lim.lock == "standby":
        return False
    return (lim.lock == "regular" or cycle.config.fallback == "automatic"
            or lim.lim in cycle.obs.fallback_orders)


def _waiting_state(cycle: Cycle, lim: ClusterLim) -> LimState:
    if lim.lock == "standby":
        return LimState.LOCKED_TO_STANDBY
    if lim.lock == "regular":
        return LimState.COMING_BACK
    if cycle.config.fallback == "manual":
        if lim.lim in cycle.obs.fallback_orders:
            return LimState.FALLBACK_ORDERED
        return LimState.WAITING_MANUAL
    return LimState.WAITING_AUTOMATIC


def report_seen(cycle: Cycle, lim: ClusterLim) -> None:
    """Status of a LIM a regular does not own: who serves it, as far as it hears."""
    holders = tuple(peer.name for peer in cycle.obs.peers if cycle.alive(peer.name) and lim.lim in peer.active)
    if holders:
        cycle.say(lim.lim, holders[0], LimState.RUNNING_ON, servers=holders)
    else:
        cycle.say(lim.lim, None, LimState.NOT_SEEN_RUNNING)
