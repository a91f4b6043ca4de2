"""ARP probes of the aliases, for decide(): on one worker thread, one at a time (they share one raw
socket). An unanswered probe waits its whole timeout, which must not hold up heartbeats or the failure
detection of others; the answer gets a cycle at once (the doorbell), as it is on the failover's path."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.worker import Worker
from mxone_maintenance.agent.state import AliasProbe, PeerView


def owner_of(mac: str | None, node: str, own_mac: str | None, peers: Iterable[PeerView]) -> str | None:
    """Which cluster server a MAC belongs to (peers announce theirs in heartbeats)."""
    if mac is None:
        return None
    if own_mac and mac.lower() == own_mac.lower():
        return node
    return next((p.name for p in peers if p.mac and p.mac.lower() == mac.lower()), None)


class Probing:
    def __init__(self, clock: Callable[[], float], threaded: bool, done: Callable[[], None]) -> None:
        self.clock = clock
        self.worker: Worker[int, str | None] = Worker("arp-probe", threaded, done, clock, one_per_key=True)
        self.results: dict[int, AliasProbe] = {}
        self.taken_at: dict[int, float] = {}     # a probe begun before we took the alias is stale

    def submit(self, lim: int, probe: Callable[[], str | None]) -> None:
        """decide() asks every cycle until the answer is in; one probe in flight is enough."""
        self.worker.submit(lim, probe)

    def took(self, lim: int) -> None:
        """We hold (or unblocked) the alias now: what was heard before may be the old holder."""
        self.results.pop(lim, None)
        self.taken_at[lim] = self.clock()

    def collect(self, alarms: AlarmBook, owner: Callable[[str | None], str | None]) -> None:
        """Probe answers that came in; the probe's time is when it is read (its age counts from then)."""
        for outcome in self.worker.collect():
            lim, key = outcome.key, alarm_keys.effect(outcome.key)
            if outcome.error is not None:
                alarms.raise_(key, f"Cannot probe the alias of LIM {lim}: {outcome.error}")
                continue
            alarms.clear(key)
            if outcome.started < self.taken_at.get(lim, float("-inf")):
                continue  # begun before we took the alias: it may have heard the old holder
            self.results[lim] = AliasProbe(lim, self.clock(), outcome.value, owner(outcome.value))

    def stop_worker(self) -> None:
        self.worker.stop()
