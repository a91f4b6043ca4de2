"""Row 23 off the loop (rsync over SSH takes seconds; heartbeats must go on): before the standby hands
a LIM back, the check that its regular holds our newest data; on the regular, the pull of the standby's
newer data while a fallback may come. One job per (LIM, peer) at a time, the last outcome of each kept."""
from __future__ import annotations

from collections.abc import Callable

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.datasync import NotYetSynced
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.ports import DataSync
from mxone_maintenance.agent.runtime.worker import Outcome, Worker
from mxone_maintenance.agent.state import SyncData
from mxone_maintenance.core.contracts.agent_status import SyncCheck

SYNC_FRESH_S = 30.0   # a successful data check older than this is done again before a release
SYNC_RETRY_S = 5.0    # after a failed one, wait this long before trying again

Pair = tuple[int, str]


class HandBack:
    def __init__(self, clock: Callable[[], float], threaded: bool, done: Callable[[], None]) -> None:
        self.clock = clock
        self.worker: Worker[Pair, None] = Worker("sync", threaded, done, clock, one_per_key=True, parallel=True)
        self.last: dict[Pair, Outcome[Pair, None]] = {}

    def synced(self, action: SyncData, standby: bool, sync: DataSync, alarms: AlarmBook) -> bool:
        """Standby: True once `server` holds our newest data (checked within SYNC_FRESH_S), else start
        the check and hold the release back. Regular: pull in the background, never hold anything."""
        key, now = (action.lim, action.server), self.clock()
        job = (lambda: sync.push(*key)) if standby else (lambda: sync.pull(*key))
        outcome = self.outcome(key)
        if outcome is None or now - outcome.ended >= (SYNC_FRESH_S if outcome.error is None else SYNC_RETRY_S):
            self.worker.submit(key, job)
            outcome = self.outcome(key)  # already there when jobs run inline (tests)
        self._report(action, outcome, alarms)
        if not standby:
            return True
        return outcome is not None and outcome.error is None and now - outcome.ended < SYNC_FRESH_S

    def outcome(self, key: Pair) -> Outcome[Pair, None] | None:
        self._collect()
        return self.last.get(key)

    def checks(self, now: float) -> tuple[SyncCheck, ...]:
        """For status: the last outcome of each pair."""
        self._collect()
        return tuple(SyncCheck(lim, peer, o.error is None, round(now - o.ended, 1), _error(o))
                     for (lim, peer), o in sorted(self.last.items()))

    def _collect(self) -> None:
        for outcome in self.worker.collect():
            self.last[outcome.key] = outcome

    @staticmethod
    def _report(action: SyncData, outcome: Outcome[Pair, None] | None, alarms: AlarmBook) -> None:
        """A failure is alarmed, except the regular not having pulled yet (normal for a moment)."""
        if outcome is None:
            return
        if outcome.error is None:
            alarms.clear(alarm_keys.sync(action.lim))
        elif not isinstance(outcome.error, NotYetSynced):
            alarms.raise_(alarm_keys.sync(action.lim), f"{alarm_keys.SYNC_TEXT}: LIM {action.lim} with "
                                                       f"{action.server}: {outcome.error}")


def _error(outcome: Outcome[Pair, None]) -> str:
    return "" if outcome.error is None else str(outcome.error)
