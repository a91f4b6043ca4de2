"""What this agent saw, as events for the history, the notify command and the traps: each takeover,
release, fallback and yield in a decision (with its cause), each health-check verdict, pause and resume,
each alarm raised and cleared. `Feed.record` never raises (the sink logs its own failures)."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from mxone_maintenance.agent import state as st
from mxone_maintenance.core.contracts.agent_status import AgentStatus
from mxone_maintenance.core.contracts.events import Event, EventKind
from mxone_maintenance.core.model import Cluster


class Sink(Protocol):
    def event(self, kind: EventKind, text: str, **fields) -> Event | None: ...
    def metrics(self, snapshot) -> None: ...


class NoSink:
    def event(self, kind: EventKind, text: str, **fields) -> Event | None:
        return None

    def metrics(self, snapshot) -> None:
        return None


def takeover_cause(config: Cluster, lim: int, peers: dict[str, st.PeerView], now: float) -> str:
    item = config.lim(lim)
    if item is None:
        return ""
    if item.lock == "standby":
        return "locked to the standby"
    peer = peers.get(item.server, st.PeerView(item.server))
    if lim in peer.sick:
        return f"Service Node of LIM {lim} does not answer on {item.server} (health check)"
    if lim in peer.releasing:
        return f"handed over by {item.server}"
    if peer.last_heard is None:
        return f"{item.server} never heard"
    return f"{item.server} silent for {now - peer.last_heard:.1f} s (detect {config.detect_s:g} s)"


METRICS_S = 1.0    # the textfile is written at most once a second (events/metrics.py): snapshots as often


class Feed:
    def __init__(self, sink: Sink, node: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.sink, self.node, self.clock = sink, node, clock
        self._metrics_key: tuple | None = None     # what the last snapshot said of the LIMs
        self._metrics_at = float("-inf")

    def decision(self, config: Cluster, decision: st.Decision, peers: dict[str, st.PeerView], now: float,
                 serving: frozenset[int]) -> None:
        """The takes and releases that change what this server serves (`serving`: the LIMs it served
        before the decision): decide() repeats a release until the alias is gone, and one release is
        one event, not one per cycle."""
        on_standby = self.node == config.standby.server
        for action in decision.actions:
            if isinstance(action, (st.TakeAlias, st.Unblock)) and getattr(action, "announce", True):
                if action.lim not in serving:
                    self._taken(config, action.lim, on_standby, peers, now)
            elif isinstance(action, (st.ReleaseAlias, st.Block)) and config.lim(action.lim) is not None:
                if action.lim in serving:
                    self._released(config, action.lim, action.reason, on_standby)

    def _taken(self, config: Cluster, lim: int, on_standby: bool, peers, now: float) -> None:
        if on_standby:
            self.sink.event(EventKind.TAKEOVER, f"LIM {lim} taken over by the standby {self.node}", lim=lim,
                            cause=takeover_cause(config, lim, peers, now), generation=config.generation)
        elif lim in peers.get(config.standby.server, st.PeerView("")).releasing:
            self.sink.event(EventKind.FALLBACK, f"LIM {lim} runs on its regular {self.node} again", lim=lim,
                            cause="handed back by the standby", generation=config.generation)
        else:
            self.sink.event(EventKind.TAKEOVER, f"LIM {lim} started on its regular {self.node}", lim=lim,
                            cause="its alias was free", generation=config.generation)

    def _released(self, config: Cluster, lim: int, reason: str, on_standby: bool) -> None:
        if reason == "passive side":
            return
        kind = EventKind.YIELD if "split brain" in reason else \
            EventKind.FALLBACK if on_standby and reason == "fallback" else EventKind.RELEASE
        self.sink.event(kind, f"LIM {lim} released by {self.node}", lim=lim, cause=reason,
                        generation=config.generation)

    def health(self, lim: int, text: str, generation: int) -> None:
        self.sink.event(EventKind.HEALTH, text, lim=lim, cause="health check", generation=generation)

    def paused(self, paused: bool, text: str, generation: int) -> None:
        self.sink.event(EventKind.PAUSE if paused else EventKind.RESUME, text, generation=generation)

    def alarm(self, raised: bool, text: str, generation: int) -> None:
        self.sink.event(EventKind.ALARM_RAISED if raised else EventKind.ALARM_CLEARED, text, generation=generation)

    def metrics(self, status: AgentStatus, counters: object) -> None:
        """Called after every full cycle: a snapshot at once when the LIMs or the generation
        changed, else at most every METRICS_S (only the heartbeat counters move at idle)."""
        from mxone_maintenance.agent.events.metrics import LimMetric, MetricsSnapshot
        key = (status.cluster, status.generation, status.lims)
        now = self.clock()
        if key == self._metrics_key and now - self._metrics_at < METRICS_S:
            return
        self._metrics_key, self._metrics_at = key, now
        heartbeats = vars(counters) if hasattr(counters, "__dict__") else {}
        self.sink.metrics(MetricsSnapshot(
            self.node, cluster=status.cluster or "", generation=status.generation or 0,
            lims=tuple(LimMetric(item.lim, item.where == self.node, item.state) for item in status.lims),
            heartbeats={k: v for k, v in heartbeats.items() if isinstance(v, int)}))

    def started(self, texts: Iterable[str] = ()) -> None:
        self.sink.event(EventKind.AGENT_STARTED, f"agent started on {self.node}", cause=", ".join(texts))
