"""One decision in the making: what this node knows of its peers at `now`, and the effects it asks for
(the same calls in both failover modes: preloaded blocks where normal releases)."""
from __future__ import annotations

from mxone_maintenance.agent.decide.alarms import Alarm
from mxone_maintenance.agent.decide.timing import announce_period, release_memory_time, relisten_time, settle_time
from mxone_maintenance.agent.state import (
    Action,
    Announce,
    Block,
    ClearAlarm,
    Decision,
    Memory,
    Observations,
    PeerView,
    RaiseAlarm,
    ReleaseAlias,
    TakeAlias,
    Unblock,
)
from mxone_maintenance.core.contracts.lim_state import LimState, LimStatus, Listening
from mxone_maintenance.core.model import Cluster


class Cycle:
    """Collects one decision. Local and short-lived: decide() stays a pure function of its inputs."""

    def __init__(self, config: Cluster, obs: Observations, now: float) -> None:
        self.config, self.obs, self.now = config, obs, now
        self.preloaded = config.failover == "preloaded"
        self.actions: list[Action] = []
        self.alarms: dict[str, str] = {}
        self.status: dict[int, LimStatus] = {}
        self.target: int | None = None
        self.released = {lim: at for lim, at in obs.memory.released}
        self.announced = {lim: at for lim, at in obs.memory.announced}
        self.completed: set[int] = set()
        self.blocking: set[int] = set()
        self.takeovers = [(lim, at) for lim, at in obs.memory.takeovers if config.lim(lim) is not None]
        self.damped = {lim for lim in obs.memory.damped if config.lim(lim) is not None}
        self.frozen = False          # paused: no alarm is cleared either

    # --- what this node knows of its peers

    def peer(self, name: str) -> PeerView:
        return self.obs.peer(name)

    def alive(self, name: str) -> bool:
        peer = self.peer(name)
        return peer.last_heard is not None and self.now - peer.last_heard < self.config.detect_s

    def failed(self, name: str) -> bool:
        """Silent for D; a peer never heard counts as failed once we have listened for D ourselves."""
        return self.silent_for(name, self.config.detect_s)

    def silent_for(self, name: str, seconds: float) -> bool:
        """Silent (or never heard since we listen) for at least `seconds`."""
        peer = self.peer(name)
        since = peer.last_heard if peer.last_heard is not None else self.obs.started_at
        return self.now - since >= seconds

    def heard_for(self, name: str) -> float:
        peer = self.peer(name)
        if not self.alive(name) or peer.heard_since is None:
            return 0.0
        return self.now - peer.heard_since

    @property
    def settled(self) -> bool:
        """Listened long enough to know who is there, since our start and since our carrier came back;
        never while the cable is out (every peer looks failed then, and nobody could reach us)."""
        return not self.cut_off and self.now - self.obs.started_at >= settle_time(self.config)

    @property
    def cut_off(self) -> bool:
        """Our cable is out, or came back less than the relisten time ago: a silent peer may be fine."""
        back = self.obs.link_back_at
        return self.obs.link_down or (back is not None and back > self.obs.started_at
                                      and self.now - back < relisten_time(self.config))

    def listening(self) -> Listening:
        if self.obs.link_down:
            return Listening.CABLE_OUT
        if self.obs.link_back_at is not None and self.obs.link_back_at > self.obs.started_at:
            return Listening.CABLE_BACK
        return Listening.STARTING

    def back_at(self) -> float | None:
        """The latest moment we could hear again after a gap: a peer heard again (not its first
        hearing after our start) or our carrier back; None if neither happened."""
        moments = [p.heard_since for p in self.obs.peers if p.heard_since is not None and self.alive(p.name)
                   and p.heard_since > self.obs.started_at + settle_time(self.config)]
        if self.obs.link_back_at is not None and self.obs.link_back_at > self.obs.started_at:
            moments.append(self.obs.link_back_at)
        return max(moments, default=None)

    # --- what the decision collects

    def say(self, lim: int, where: str | None, kind: LimState, **parameters) -> None:
        self.status[lim] = LimStatus(lim, where, kind, **parameters)

    def do(self, action: Action) -> None:
        self.actions.append(action)

    def alarm(self, alarm: Alarm) -> None:
        self.alarms[alarm[0]] = alarm[1]

    # --- the effects, in both failover modes

    def activate(self, lim: int) -> None:
        """Start serving: preloaded unblocks the alias it already holds; normal adds it."""
        if lim in self.obs.blocked:
            self.do(Unblock(lim))
        if lim in self.obs.running:
            self.do(Announce(lim))
        else:
            self.do(TakeAlias(lim))
        self.announced[lim] = self.now
        self.released.pop(lim, None)

    def deactivate(self, lim: int, reason: str) -> None:
        """Stop serving: preloaded blocks (stays ready, passive); normal stops and removes the alias."""
        if self.preloaded and self.config.lim(lim) is not None:
            self.do(Block(lim, reason))
            self.blocking.add(lim)
        else:
            self.do(ReleaseAlias(lim, reason))
        self.announced.pop(lim, None)

    def ensure_passive(self, lim: int) -> None:
        """Preloaded: the LIM runs here with its alias blocked (block first: never answer ARP)."""
        if not self.preloaded:
            return
        if lim not in self.obs.blocked and lim not in self.blocking and lim not in self.obs.running:
            self.do(Block(lim, "passive side"))
            self.blocking.add(lim)
        if lim not in self.obs.running:
            self.do(TakeAlias(lim, announce=False))

    def keep_announcing(self, lim: int, rival: str | None = None) -> None:
        """Gratuitous ARP again periodically, and once we have listened for the relisten time after a
        gap (a peer heard again, or our own carrier back): while we could not hear it (our
        cable, its death) it may have taken the alias and moved the telephones' ARP caches away, then
        died or yielded; nobody else would move them back. Nothing is announced in the relisten
        time itself, not even the periodic one: a standby that served the LIM meanwhile must be heard
        first (the split-brain rule then releases ours), or the telephones would flip to us and back.
        With a `rival` (a regular's standby, the only other server that may take its alias) the
        periodic one is sent only while the rival is heard: a regular that cannot hear it may be cut
        off while it serves the LIM, and would pull the telephones away as the cut heals."""
        if self.obs.link_down:
            return  # nobody would hear it; we announce once the cable is back and we have listened
        back = self.back_at()
        if back is not None and self.now - back < relisten_time(self.config):
            return
        last = self.announced.get(lim)
        periodic = last is not None and self.now - last >= announce_period(self.config) and \
            (rival is None or self.alive(rival))
        claimed = any(self.alive(p.name) and lim in p.active for p in self.obs.peers)  # it yields first
        after_gap = back is not None and not claimed and (last is None or last < back)
        if periodic or after_gap:
            self.do(Announce(lim))
            self.announced[lim] = self.now

    def forget_old_releases(self) -> None:
        """Stop announcing a release once another server serves the LIM, or after a while."""
        for number, at in list(self.released.items()):
            taken = any(self.alive(peer.name) and number in peer.active for peer in self.obs.peers)
            if self.config.lim(number) is None or taken or self.now - at > release_memory_time(self.config):
                del self.released[number]

    def decision(self) -> Decision:
        actions = list(self.actions)
        for key in sorted(self.alarms.keys() - self.obs.alarms):
            actions.append(RaiseAlarm(key, self.alarms[key]))
        for key in sorted(self.obs.alarms - self.alarms.keys()) if not self.frozen else ():
            actions.append(ClearAlarm(key))
        memory = Memory(target=self.target, released=tuple(sorted(self.released.items())),
                        announced=tuple(sorted(self.announced.items())), takeovers=tuple(self.takeovers),
                        damped=frozenset(self.damped))
        status = tuple(self.status[lim] for lim in sorted(self.status))
        return Decision(tuple(actions), memory, status, frozenset(self.completed))
