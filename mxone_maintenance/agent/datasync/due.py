"""Which syncs start now, and why (pure). Why a sync of a LIM starts: see values.Reason. What holds it:
the peer is not heard (it has failed: the failover alarms say so), the peer's clock differs too much
(clock.py), a sync of that LIM is already running, or MAX_PARALLEL run."""
from __future__ import annotations

from collections.abc import Iterable

from mxone_maintenance.agent.datasync.clock import clock_held
from mxone_maintenance.agent.datasync.values import Job, PairState, Reason

DAILY_S = 24 * 3600.0
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 300.0
MAX_PARALLEL = 2             # rsyncs at once (a standby with ten regulars does not start ten)


def retry_delay(failures: int) -> float:
    if failures <= 0:
        return 0.0
    return min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** min(failures - 1, 16))


def peer_has_newer(state: PairState) -> bool:
    """The peer advertises a version we have not acted on yet, newer than ours."""
    stamp = state.peer_stamp
    return (stamp is not None and stamp != state.seen_stamp
            and (state.local_stamp is None or stamp > state.local_stamp))


def hold_reason(state: PairState) -> str | None:
    """Why no sync of this pair may start now (None: it may)."""
    if state.busy:
        return "running"
    if not state.peer_alive:
        return f"waiting: {state.pair.peer} not heard"
    if clock_held(state.peer_skew):
        return f"held: clock of {state.pair.peer} differs by {abs(state.peer_skew):.1f} s"
    return None


def why_due(state: PairState, now: float, daily_s: float = DAILY_S) -> Reason | None:
    """The reason a sync of this pair should start now, or None."""
    if hold_reason(state) is not None:
        return None
    if state.ordered:
        return Reason.ORDER
    last = state.last
    if last is None:
        return Reason.FIRST
    if not last.ok:
        return Reason.RETRY if now - last.at >= retry_delay(state.failures) else None
    if peer_has_newer(state):
        return Reason.PEER_BACKUP
    if now - last.at >= daily_s:
        return Reason.DAILY
    return None


def due_syncs(states: Iterable[PairState], now: float, daily_s: float = DAILY_S,
              max_parallel: int = MAX_PARALLEL) -> list[Job]:
    """The syncs to start now: ordered ones first, then by LIM; never more running than max_parallel."""
    states = list(states)
    free = max_parallel - sum(1 for s in states if s.busy)
    due = [(s, reason) for s in states if (reason := why_due(s, now, daily_s)) is not None]
    due.sort(key=lambda item: (item[1] != Reason.ORDER, item[0].pair))
    return [Job(s.pair.lim, s.pair.peer, reason) for s, reason in due[:max(0, free)]]
