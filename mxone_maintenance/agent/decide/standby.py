"""The standby server serves at most one LIM: the one locked to it, else the failed regular's LIM with
the lowest priority value (equal keeps the current one, strictly better replaces it). Fallback hands the
LIM back (automatic: after the regular was heard for H; manual: when ordered), its data first."""
from __future__ import annotations

from mxone_maintenance.agent.decide import alarms
from mxone_maintenance.agent.decide.cycle import Cycle
from mxone_maintenance.agent.decide.takeover import TAKING_OVER, preprobe, take_when_clear, watch_duplicate
from mxone_maintenance.agent.decide.timing import hold_time, settle_time
from mxone_maintenance.agent.state import SyncData, TakeAlias, Unblock
from mxone_maintenance.core.contracts.lim_state import LimState, NotServed, why_words
from mxone_maintenance.core.model import ClusterLim


def standby(cycle: Cycle) -> None:
    _undamp_on_order(cycle)
    target = _choose_target(cycle)
    cycle.target = target.lim if target else None
    for number in sorted(cycle.obs.active):
        if target is None or number != target.lim:
            _hand_back(cycle, number, target)
    for lim in cycle.config.lims:
        if lim.lim not in cycle.obs.active or target is None or lim.lim != target.lim:
            cycle.ensure_passive(lim.lim)
    if target is not None:
        _serve(cycle, target)
    preprobe(cycle, target)
    for lim in cycle.config.lims:
        if target is None or lim.lim != target.lim:
            _report_other(cycle, lim, target)
    for number in cycle.obs.fallback_orders:
        if number not in cycle.obs.active or cycle.config.lim(number) is None:
            cycle.completed.add(number)
    for lim in cycle.config.lims:
        if lim.lim in cycle.damped:
            cycle.alarm(alarms.flapping(lim.lim, lim.server, cycle.config.flap_returns, cycle.config.flap_window_s))


# --- which LIM it serves ------------------------------------------------------------------------------

def _orders_for(cycle: Cycle, lim: ClusterLim) -> frozenset[int]:
    """Fallback orders reach either agent: the standby's own and those its regular advertises."""
    return cycle.obs.fallback_orders | cycle.peer(lim.server).fallback_orders


def _may_hand_back(cycle: Cycle, lim: ClusterLim) -> bool:
    """Fallback for a LIM this standby serves: its regular is back (and its Service Node's health check
    did not just fail there), and by the fallback rules; a flapping regular's LIM waits for an order."""
    regular = cycle.peer(lim.server)
    if lim.lock == "standby" or not cycle.alive(lim.server) or lim.lim in regular.active or lim.lim in regular.sick:
        return False  # a regular that still serves it yields first (split brain), then fallback
    heard = cycle.heard_for(lim.server)
    if lim.lock == "regular" or lim.lim in _orders_for(cycle, lim):
        return heard >= settle_time(cycle.config)
    return cycle.config.fallback == "automatic" and lim.lim not in cycle.damped and heard >= hold_time(cycle.config)


def _regular_down(cycle: Cycle, lim: ClusterLim) -> bool:
    """Failed (silent for D), or alive but its Service Node failed the health check there."""
    return cycle.failed(lim.server) or (cycle.alive(lim.server) and lim.lim in cycle.peer(lim.server).sick)


def _needs_standby(cycle: Cycle, lim: ClusterLim) -> bool:
    if lim.lock == "standby":
        return True
    if lim.lim in cycle.obs.active:
        return not _may_hand_back(cycle, lim)
    return lim.lock != "regular" and _regular_down(cycle, lim)


def _choose_target(cycle: Cycle) -> ClusterLim | None:
    """Locked to standby first; else the lowest priority value; equal keeps the current one."""
    locked = [lim for lim in cycle.config.lims if lim.lock == "standby"]
    if locked:
        return min(locked, key=lambda lim: lim.lim)
    needs = [lim for lim in cycle.config.lims if _needs_standby(cycle, lim)]
    if not needs:
        return None
    best = min(lim.priority for lim in needs)
    current = [lim for lim in needs if lim.priority == best and
               (lim.lim in cycle.obs.active or lim.lim == cycle.obs.memory.target)]
    return current[0] if current else min((lim for lim in needs if lim.priority == best),
                                          key=lambda lim: lim.lim)


# --- serving it, handing the others back --------------------------------------------------------------

def _hand_back(cycle: Cycle, number: int, target: ClusterLim | None) -> None:
    """Stop serving a LIM: fallback, lock, or a better LIM needs the standby. Data goes first."""
    lim = cycle.config.lim(number)
    if lim is None:
        cycle.deactivate(number, "not in the cluster any more")
        return
    if _may_hand_back(cycle, lim):
        reason = "fallback" if lim.lock is None else f"locked to {lim.lock}"
    elif target is not None and target.lock == "standby":
        reason = f"LIM {target.lim} is locked to the standby"
    else:
        reason = f"preempted by LIM {target.lim} (priority {target.priority})" if target else "not needed"
    if cycle.alive(lim.server):
        cycle.do(SyncData(number, lim.server))  # row 23: newer data first, the regular waits for release
    cycle.deactivate(number, reason)
    cycle.released[number] = cycle.now


def _serve(cycle: Cycle, lim: ClusterLim) -> None:
    node = cycle.obs.node
    if lim.lim in cycle.obs.active:
        cycle.keep_announcing(lim.lim)
        cycle.alarm(alarms.lim_on_standby(lim.lim))
        kind, servers = _serving_state(cycle, lim)
        cycle.say(lim.lim, node, kind, servers=servers)
        if not cycle.alive(lim.server):
            watch_duplicate(cycle, lim)
        return
    regular = cycle.peer(lim.server)
    if not cycle.settled:
        cycle.say(lim.lim, None, LimState.LISTENING, listening=cycle.listening())
    elif cycle.preloaded and lim.lim not in cycle.obs.running:
        cycle.say(lim.lim, None, LimState.TAKING_OVER_PASSIVE)
    elif cycle.alive(lim.server) and lim.lim in regular.active:
        cycle.say(lim.lim, lim.server, LimState.TAKING_OVER_WAITING, servers=(lim.server,))
    else:
        handed_over = cycle.alive(lim.server) and lim.lim in regular.releasing
        take_when_clear(cycle, lim, handed_over, TAKING_OVER, _failed_at(cycle, lim.server),
                        silent_peer=lim.server)
        if lim.lim in {a.lim for a in cycle.actions if isinstance(a, (TakeAlias, Unblock))}:
            cycle.alarm(alarms.lim_on_standby(lim.lim))
            if lim.lock != "standby":
                _count_failure(cycle, lim)


def _count_failure(cycle: Cycle, lim: ClusterLim) -> None:
    """Flap damping: the K-th takeover of a LIM within T turns its automatic fallback into manual."""
    window = cycle.config.flap_window_s
    cycle.takeovers = [(n, at) for n, at in cycle.takeovers if cycle.now - at < window] + [(lim.lim, cycle.now)]
    if sum(1 for n, _ in cycle.takeovers if n == lim.lim) >= cycle.config.flap_returns:
        cycle.damped.add(lim.lim)


def _undamp_on_order(cycle: Cycle) -> None:
    """A fallback order, or a lock to the regular, is the technician's word: damping ends."""
    for lim in cycle.config.lims:
        if lim.lim in cycle.damped and (lim.lock == "regular" or lim.lim in _orders_for(cycle, lim)):
            cycle.damped.discard(lim.lim)
            cycle.takeovers = [(n, at) for n, at in cycle.takeovers if n != lim.lim]


def _failed_at(cycle: Cycle, name: str) -> float | None:
    """When a silent peer passed D (None: never heard, or not failed)."""
    peer = cycle.peer(name)
    return None if peer.last_heard is None else peer.last_heard + cycle.config.detect_s


def _serving_state(cycle: Cycle, lim: ClusterLim) -> tuple[LimState, tuple[str, ...]]:
    if lim.lock == "standby":
        return LimState.ON_STANDBY_LOCKED, ()
    if not cycle.alive(lim.server):
        return LimState.ON_STANDBY, ()
    if lim.lim in cycle.peer(lim.server).active:
        return LimState.ON_STANDBY_SPLIT_BRAIN, (lim.server,)
    if cycle.config.fallback == "manual" and lim.lim not in _orders_for(cycle, lim):
        return LimState.WAITING_MANUAL, ()
    return LimState.ON_STANDBY_HOLD, ()


# --- the LIMs it does not serve -----------------------------------------------------------------------

def _report_other(cycle: Cycle, lim: ClusterLim, target: ClusterLim | None) -> None:
    """Status (and the not-served alarm) of a LIM the standby does not serve."""
    regular, server = cycle.peer(lim.server), (lim.server,)
    if cycle.cut_off and not cycle.alive(lim.server):
        cycle.say(lim.lim, None, LimState.NOT_HEARD, listening=cycle.listening(), servers=server)
    elif cycle.alive(lim.server) and lim.lim in regular.active:
        cycle.say(lim.lim, lim.server, LimState.RUNNING_ON, servers=server)
    elif cycle.alive(lim.server):
        kind = LimState.HANDED_BACK if lim.lim in cycle.released else LimState.NOT_RUNNING
        cycle.say(lim.lim, None, kind, servers=server)
    elif not cycle.failed(lim.server):
        cycle.say(lim.lim, None, LimState.LISTENING_FOR, servers=server)
    else:
        why, other = _why_not_served(lim, target)
        cycle.say(lim.lim, None, LimState.NOT_SERVED, why=why, other_lim=other)
        cycle.alarm(alarms.not_served(lim, why_words(why, other)))


def _why_not_served(lim: ClusterLim, target: ClusterLim | None) -> tuple[NotServed, int | None]:
    if lim.lock == "regular":
        return NotServed.LOCKED_TO_REGULAR, None
    if target is not None and target.priority < lim.priority:
        return NotServed.LOWER_PRIORITY, None
    if target is not None:
        return NotServed.STANDBY_BUSY, target.lim
    return NotServed.STANDBY_NOT_READY, None
