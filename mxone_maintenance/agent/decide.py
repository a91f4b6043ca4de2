"""The agent's decisions: `decide(config, observations, now) -> Decision`, pure (no I/O, no clock).

DESIGN §6 and SCENARIOS.md, rule by rule. Every node runs the same function over its own view:
- a regular server serves its own LIM unless the standby serves it (then it yields: split brain) or
  it is locked to the standby; a node that just started waits two heartbeat periods first (row 24)
  unless it already holds the alias (row 25);
- the standby serves at most one LIM: the one locked to it, else the failed regular's LIM with the
  lowest priority value (equal keeps the current one, strictly better replaces it);
- fallback: the standby hands the LIM back (automatic: after the regular was heard for the hold time
  H; manual: when ordered) and announces the release; the regular takes the alias only once it has
  seen that release, so there are never two holders;
- before taking an alias that nobody handed over, probe it with ARP; an answer blocks the takeover.
Preloaded clusters run the LIM on both sides: "release" is Block, "take" is Unblock + Announce.
"""
from __future__ import annotations

from mxone_maintenance.agent.state import (
    Action,
    AliasProbe,
    Announce,
    Block,
    ClearAlarm,
    Decision,
    LimStatus,
    Memory,
    Observations,
    PeerView,
    ProbeAlias,
    RaiseAlarm,
    ReleaseAlias,
    SyncData,
    TakeAlias,
    Unblock,
)
from mxone_maintenance.core.model import Cluster, ClusterLim

# --- timing, all derived from the config ----------------------------------------------------------


def hold_time(config: Cluster) -> float:
    """H: how long a returned regular must be heard without a gap before automatic fallback, so a
    flapping server does not bounce its LIM. A `hold_s` config field wins if the model has one."""
    configured = getattr(config, "hold_s", None)
    return float(configured) if configured is not None else max(3 * config.heartbeat_s, 2.0)


def settle_time(config: Cluster) -> float:
    """A node that just started listens this long before taking an alias (row 24)."""
    return 2 * config.heartbeat_s


ARP_RETRY_S = 1.0   # Linux retries an unanswered ARP request after retrans_time_ms, 1 s by default


def relisten_time(config: Cluster) -> float:
    """After a gap (our carrier back, a peer heard again) listen this long before acting on what we
    do not hear: the start-up listening time plus the network's own ARP retry, which can hold the
    first heartbeats either way back for a second after a cut (seen in the lab; chaos seed 6)."""
    return settle_time(config) + ARP_RETRY_S


def probe_fresh_time(config: Cluster) -> float:
    """An ARP probe result older than this is not trusted for a takeover."""
    return max(2 * config.heartbeat_s, 0.5)


def reprobe_time(config: Cluster) -> float:
    """After an answered probe, probe again this often (rows 14, 15)."""
    return max(config.heartbeat_s, 1.0)


def probe_timeout(config: Cluster) -> float:
    """An unanswered ARP probe takes this long (an answer on a LAN comes in well under a millisecond)."""
    return min(0.3, max(0.05, config.heartbeat_s))


def preprobe_lead(config: Cluster) -> float:
    """The standby probes a silent regular's alias this long before D, so the answer (none, when the
    server is dead) is in and fresh at D and the takeover does not wait a probe timeout. At the fastest
    settings D/4 is shorter than the probe itself; the lead is then the probe's time plus 20 ms."""
    return min(0.4, max(config.detect_s / 4, probe_timeout(config) + 0.02), probe_fresh_time(config) / 2)


def announce_period(config: Cluster) -> float:
    """Repeat the gratuitous ARP this often after a takeover (caches that missed the first one)."""
    return max(10 * config.heartbeat_s, 5.0)


def release_memory_time(config: Cluster) -> float:
    """How long a handed-back LIM is announced as releasing if its regular does not take it."""
    return config.detect_s + settle_time(config)


# --- alarm texts ------------------------------------------------------------------------------------

def _lim_on_standby(lim: int) -> tuple[str, str]:
    return f"lim-on-standby:{lim}", f"LIM {lim} is running on standby server"


STANDBY_DOWN = ("standby-down", "Standby server is out of order")


def _link_down(config: Cluster) -> tuple[str, str]:
    return "link-down", f"No link on {config.interface}: this server is cut off from the cluster"


# --- the cycle's working state ----------------------------------------------------------------------

class _Cycle:
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

    # what this node knows of its peers
    def peer(self, name: str) -> PeerView:
        return self.obs.peer(name)

    def alive(self, name: str) -> bool:
        peer = self.peer(name)
        return peer.last_heard is not None and self.now - peer.last_heard < self.config.detect_s

    def failed(self, name: str) -> bool:
        """Silent for D; a peer never heard counts as failed once we have listened for D ourselves."""
        peer = self.peer(name)
        since = peer.last_heard if peer.last_heard is not None else self.obs.started_at
        return self.now - since >= self.config.detect_s

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

    def listening_words(self) -> str:
        if self.obs.link_down:
            return "cable out: no link on the cluster interface"
        if self.obs.link_back_at is not None and self.obs.link_back_at > self.obs.started_at:
            return "cable back: listening to peers"
        return "starting: listening to peers"

    def say(self, lim: int, where: str | None, state: str) -> None:
        self.status[lim] = LimStatus(lim, where, state)

    def do(self, action: Action) -> None:
        self.actions.append(action)

    def alarm(self, key_text: tuple[str, str]) -> None:
        self.alarms[key_text[0]] = key_text[1]

    # the effects, in both failover modes
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

    def back_at(self) -> float | None:
        """The latest moment we could hear again after a gap: a peer heard again (not its first
        hearing after our start) or our carrier back; None if neither happened."""
        moments = [p.heard_since for p in self.obs.peers if p.heard_since is not None and self.alive(p.name)
                   and p.heard_since > self.obs.started_at + settle_time(self.config)]
        if self.obs.link_back_at is not None and self.obs.link_back_at > self.obs.started_at:
            moments.append(self.obs.link_back_at)
        return max(moments, default=None)

    def decision(self) -> Decision:
        actions = list(self.actions)
        for key in sorted(self.alarms.keys() - self.obs.alarms):
            actions.append(RaiseAlarm(key, self.alarms[key]))
        for key in sorted(self.obs.alarms - self.alarms.keys()):
            actions.append(ClearAlarm(key))
        memory = Memory(target=self.target, released=tuple(sorted(self.released.items())),
                        announced=tuple(sorted(self.announced.items())))
        status = tuple(self.status[lim] for lim in sorted(self.status))
        return Decision(tuple(actions), memory, status, frozenset(self.completed))


# --- taking an alias nobody handed over: probe first (DESIGN §6 takeover, rows 3, 14, 15) ---------

def _take_when_clear(cycle: _Cycle, lim: ClusterLim, handed_over: bool, doing: str,
                     not_before: float | None = None) -> None:
    """Activate `lim` if its alias is free; else probe it, or wait and alarm while it is answered.
    An answer from before `not_before` (a pre-probe, while the regular was still alive) is asked again
    at once instead of after the re-probe time."""
    if handed_over:
        cycle.activate(lim.lim)
        cycle.say(lim.lim, cycle.obs.node, f"{doing}: alias handed over, taking it")
        return
    probe = cycle.obs.probe(lim.lim)
    age = cycle.now - probe.at if probe is not None else None
    if probe is not None and probe.kind == "none" and age <= probe_fresh_time(cycle.config):
        cycle.activate(lim.lim)
        cycle.say(lim.lim, cycle.obs.node, f"{doing}: alias free, taking it")
        return
    if probe is not None and not_before is not None and probe.at < not_before:
        cycle.do(ProbeAlias(lim.lim))
        cycle.say(lim.lim, None, f"{doing}: probing alias")
        return
    if probe is not None and probe.kind != "none":
        cycle.alarm(_conflict_alarm(lim, probe))
        if age >= reprobe_time(cycle.config):
            cycle.do(ProbeAlias(lim.lim))
        cycle.say(lim.lim, probe.server, f"{doing}: alias answered by {_answerer(probe)}, waiting")
        return
    cycle.do(ProbeAlias(lim.lim))
    cycle.say(lim.lim, None, f"{doing}: probing alias")


def _answerer(probe: AliasProbe) -> str:
    return f"{probe.server} ({probe.mac})" if probe.server else f"foreign MAC {probe.mac}"


def _conflict_alarm(lim: ClusterLim, probe: AliasProbe) -> tuple[str, str]:
    alias = lim.alias.ip
    if probe.server:
        text = f"Alias {alias} of LIM {lim.lim} is still answered by {probe.server} ({probe.mac})"
    else:
        text = f"Alias {alias} of LIM {lim.lim} is answered by {probe.mac}, which is no cluster server"
    return f"alias-conflict:{lim.lim}", text


# --- the regular server -------------------------------------------------------------------------------

def _regular(cycle: _Cycle, lim: ClusterLim) -> None:
    standby = cycle.config.standby.server
    sb = cycle.peer(standby)
    standby_serves = cycle.alive(standby) and lim.lim in sb.active
    serving = lim.lim in cycle.obs.active
    if cycle.failed(standby) and not cycle.cut_off:  # our own cable out says nothing of the standby
        cycle.alarm(STANDBY_DOWN)
    if lim.lim in cycle.obs.fallback_orders and serving and not standby_serves:
        cycle.completed.add(lim.lim)

    if lim.lock == "standby" or standby_serves:
        if serving:
            reason = "locked to standby" if lim.lock == "standby" else "split brain: standby serves it too"
            cycle.deactivate(lim.lim, reason)
            cycle.released[lim.lim] = cycle.now  # the standby may take it without probing
            if lim.lock != "standby":
                cycle.alarm((f"split-brain:{lim.lim}", f"LIM {lim.lim} was active on {cycle.obs.node} and "
                             f"on standby server {standby}: released on {cycle.obs.node}"))
        cycle.ensure_passive(lim.lim)
        if standby_serves and _fallback_coming(cycle, lim):
            cycle.do(SyncData(lim.lim, standby))  # row 23: pull the standby's newer data beforehand
        cycle.say(lim.lim, standby if standby_serves else None, _waiting_words(cycle, lim))
        return
    if serving:
        cycle.keep_announcing(lim.lim, rival=standby)
        cycle.say(lim.lim, cycle.obs.node, "running here")
        return
    cycle.ensure_passive(lim.lim)
    if not cycle.settled:
        cycle.say(lim.lim, None, cycle.listening_words())
        return
    if cycle.preloaded and lim.lim not in cycle.obs.running:
        cycle.say(lim.lim, None, "starting LIM (passive)")
        return
    handed_over = cycle.alive(standby) and (
        lim.lim in sb.releasing or (cycle.preloaded and lim.lim in sb.running and lim.lim in sb.blocked))
    _take_when_clear(cycle, lim, handed_over, "starting LIM")


def _fallback_coming(cycle: _Cycle, lim: ClusterLim) -> bool:
    """Will the standby hand this LIM back once we are up long enough (so our data must be current)?"""
    if lim.lock == "standby":
        return False
    return (lim.lock == "regular" or cycle.config.fallback == "automatic"
            or lim.lim in cycle.obs.fallback_orders)


def _waiting_words(cycle: _Cycle, lim: ClusterLim) -> str:
    if lim.lock == "standby":
        return "locked to standby"
    if lim.lock == "regular":
        return "running on standby, coming back (locked to regular)"
    if cycle.config.fallback == "manual":
        if lim.lim in cycle.obs.fallback_orders:
            return "running on standby, fallback ordered"
        return "running on standby, waiting for manual fallback"
    return "running on standby, automatic fallback after hold time"


# --- the standby server -------------------------------------------------------------------------------

def _orders_for(cycle: _Cycle, lim: ClusterLim) -> frozenset[int]:
    """Fallback orders reach either agent: the standby's own and those its regular advertises."""
    return cycle.obs.fallback_orders | cycle.peer(lim.server).fallback_orders


def _may_hand_back(cycle: _Cycle, lim: ClusterLim) -> bool:
    """Fallback for a LIM this standby serves: its regular is back, and by the fallback rules."""
    regular = cycle.peer(lim.server)
    if lim.lock == "standby" or not cycle.alive(lim.server) or lim.lim in regular.active:
        return False  # a regular that still serves it yields first (split brain), then fallback
    heard = cycle.heard_for(lim.server)
    if lim.lock == "regular" or lim.lim in _orders_for(cycle, lim):
        return heard >= settle_time(cycle.config)
    return cycle.config.fallback == "automatic" and heard >= hold_time(cycle.config)


def _needs_standby(cycle: _Cycle, lim: ClusterLim) -> bool:
    if lim.lock == "standby":
        return True
    if lim.lim in cycle.obs.active:
        return not _may_hand_back(cycle, lim)
    return lim.lock != "regular" and cycle.failed(lim.server)


def _choose_target(cycle: _Cycle) -> ClusterLim | None:
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


def _standby(cycle: _Cycle) -> None:
    target = _choose_target(cycle)
    cycle.target = target.lim if target else None
    for number in sorted(cycle.obs.active):
        if target is None or number != target.lim:
            _hand_back(cycle, number, target)
    for lim in cycle.config.lims:
        if lim.lim not in cycle.obs.active or target is None or lim.lim != target.lim:
            cycle.ensure_passive(lim.lim)
    if target is not None:
        _serve_on_standby(cycle, target)
    _preprobe(cycle, target)
    for lim in cycle.config.lims:
        if target is None or lim.lim != target.lim:
            _report_other(cycle, lim, target)
    for number in cycle.obs.fallback_orders:
        if number not in cycle.obs.active or cycle.config.lim(number) is None:
            cycle.completed.add(number)


def _preprobe(cycle: _Cycle, target: ClusterLim | None) -> None:
    """Probe the alias of a regular about to pass D whose LIM would then come here (saves a probe
    timeout of the failover); the result is only used if it is fresh when the regular has failed."""
    if not cycle.settled or cycle.preloaded:
        return
    lead = preprobe_lead(cycle.config)
    for lim in sorted(cycle.config.lims, key=lambda item: (item.priority, item.lim)):
        peer = cycle.peer(lim.server)
        if lim.lock == "regular" or lim.lim in cycle.obs.active or peer.last_heard is None:
            continue
        if target is not None and (target.lim in cycle.obs.active or target.lock == "standby"):
            if lim.priority >= target.priority:
                continue
        silent = cycle.now - peer.last_heard
        if not cycle.config.detect_s - lead <= silent < cycle.config.detect_s:
            continue
        probe = cycle.obs.probe(lim.lim)
        if probe is None or probe.at < peer.last_heard:
            cycle.do(ProbeAlias(lim.lim))
        return


def _hand_back(cycle: _Cycle, number: int, target: ClusterLim | None) -> None:
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


def _serve_on_standby(cycle: _Cycle, lim: ClusterLim) -> None:
    node = cycle.obs.node
    if lim.lim in cycle.obs.active:
        cycle.keep_announcing(lim.lim)
        cycle.alarm(_lim_on_standby(lim.lim))
        cycle.say(lim.lim, node, _on_standby_words(cycle, lim))
        if not cycle.alive(lim.server):
            _watch_duplicate(cycle, lim)
        return
    regular = cycle.peer(lim.server)
    if not cycle.settled:
        cycle.say(lim.lim, None, cycle.listening_words())
    elif cycle.preloaded and lim.lim not in cycle.obs.running:
        cycle.say(lim.lim, None, "taking over: starting LIM (passive) first")
    elif cycle.alive(lim.server) and lim.lim in regular.active:
        cycle.say(lim.lim, lim.server, f"taking over: waiting for {lim.server} to release it")
    else:
        handed_over = cycle.alive(lim.server) and lim.lim in regular.releasing
        _take_when_clear(cycle, lim, handed_over, "taking over", _failed_at(cycle, lim.server))
        if lim.lim in {a.lim for a in cycle.actions if isinstance(a, (TakeAlias, Unblock))}:
            cycle.alarm(_lim_on_standby(lim.lim))


def _failed_at(cycle: _Cycle, name: str) -> float | None:
    """When a silent peer passed D (None: never heard, or not failed)."""
    peer = cycle.peer(name)
    return None if peer.last_heard is None else peer.last_heard + cycle.config.detect_s


def _watch_duplicate(cycle: _Cycle, lim: ClusterLim) -> None:
    """While serving a failed regular's LIM, probe the alias now and then: a regular that was hung
    (kernel and agent frozen) when we probed can wake with the alias still on its interface, and its
    agent may stay silent, so no split-brain rule will ever remove it. We keep the LIM (its regular
    counts as failed), raise an alarm and announce, so the telephones' ARP caches come back to us."""
    probe = cycle.obs.probe(lim.lim)
    if probe is None or cycle.now - probe.at >= reprobe_time(cycle.config):
        cycle.do(ProbeAlias(lim.lim))
    if probe is None or probe.kind == "none" or cycle.now - probe.at > 2 * reprobe_time(cycle.config):
        return
    cycle.alarm((f"duplicate-alias:{lim.lim}", f"Alias {lim.alias.ip} of LIM {lim.lim} is also answered by "
                 f"{_answerer(probe)} while this standby serves it"))
    if cycle.now - cycle.announced.get(lim.lim, float("-inf")) >= reprobe_time(cycle.config):
        cycle.do(Announce(lim.lim))
        cycle.announced[lim.lim] = cycle.now


def _on_standby_words(cycle: _Cycle, lim: ClusterLim) -> str:
    if lim.lock == "standby":
        return "running on standby (locked to standby)"
    if not cycle.alive(lim.server):
        return "running on standby"
    if lim.lim in cycle.peer(lim.server).active:
        return f"running on standby, waiting for {lim.server} to release it (split brain)"
    if cycle.config.fallback == "manual" and lim.lim not in _orders_for(cycle, lim):
        return "running on standby, waiting for manual fallback"
    return "running on standby, fallback after hold time"


def _report_other(cycle: _Cycle, lim: ClusterLim, target: ClusterLim | None) -> None:
    """Status (and the not-served alarm) of a LIM the standby does not serve."""
    regular = cycle.peer(lim.server)
    if cycle.cut_off and not cycle.alive(lim.server):
        cycle.say(lim.lim, None, f"unknown: {cycle.listening_words()}, {lim.server} not heard")
        return
    if cycle.alive(lim.server):
        if lim.lim in regular.active:
            cycle.say(lim.lim, lim.server, f"running on {lim.server}")
        elif lim.lim in cycle.released:
            cycle.say(lim.lim, None, f"handed back, waiting for {lim.server} to start it")
        else:
            cycle.say(lim.lim, None, f"not running ({lim.server} is up)")
        return
    if not cycle.failed(lim.server):
        cycle.say(lim.lim, None, f"unknown: listening for {lim.server}")
        return
    if lim.lock == "regular":
        why = "locked to regular"
    elif target is not None and target.priority < lim.priority:
        why = "lower priority"
    elif target is not None:
        why = f"standby runs LIM {target.lim}"
    else:
        why = "standby not ready"
    cycle.say(lim.lim, None, f"not served ({why})")
    cycle.alarm((f"not-served:{lim.lim}",
                 f"LIM {lim.lim} is not served: server {lim.server} has failed ({why})"))


def _forget_old_releases(cycle: _Cycle) -> None:
    """Stop announcing a release once another server serves the LIM, or after a while."""
    for number, at in list(cycle.released.items()):
        taken = any(cycle.alive(peer.name) and number in peer.active for peer in cycle.obs.peers)
        if cycle.config.lim(number) is None or taken or cycle.now - at > release_memory_time(cycle.config):
            del cycle.released[number]


# --- status of LIMs a regular does not own --------------------------------------------------------------

def _report_seen(cycle: _Cycle, lim: ClusterLim) -> None:
    holders = [peer.name for peer in cycle.obs.peers if cycle.alive(peer.name) and lim.lim in peer.active]
    cycle.say(lim.lim, holders[0] if holders else None,
              f"running on {', '.join(holders)}" if holders else "not seen running")


# --- the entry point --------------------------------------------------------------------------------------

def decide(config: Cluster, observations: Observations, now: float) -> Decision:
    """What this node does now, as a value. Same inputs, same Decision."""
    cycle = _Cycle(config, observations, now)
    node = observations.node
    if observations.link_down:
        cycle.alarm(_link_down(config))
    if node == config.standby.server:
        _standby(cycle)
    else:
        mine = [lim for lim in config.lims if lim.server == node]
        for lim in mine:
            _regular(cycle, lim)
        for lim in config.lims:
            if lim.server != node:
                _report_seen(cycle, lim)
        strays = observations.running - {lim.lim for lim in mine}
        for number in sorted(strays):
            cycle.deactivate(number, "not this server's LIM")
        for number in observations.fallback_orders:
            if config.lim(number) is None or config.lim(number).server != node:
                cycle.completed.add(number)
    _forget_old_releases(cycle)
    return cycle.decision()
