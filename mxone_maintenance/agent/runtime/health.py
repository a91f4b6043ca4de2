"""Watching the Service Node of every LIM this server serves (agent.yaml `service.check`), off the
loop: one check per LIM at a time, every interval. `failures` misses in a row are the verdict:
- on a regular, the LIM is "sick" here: decide() releases it and the standby takes it; the verdict
  stands for the hold time after the release (the regular cannot check a Service Node it does not run:
  the alias is the standby's then), after which the fallback rules bring it back and the check starts
  again -- a regular that fails again is caught by flap damping;
- on the standby (nowhere else to go), the Service Node is restarted once, then the alarm stays.
A check that cannot run is its own alarm and never a pass."""
from __future__ import annotations

import logging
from collections.abc import Callable
from ipaddress import IPv4Address

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.effects.health_check import CheckOutcome, HealthCheck, Verdict
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.worker import Worker
from mxone_maintenance.core.model import Cluster

Checker = Callable[[int, IPv4Address], CheckOutcome]
log = logging.getLogger("mxone-cluster-agent")


class HealthWatch:
    def __init__(self, check: HealthCheck, checker: Checker, clock: Callable[[], float], threaded: bool,
                 done: Callable[[], None], verdict: Callable[[int, str], None] = lambda _lim, _text: None) -> None:
        self.check, self.checker, self.clock, self.verdict = check, checker, clock, verdict
        self.worker: Worker[int, CheckOutcome] = Worker("health", threaded, done, clock, one_per_key=True,
                                                        parallel=True)
        self.misses: dict[int, int] = {}
        self.next_at: dict[int, float] = {}
        self.sick_at: dict[int, float] = {}       # regular: LIM -> when its verdict was reached
        self.restarted: set[int] = set()          # standby: restarted once since it took the LIM

    def tick(self, config: Cluster, serving: set[int], now: float, paused: bool) -> None:
        """Start the checks that are due, for the LIMs served here (none while paused)."""
        if not self.check.configured:
            return
        for number in list(self.misses):
            if number not in serving:
                self.forget(number)
        if paused:
            return
        for lim in config.lims:
            if lim.lim in serving and lim.lim not in self.next_at:
                self.next_at[lim.lim] = now + self.check.interval_s   # a Service Node just started: give it time
                self.misses[lim.lim] = 0
            elif lim.lim in serving and now >= self.next_at[lim.lim]:
                self.next_at[lim.lim] = now + self.check.interval_s
                alias = lim.alias.ip
                self.worker.submit(lim.lim, lambda n=lim.lim, a=alias: self.checker(n, a))

    def forget(self, lim: int) -> None:
        self.misses.pop(lim, None)
        self.next_at.pop(lim, None)
        self.restarted.discard(lim)

    def collect(self, alarms: AlarmBook, node: str, on_standby: bool, restart: Callable[[int], None]) -> None:
        for outcome in self.worker.collect():
            lim = outcome.key
            result = outcome.value if outcome.error is None else CheckOutcome(Verdict.CANNOT_RUN, str(outcome.error))
            if lim not in self.misses and lim not in self.next_at:
                continue            # no longer served here: a late answer
            self.count(lim, result, alarms, node, on_standby, restart)

    def count(self, lim: int, result: CheckOutcome, alarms: AlarmBook, node: str, on_standby: bool,
              restart: Callable[[int], None]) -> None:
        if result.verdict is Verdict.CANNOT_RUN:
            alarms.raise_(alarm_keys.check_cannot_run(lim),
                          f"Service Node check of LIM {lim} cannot run on {node}: {result.detail}")
            self.misses.setdefault(lim, 0)
            return
        alarms.clear(alarm_keys.check_cannot_run(lim))
        if result.verdict is Verdict.PASSED:
            self.misses[lim] = 0
            if not on_standby or lim not in self.restarted:
                alarms.clear(alarm_keys.check_failing(lim))
            return
        self.misses[lim] = self.misses.get(lim, 0) + 1
        log.info("Service Node check of LIM %s missed (%s of %s): %s", lim, self.misses[lim],
                 self.check.failures, result.detail)
        if self.misses[lim] < self.check.failures:
            return
        self.misses[lim] = 0
        if not on_standby:
            self.sick_at[lim] = self.clock()
            self.said(lim, f"Service Node of LIM {lim} does not answer on {node} ({result.detail}): released "
                           "to the standby")
        elif lim not in self.restarted:
            self.restarted.add(lim)
            self.said(lim, f"Service Node of LIM {lim} does not answer on {node} ({result.detail}): restarted once")
            restart(lim)
        else:
            alarms.raise_(alarm_keys.check_failing(lim),
                          f"Service Node of LIM {lim} does not answer on {node} ({result.detail})")

    def said(self, lim: int, text: str) -> None:
        log.warning("%s", text)
        self.verdict(lim, text)

    def sick(self, now: float, hold_s: float, serving: set[int]) -> frozenset[int]:
        """The LIMs whose verdict stands: reached less than the hold time ago, or still served here."""
        for lim, at in list(self.sick_at.items()):
            if lim not in serving and now - at >= hold_s:
                del self.sick_at[lim]
        return frozenset(self.sick_at)

    def stop_worker(self) -> None:
        self.worker.stop()
