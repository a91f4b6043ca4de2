"""One cluster agent (Patroni style): each cycle reloads the config if it changed, drains heartbeats,
takes a snapshot of the world as Observations, calls the pure decide(), logs the Decision when it
changes, applies its actions through the effect interfaces, sends the heartbeat and publishes its
status. Everything outside (clocks, effects, heartbeat channel, data sync) is injected, so tests run
it cycle by cycle with fake effects and a hand-moved clock. Signal handlers and the control thread
only set flags or queue orders; the loop (loop.py) reads them.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Interface
from typing import Any

from mxone_maintenance.agent import state as st
from mxone_maintenance.agent.datasync import DataSyncScheduler
from mxone_maintenance.agent.decide import decide, hold_time
from mxone_maintenance.agent.effects.health_check import CheckOutcome, HealthCheck, Verdict
from mxone_maintenance.agent.heartbeat_flags import AgentFlags
from mxone_maintenance.agent.runtime import heartbeats, loop
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.apply import Hands
from mxone_maintenance.agent.runtime.catch_up import CatchUp
from mxone_maintenance.agent.runtime.config_watch import ConfigWatch, Gone, Loaded
from mxone_maintenance.agent.runtime.event_feed import Feed, NoSink, Sink
from mxone_maintenance.agent.runtime.handback import HandBack
from mxone_maintenance.agent.runtime.health import Checker, HealthWatch
from mxone_maintenance.agent.runtime.journal import Journal
from mxone_maintenance.agent.runtime.links import Links
from mxone_maintenance.agent.runtime.orders import Orders
from mxone_maintenance.agent.runtime.pause import Pause
from mxone_maintenance.agent.runtime.ports import MakeChannel, MakeEffects, MakeSync
from mxone_maintenance.agent.runtime.probing import Probing, owner_of
from mxone_maintenance.agent.runtime.senses import Senses
from mxone_maintenance.agent.runtime.services import Services
from mxone_maintenance.agent.runtime.status import agent_status
from mxone_maintenance.agent.runtime.status_share import StatusShare, view
from mxone_maintenance.agent.status_datagram import parse_digest
from mxone_maintenance.agent.runtime.wiring import Wiring
from mxone_maintenance.agent.sd_notify import Notifier
from mxone_maintenance.core.contracts.agent_status import AgentStatus
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import Paths

log = logging.getLogger("mxone-cluster-agent")


def status_line(status: AgentStatus) -> str:
    """systemctl status's one line, e.g. `cluster c1 generation 4: LIM 1 running here`."""
    if not status.cluster:
        return f"idle: {status.config}"
    parts = [f"LIM {', '.join(map(str, status.running))} running here" if status.running
             else "no LIM running here"]
    if status.blocked:
        parts.append(f"LIM {', '.join(map(str, status.blocked))} blocked (preloaded passive)")
    active = sum(alarm.active for alarm in status.alarms)
    if active:
        parts.append(f"{active} alarm{'s' if active > 1 else ''}")
    return f"cluster {status.cluster} generation {status.generation}: " + ", ".join(parts)


class Agent:
    """`cycle()` is one turn of the loop; `run()` loops until stopped."""

    def __init__(self, paths: Paths, node: str, make_effects: MakeEffects, make_channel: MakeChannel,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 threaded_service: bool = True, make_sync: MakeSync | None = None,
                 health: tuple[HealthCheck, Checker] | None = None, events: Sink | None = None) -> None:
        self.paths, self.node, self.clock, self.wall = paths, node, clock, wall
        self.started = clock()
        self.alarms = AlarmBook(wall)
        self.feed = Feed(events or NoSink(), node)
        self.alarms.listener = lambda raised, text: self.feed.alarm(raised, text, self.generation)
        self.doorbell: loop.Doorbell | None = None     # open while run() loops: workers ring it
        self.watch = ConfigWatch(paths, self.alarms)
        self.wiring = Wiring(node, make_effects, make_channel, make_sync, self.alarms, clock, self.started,
                             paths.agent_state_dir)
        self.peers: dict[str, st.PeerView] = {}
        self.senses = Senses(node, self.alarms)
        self.probing = Probing(clock, threaded_service, self.ring)
        self.services = Services(clock, threaded_service, self.ring)
        self.handback = HandBack(clock, threaded_service, self.ring)
        check, checker = health or (HealthCheck(), lambda _lim, _alias: CheckOutcome(Verdict.PASSED))
        self.health = HealthWatch(check, checker, clock, threaded_service, self.ring,
                                  lambda lim, text: self.feed.health(lim, text, self.generation))
        self.pause = Pause(paths.agent_state_dir, wall,
                           lambda paused, text: self.feed.paused(paused, text, self.generation))
        self.hands = Hands(node, self.alarms, self.probing, self.services, self.handback, self.senses,
                           self.collect_probes)
        self.datasync = DataSyncScheduler(paths, node, clock, wall, threaded=threaded_service)  # when to sync
        self.beats = heartbeats.HeartbeatOut(node, wall, self.started)
        self.catch_up = CatchUp(paths, node, clock)
        self.journal = Journal()
        self.inbox = Orders()
        self.memory = st.Memory()
        self.links = Links(node, self.alarms)    # network redundancy: the bond's links (runtime/links.py)
        self.share = StatusShare(wall)           # our status to the peers, theirs for `cluster status`
        self.last_cycle = float("-inf")          # when the last full cycle ran
        self.reload_requested = False            # set by SIGHUP and the control thread
        self.stop_requested = False              # set by SIGTERM and SIGINT
        self.published = self.status_now()

    # --- what the control thread and the tests read ---------------------------------------------------

    @property
    def config(self) -> Cluster | None:
        return self.wiring.config

    @property
    def generation(self) -> int:
        return self.config.generation if self.config is not None else 0

    @property
    def probes(self) -> dict[int, st.AliasProbe]:
        return self.probing.results

    @property
    def orders(self) -> set[int]:
        return self.inbox.fallback

    @property
    def sync_requested(self) -> bool:
        return self.inbox.sync_requested

    def status(self) -> dict[str, Any]:
        """The last published status, as the control socket answers it."""
        return self.published.to_json()

    def cluster_view(self) -> dict[str, Any] | None:
        """The whole cluster as this agent hears it: the control thread's `cluster` reply
        (core/contracts/cluster_view.py)."""
        config, published = self.config, self.published
        if config is None or self.node not in config.member_names:
            return None
        return view(config, published, getattr(self.wiring.channel, "statuses", None), self.wall())

    def order_fallback(self, lim: int) -> dict[str, Any]:
        return self.inbox.order_fallback(self.config, lim)

    def order_sync(self) -> dict[str, Any]:
        return self.inbox.order_sync(self.config, self.datasync.states)

    def order_pause(self, stamp: float, until: float) -> dict[str, Any]:
        """From the control thread: maintenance mode until `until` (0: resume); the next cycle follows."""
        changed = self.pause.adopt(stamp, until, "the technician")
        self.ring()
        return {"ok": True, "changed": changed, **self.pause.status()}

    # --- one cycle ------------------------------------------------------------------------------------

    def cycle(self) -> st.Decision | None:
        self.last_cycle = self.clock()
        self.poll_config()
        self.wiring.upkeep()    # a heartbeat socket not open yet, refused clocks, replay windows saved
        if self.inbox.take(can_sync=self.wiring.effects is not None):
            self.datasync.order()   # every LIM of this node, in the background
        decision = self._decide_and_act() if self.wiring.ready else None
        self.published = self.links.stamp(self.status_now())
        self.feed.metrics(self.published, getattr(self.wiring.channel, "counters", None))
        if decision is not None:
            self.share.publish(self.published, self.config, self.node, self.wiring.channel, self.clock())
        return decision

    def _decide_and_act(self) -> st.Decision | None:
        config, effects, now = self.wiring.config, self.wiring.effects, self.clock()
        self.receive(config, now)
        if self.catch_up.adopt(config, self.wiring.channel):
            self.ring()                 # load it at once: the next cycle's poll sees the new file
        self.catch_up.offer(config, self.wiring.channel, self.peers, now)
        self.catch_up.watch_agreement(config, self.peers, self.alarms, now)
        if self.node not in config.member_names:
            return None
        self.links.watch(config, effects, now)
        self.services.collect(self.alarms)
        self.health.collect(self.alarms, self.node, self.node == config.standby.server,
                            lambda lim: self.restart_service(config, lim))
        self.pause.keep_alarm(self.alarms, config.name)
        self.collect_probes()
        observations = self.observe(config, now)
        decision = decide(config, observations, now)
        self.journal.note(decision)
        self.hands.apply(config, effects, decision)
        self.feed.decision(config, decision, self.peers, now, observations.running - observations.blocked)
        self.datasync.cycle(config, effects.sync, self.peers, observations.running & observations.blocked,
                            self.alarms, self.clock())
        held = self.senses.held(effects)
        self.services.keep(config, held, self.clock(), effects.service)
        self.health.tick(config, self.serving(config, held), self.clock(), self.pause.paused)
        self.memory = decision.memory
        self.inbox.done(decision.completed_orders)
        self.send_heartbeat(config, held, self.clock())
        return decision

    def poll_config(self) -> None:
        """Reload cluster.yaml (and the key) when either changed on disk, or when asked to."""
        forced, self.reload_requested = self.reload_requested, False
        change = self.watch.poll(self.config, forced)
        if isinstance(change, Gone):
            self.wiring.drop("no cluster config")
            self.peers, self.probing.results = {}, {}
        elif isinstance(change, Loaded):
            before = self.wiring.config
            if self.wiring.use(change.config, change.key):
                self.senses.forget_blocked()
            self.hands.let_go_of_removed(before, change.config, self.wiring.effects)
            members = set(change.config.member_names) - {self.node}
            self.peers = {name: view for name, view in self.peers.items() if name in members}

    def close_channel(self) -> None:
        self.wiring.close_channel()

    def receive(self, config: Cluster, now: float) -> bool:
        return heartbeats.receive(self.wiring.channel, config, self.node, self.peers, now, self.heard)

    def heard(self, peer: str, sent_wall: float, flags: tuple[str, ...]) -> None:
        self.datasync.heard(peer, sent_wall, flags)
        self.pause.heard(peer, flags)
        book = getattr(self.wiring.channel, "statuses", None)
        if book is not None:
            book.announced(peer, parse_digest(flags))

    def serving(self, config: Cluster, held: set[IPv4Interface]) -> set[int]:
        """The LIMs served here (alias held, not blocked): the ones whose Service Node is checked."""
        blocked = self.senses.blocked(config, self.wiring.effects, self.clock())
        return {lim.lim for lim in config.lims if lim.alias in held} - set(blocked)

    def restart_service(self, config: Cluster, lim: int) -> None:
        """The standby's one restart of a Service Node that does not answer: stopped here, started
        again by Services.keep on the next cycle (the alias stays)."""
        item = config.lim(lim)
        if item is not None and self.wiring.effects is not None:
            self.services.stop(lim, item.alias.ip, self.wiring.effects.service)

    def collect_probes(self) -> None:
        self.probing.collect(self.alarms, lambda mac: owner_of(mac, self.node, self.wiring.own_mac,
                                                               self.peers.values()))

    def observe(self, config: Cluster, now: float) -> st.Observations:
        effects, senses = self.wiring.effects, self.senses
        senses.watch_link(config, effects, now)
        held = senses.held(effects)
        served = {lim.lim for lim in config.lims if lim.alias in held}
        return st.Observations(
            node=self.node, started_at=max(self.started, self.wiring.listening_since),
            peers=tuple(self.peers[name] for name in sorted(self.peers)),
            running=frozenset(lim.lim for lim in config.lims if lim.alias in held),
            blocked=senses.blocked(config, effects, now),
            probes=tuple(self.probes[n] for n in sorted(self.probes)),
            fallback_orders=frozenset(self.orders), alarms=self.alarms.keys_owned_by_decide(),
            memory=self.memory, link_down=senses.link_down, link_back_at=senses.link_back_at,
            sick=self.health.sick(now, hold_time(config), served), paused=self.pause.paused)

    def send_heartbeat(self, config: Cluster, held: set[IPv4Interface], now: float) -> None:
        own = heartbeats.OwnLims(tuple(sorted(lim.lim for lim in config.lims if lim.alias in held)),
                                 tuple(sorted(self.senses.blocked(config, self.wiring.effects, now))))
        flags = AgentFlags(frozenset(self.orders), self.wiring.own_mac, self.datasync.unready(),
                           self.health.sick(now, hold_time(config), set(own.held)), self.pause.flag()).encode() \
            + self.datasync.heartbeat_flags() + self.share.flags()
        self.beats.send(config, self.wiring.channel, own, self.memory.releasing, flags, now)

    def status_now(self) -> AgentStatus:
        now, channel = self.clock(), self.wiring.channel
        return agent_status(self.node, self.config, self.wiring.note, wall=self.wall(), now=now,
                            up_s=now - self.started, decision=self.journal.last, own=self.beats.own,
                            peers=self.peers.values(), alarms=self.alarms, orders=self.orders,
                            sync=self.datasync.status(), sync_checks=self.handback.checks(now),
                            counters=getattr(channel, "counters", None))

    # --- the loop -------------------------------------------------------------------------------------

    def run(self, wait: loop.Wait | None = None, notifier: Notifier | None = None) -> None:
        """Loop until stop_requested; `wait(seconds, sources)` sleeps until the next tick or a datagram;
        `notifier` tells systemd (sd_notify.py) that the loop runs, and that it stops."""
        log.info("agent for %s started (root %s)", self.node, self.paths.root)
        notifier = notifier or Notifier(None)
        self.doorbell = loop.Doorbell()
        try:
            loop.run(self, wait or loop.wait_readable, lambda: notifier.cycled(status_line(self.published)))
        finally:
            notifier.stopping()
            self.services.stop_worker()
            self.health.stop_worker()
            self.probing.stop_worker()
            self.close_channel()
            doorbell, self.doorbell = self.doorbell, None
            doorbell.close()
            log.info("agent stopped")

    def ring(self) -> None:
        """From a worker thread: a probe, service or sync result is ready."""
        doorbell = self.doorbell
        if doorbell is not None:
            doorbell.ring()

    def tick(self) -> float:
        """How long to sleep (a datagram or the doorbell wakes us earlier)."""
        if not self.wiring.ready:
            return loop.IDLE_TICK_S
        return max(loop.MIN_TICK_S, self.next_cycle_in())

    def next_cycle_in(self) -> float:
        return loop.next_cycle_at(self.config, self.peers.values(), self.last_cycle, self.beats.next_at) - self.clock()

    def cycle_needed(self) -> bool:
        """A full cycle on news, an order, a worker's result, or when one is due (loop.py)."""
        rang = self.doorbell is not None and self.doorbell.answer()
        config = self.config
        if rang or config is None or self.wiring.channel is None or self.inbox.pending:
            return True
        news = self.receive(config, self.clock())
        return news or self.next_cycle_in() <= 0

    def wake_sources(self) -> Sequence[Any]:
        return [self.wiring.channel, self.doorbell]
