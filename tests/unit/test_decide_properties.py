"""Properties of decide(): random single observations, and a whole simulated cluster.

The simulation: every node runs decide() over its own view each tick; a simulated network delivers
heartbeats (each heartbeat period, and at once when a node's state changed, as the daemon does) and
answers ARP probes with whoever serves the alias; hypothesis fails, revives, cuts off and heals
nodes, restarts agents, locks and unlocks LIMs, orders fallbacks and lets time pass. Invariants are
checked after every tick.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Interface

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from mxone_maintenance.agent.decide import (
    decide,
    hold_time,
    preprobe_lead,
    probe_fresh_time,
    probe_timeout,
    settle_time,
)
from mxone_maintenance.agent.state import (
    AliasProbe,
    Block,
    ClearAlarm,
    Memory,
    Observations,
    PeerView,
    ProbeAlias,
    RaiseAlarm,
    ReleaseAlias,
    TakeAlias,
    Unblock,
    heard,
)
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef

HB = 1.0
TICK = 0.5
D = 4.0


def _lim(number: int, priority: int) -> ClusterLim:
    return ClusterLim(number, f"lim{number}", IPv4Interface(f"10.77.0.{110 + number}/24"),
                      IPv4Interface(f"10.77.0.{10 + number}/24"), priority)


NORMAL = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")), (_lim(1, 5), _lim(2, 1), _lim(3, 5)),
                 detect_s=D, heartbeat_s=HB)
PRELOADED = replace(NORMAL, lims=(_lim(1, 5),), failover="preloaded")
MANUAL = replace(NORMAL, fallback="manual")
H = hold_time(NORMAL)
SPLIT_BRAIN_BOUND = 2 * HB + 2 * TICK   # a heartbeat to arrive, a tick to act on it, slack
QUIET = D + H + settle_time(NORMAL) + 4 * HB  # after this long without events every servable LIM is served


# --- single observations -----------------------------------------------------------------------

lims = st.sets(st.sampled_from([1, 2, 3]))


@st.composite
def peer_views(draw, name: str, now: float) -> PeerView:
    """Mostly heard recently (alive), sometimes long ago or never (failed)."""
    age = draw(st.none() | st.floats(0, 2 * D) | st.floats(0, now))
    last = None if age is None else now - age
    since = None if last is None else last - draw(st.floats(0, 2 * H) | st.floats(0, 50))
    return PeerView(name, last, since, frozenset(draw(lims)),
                    frozenset(draw(lims)), frozenset(draw(lims)), frozenset(draw(lims)),
                    draw(st.none() | st.sampled_from(["02:00:00:00:00:01", "02:00:00:00:00:99"])))


@st.composite
def situations(draw, configs=(NORMAL, MANUAL, PRELOADED),
               orders: bool = True) -> tuple[Cluster, Observations, float]:
    config = draw(st.sampled_from(configs))
    for lim in config.lims:
        config = config.with_lim(lim.lim, lock=draw(st.sampled_from([None, "regular", "standby"])))
    if sum(lim.lock == "standby" for lim in config.lims) > 1:  # refused by the utility (row 21)
        config = config.with_lim(max(lim.lim for lim in config.lims if lim.lock == "standby"), lock=None)
    node = draw(st.sampled_from(config.member_names))
    now = draw(st.floats(min_value=0, max_value=250))
    started = now - draw(st.floats(0, 3 * HB) | st.floats(0, now))
    peers = tuple(draw(peer_views(name, now)) for name in config.member_names if name != node)
    ages = st.floats(0, 1) | st.floats(0, now)   # fresh ones count for a takeover
    probes = tuple(AliasProbe(n, now - draw(ages), draw(st.none() | st.just("02:00:00:00:00:99")))
                   for n in draw(lims))
    running = draw(lims) if node == "sb1" or config.failover == "preloaded" else \
        draw(st.sets(st.just(int(node[3:]))))
    if node == "sb1" and config.failover == "normal":
        running = set(sorted(running)[:1])  # a standby never runs two (that is what we check it keeps)
    obs = Observations(node, started, peers, frozenset(running),
                       frozenset(draw(lims)) if config.failover == "preloaded" else frozenset(),
                       probes, frozenset(draw(lims)) if orders else frozenset(), frozenset(),
                       Memory(target=draw(st.none() | st.sampled_from([1, 2, 3]))))
    if not orders:
        obs = replace(obs, peers=tuple(replace(p, fallback_orders=frozenset()) for p in obs.peers))
    return config, obs, now


@settings(max_examples=300, deadline=None)
@given(situations())
def test_decide_is_deterministic_and_safe(situation) -> None:
    config, obs, now = situation
    first = decide(config, obs, now)
    assert decide(config, obs, now) == first
    numbers = {lim.lim for lim in config.lims}
    for action in first.actions:
        if hasattr(action, "lim") and not isinstance(action, (RaiseAlarm, ClearAlarm)):
            assert action.lim in numbers | obs.running
    if obs.node == "sb1":
        taken = {a.lim for a in first.actions if isinstance(a, (TakeAlias, Unblock))
                 and not (isinstance(a, TakeAlias) and not a.announce)}
        assert not any(config.lim(n).lock == "regular" for n in taken - obs.active)
        after = (obs.active | taken) - {a.lim for a in first.actions if isinstance(a, (ReleaseAlias, Block))}
        assert len(after) <= 1
    else:
        mine = {lim.lim for lim in config.lims if lim.server == obs.node}
        assert {a.lim for a in first.actions if isinstance(a, (TakeAlias, Unblock, ProbeAlias))} <= mine


def _activated(decision) -> set[int]:
    """LIMs a decision starts serving (a preloaded passive start does not count)."""
    return {a.lim for a in decision.actions
            if isinstance(a, Unblock) or (isinstance(a, TakeAlias) and a.announce)}


@settings(max_examples=300, deadline=None)
@given(situations(configs=(replace(NORMAL, fallback="manual"), replace(PRELOADED, fallback="manual")),
                  orders=False))
def test_manual_fallback_never_happens_unordered(situation) -> None:
    config, obs, now = situation
    decision = decide(config, obs, now)
    assert not [a for a in decision.actions if isinstance(a, (ReleaseAlias, Block)) and a.reason == "fallback"]


@settings(max_examples=300, deadline=None)
@given(situations(), st.sampled_from([1, 2, 3]))
def test_a_lim_locked_to_regular_never_moves_to_the_standby(situation, number) -> None:
    config, obs, now = situation
    if config.lim(number) is None or obs.node != "sb1":
        return
    config = config.with_lim(number, lock="regular")
    assert number not in _activated(decide(config, obs, now)) - obs.active


@settings(max_examples=300, deadline=None)
@given(situations())
def test_a_regular_never_starts_its_lim_while_the_standby_serves_it(situation) -> None:
    config, obs, now = situation
    if obs.node == "sb1":
        return
    standby = obs.peer("sb1")
    if standby.last_heard is not None and now - standby.last_heard < config.detect_s:
        assert not _activated(decide(config, obs, now)) & standby.active


@settings(max_examples=300, deadline=None)
@given(situations())
def test_an_answered_probe_blocks_the_takeover_unless_handed_over(situation) -> None:
    config, obs, now = situation
    decision = decide(config, obs, now)
    handed = set().union(*(p.releasing for p in obs.peers))
    if config.failover == "preloaded":
        handed |= set().union(*(p.running & p.blocked for p in obs.peers))
    for number in _activated(decision) - handed:
        probe = obs.probe(number)
        assert probe is not None and probe.mac is None


@given(st.floats(0.1, 10.0), st.floats(3.0, 40.0))
def test_the_pre_probe_ends_by_d_and_starts_after_a_missed_heartbeat(heartbeat_s, periods) -> None:
    """At any allowed timing the standby's pre-probe has its answer (none: the regular is dead) by D,
    still fresh, and it is never sent before the regular has missed a heartbeat."""
    config = replace(NORMAL, heartbeat_s=heartbeat_s, detect_s=heartbeat_s * periods)
    lead = preprobe_lead(config)
    assert probe_timeout(config) <= lead <= probe_fresh_time(config)
    assert config.detect_s - lead >= config.heartbeat_s


# --- the simulated cluster --------------------------------------------------------------------------

@dataclass
class Node:
    name: str
    started_at: float
    alive: bool = True
    running: set[int] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)
    memory: Memory = field(default_factory=Memory)
    alarms: set[str] = field(default_factory=set)
    orders: set[int] = field(default_factory=set)
    peers: dict[str, PeerView] = field(default_factory=dict)
    probes: dict[int, AliasProbe] = field(default_factory=dict)
    last_sent: tuple = ()
    next_beat: float = 0.0
    hung: bool = False          # agent stuck: no decisions, no heartbeats; its kernel still answers ARP

    @property
    def active(self) -> set[int]:
        return self.running - self.blocked

    def restart_agent(self, now: float) -> None:
        """Only the agent restarts: addresses and firewall stay (row 25), memory is gone."""
        self.started_at, self.memory, self.alarms, self.orders = now, Memory(), set(), set()
        self.peers, self.probes, self.last_sent, self.next_beat = {}, {}, (), now


class Cluster_(RuleBasedStateMachine):
    """Named with a trailing underscore: `Cluster` is the model's config type."""

    @initialize(config=st.sampled_from([NORMAL, replace(NORMAL, fallback="manual"), PRELOADED,
                                        replace(PRELOADED, fallback="manual")]))
    def start(self, config: Cluster) -> None:
        self.config = config
        self.now = 0.0
        self.nodes = {name: Node(name, 0.0) for name in config.member_names}
        self.cut: set[str] = set()
        self.last_event = 0.0
        self.dual_since: dict[int, float] = {}
        self.order_at: dict[int, float] = {}
        self.taken_at: dict[int, float] = {}
        self.calls = 0

    # --- the world's events ---
    def event(self) -> None:
        self.last_event = self.now

    @rule(data=st.data(), trouble=st.sampled_from(["fail", "fail", "hang", "cut", "restart agent"]))
    def trouble(self, data, trouble) -> None:
        """fail: power off; hang: the agent is stuck (its kernel still answers ARP); cut: off the
        network but alive; restart agent: only the agent restarts (row 25)."""
        node = self.nodes[data.draw(st.sampled_from(sorted(self.nodes)))]
        if trouble == "fail":
            node.alive = False
        elif trouble == "hang":
            node.hung = True
        elif trouble == "cut":
            self.cut.add(node.name)
        else:
            node.restart_agent(self.now)
        self.event()

    @rule(data=st.data())
    def repair(self, data) -> None:
        """Power a dead server on (back with only its base address), restart stuck agents, heal."""
        dead = sorted(n for n, node in self.nodes.items() if not node.alive)
        if dead:
            name = data.draw(st.sampled_from(dead))
            self.nodes[name] = Node(name, self.now, next_beat=self.now)
        self.unhang()
        self.cut.clear()
        self.event()

    def unhang(self) -> None:
        """systemd restarts a stuck agent."""
        for node in self.nodes.values():
            if node.hung:
                node.hung = False
                node.restart_agent(self.now)

    @rule(data=st.data(), to=st.sampled_from(["regular", "standby", None]))
    def lock(self, data, to) -> None:
        number = data.draw(st.sampled_from([lim.lim for lim in self.config.lims]))
        if to == "standby" and any(x.lock == "standby" and x.lim != number for x in self.config.lims):
            return  # the utility refuses a second LIM locked to the standby (row 21)
        self.config = self.config.with_lim(number, lock=to).next_generation()
        self.event()

    @rule(data=st.data(), to_standby=st.booleans())
    def order_fallback(self, data, to_standby) -> None:
        lim = self.config.lim(data.draw(st.sampled_from([lim.lim for lim in self.config.lims])))
        node = self.nodes["sb1" if to_standby else lim.server]
        if node.alive:
            node.orders.add(lim.lim)
            self.order_at[lim.lim] = self.now
            self.event()

    @rule(ticks=st.integers(min_value=1, max_value=16))
    def advance(self, ticks) -> None:
        for _ in range(ticks):
            self.tick()

    @rule()
    def settle(self) -> None:
        """Let the cluster come to rest and check that every servable LIM is served."""
        self.cut.clear()
        self.unhang()
        self.event()
        while self.now - self.last_event < QUIET:
            self.tick()
        self.check_served()

    # --- one tick of the whole cluster ---
    def connected(self, a: str, b: str) -> bool:
        return self.nodes[a].alive and self.nodes[b].alive and a not in self.cut and b not in self.cut

    def tick(self) -> None:
        self.now = round(self.now + TICK, 6)
        for name in sorted(self.nodes):
            if self.nodes[name].alive and not self.nodes[name].hung:
                self.step(self.nodes[name])
        for name in sorted(self.nodes):
            if self.nodes[name].alive and not self.nodes[name].hung:
                self.send_heartbeat(self.nodes[name])
        self.check_split_brain()

    def step(self, node: Node) -> None:
        obs = Observations(node.name, node.started_at, tuple(node.peers[p] for p in sorted(node.peers)),
                           frozenset(node.running), frozenset(node.blocked),
                           tuple(node.probes[n] for n in sorted(node.probes)), frozenset(node.orders),
                           frozenset(node.alarms), node.memory)
        decision = decide(self.config, obs, self.now)
        self.calls += 1
        if self.calls % 11 == 0:
            assert decide(self.config, obs, self.now) == decision  # deterministic
        for action in decision.actions:
            self.apply(node, action)
        node.memory = decision.memory
        node.orders -= decision.completed_orders
        if node.name == "sb1" and self.config.failover == "normal":
            assert len(node.active) <= 1, f"standby runs {sorted(node.active)}"

    def apply(self, node: Node, action) -> None:
        lim = self.config.lim(getattr(action, "lim", 0))
        if node.name == "sb1" and isinstance(action, (TakeAlias, Unblock)) and lim is not None:
            if not (isinstance(action, TakeAlias) and not action.announce):
                assert lim.lock != "regular", f"LIM {lim.lim} locked to regular moved to the standby"
                self.taken_at[lim.lim] = self.now
        if node.name == "sb1" and isinstance(action, (ReleaseAlias, Block)) and action.reason == "fallback":
            if self.config.fallback == "manual":
                assert self.order_at.get(lim.lim, -1) >= self.taken_at.get(lim.lim, 0), \
                    f"manual fallback of LIM {lim.lim} not ordered since the standby took it"
        if isinstance(action, ProbeAlias):
            holders = [n for n in self.nodes if n != node.name and self.connected(n, node.name)
                       and action.lim in self.nodes[n].active]
            node.probes[action.lim] = AliasProbe(action.lim, self.now, f"mac-{holders[0]}" if holders else None,
                                                 holders[0] if holders else None)
        elif isinstance(action, TakeAlias):
            node.running.add(action.lim)
        elif isinstance(action, ReleaseAlias):
            node.running.discard(action.lim)
        elif isinstance(action, Block):
            node.blocked.add(action.lim)
        elif isinstance(action, Unblock):
            node.blocked.discard(action.lim)
        elif isinstance(action, RaiseAlarm):
            node.alarms.add(action.key)
        elif isinstance(action, ClearAlarm):
            node.alarms.discard(action.key)

    def send_heartbeat(self, node: Node) -> None:
        content = (frozenset(node.running), frozenset(node.blocked), node.memory.releasing,
                   frozenset(node.orders))
        if self.now < node.next_beat and content == node.last_sent:
            return
        node.last_sent, node.next_beat = content, self.now + HB
        for other in self.nodes.values():
            if other is not node and self.connected(node.name, other.name):
                other.peers[node.name] = heard(other.peers.get(node.name, PeerView(node.name)), self.now, HB,
                                               running=node.running, blocked=node.blocked,
                                               releasing=node.memory.releasing, fallback_orders=node.orders,
                                               mac=f"mac-{node.name}")

    # --- invariants ---
    def check_split_brain(self) -> None:
        """Two servers that hear each other never keep the same alias past the resolution time (a
        stuck agent cannot release anything: its server is not counted until systemd restarts it)."""
        for lim in self.config.lims:
            holders = [n for n, node in self.nodes.items()
                       if node.alive and not node.hung and lim.lim in node.active]
            together = len(holders) >= 2 and all(self.connected(a, b) for a in holders for b in holders if a != b)
            if not together:
                self.dual_since.pop(lim.lim, None)
                continue
            since = self.dual_since.setdefault(lim.lim, self.now)
            assert self.now - since <= SPLIT_BRAIN_BOUND, f"LIM {lim.lim} on {holders} since {since}"

    def check_served(self) -> None:
        """At rest: every LIM whose regular is up is served; the standby serves the best it can."""
        served = {lim.lim: [n for n, node in self.nodes.items() if node.alive and lim.lim in node.active]
                  for lim in self.config.lims}
        standby_up = self.nodes["sb1"].alive
        for lim in self.config.lims:
            assert len(served[lim.lim]) <= 1, f"LIM {lim.lim} served by {served[lim.lim]}"
            if self.nodes[lim.server].alive and (lim.lock != "standby" or standby_up):
                assert served[lim.lim], f"LIM {lim.lim} not served though {lim.server} is up"
        if not standby_up:
            return
        locked = [lim for lim in self.config.lims if lim.lock == "standby"]
        if locked:
            assert served[locked[0].lim] == ["sb1"]
            return
        failed = [lim for lim in self.config.lims if not self.nodes[lim.server].alive and lim.lock != "regular"]
        if failed:
            on_standby = [lim for lim in self.config.lims if served[lim.lim] == ["sb1"]]
            assert on_standby, f"standby free but {[lim.lim for lim in failed]} not served"
            assert on_standby[0].priority <= min(lim.priority for lim in failed)

    @invariant()
    def standby_runs_at_most_one(self) -> None:
        if hasattr(self, "nodes") and self.config.failover == "normal":
            assert len(self.nodes["sb1"].active) <= 1


Cluster_.TestCase.settings = settings(max_examples=100, stateful_step_count=25, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
TestCluster = Cluster_.TestCase
