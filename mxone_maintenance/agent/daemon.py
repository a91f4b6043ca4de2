"""The agent's loop (Patroni style): signal handlers only set flags; each cycle reloads the config if
it changed, drains heartbeats, takes a snapshot of the world as Observations, calls the pure decide(),
logs the Decision when it changes, applies its actions through the effect interfaces and sends the
heartbeat. Everything outside (clock, effects, heartbeat channel, data sync) is injected, so tests
run the loop cycle by cycle with Fake effects and a hand-moved clock.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent import state as st
from mxone_maintenance.agent.datasync import DataSyncScheduler, order_outlook
from mxone_maintenance.agent.decide import decide, preprobe_lead
from mxone_maintenance.agent.effects import Addresses, Firewall, Neighbours, Service
from mxone_maintenance.agent.heartbeat import Heartbeat
from mxone_maintenance.core.config import files
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import Paths

log = logging.getLogger("mxone-cluster-agent")

CLEARED_KEPT = 50


class DataSync(Protocol):
    """Data sync between standby and regulars (sync.py's ClusterSync). Each raises on failure.
    push: on the standby before handing `lim` back, make sure `server` holds our newest data (row 23;
    sync.NotYetSynced while it has not pulled it yet). pull: on a regular, fetch the standby's newer
    data of `lim`. sync_now: everything of this node, on order."""
    def push(self, lim: int, server: str) -> None: ...
    def pull(self, lim: int, server: str) -> None: ...
    def sync_now(self) -> None: ...


class NullSync:
    def push(self, lim: int, server: str) -> None:
        return None

    def pull(self, lim: int, server: str) -> None:
        return None

    def sync_now(self) -> None:
        return None


SYNC_FRESH_S = 30.0   # a successful data check older than this is done again before a release
SYNC_RETRY_S = 5.0    # after a failed one, wait this long before trying again
SERVICE_RETRY_S = 5.0  # a Service Node that failed to start is started again after this long


@dataclass(frozen=True)
class SyncOutcome:
    ok: bool
    at: float
    error: str = ""
    waiting: bool = False   # the regular has not pulled yet: normal for a moment, no alarm


class SyncRunner:
    """Data sync off the loop (rsync over SSH takes seconds; heartbeats must go on): one job per
    (LIM, peer) at a time, the last outcome of each kept for the loop to read."""

    def __init__(self, clock: Callable[[], float], threaded: bool = True,
                 done: Callable[[], None] = lambda: None) -> None:
        self.clock, self.threaded, self.done = clock, threaded, done
        self.outcomes: dict[tuple[int, str], SyncOutcome] = {}
        self.busy: set[tuple[int, str]] = set()
        self._lock = threading.Lock()

    def outcome(self, key: tuple[int, str]) -> SyncOutcome | None:
        with self._lock:
            return self.outcomes.get(key)

    def snapshot(self) -> dict[tuple[int, str], SyncOutcome]:
        with self._lock:
            return dict(self.outcomes)

    def start(self, key: tuple[int, str], job: Callable[[], None]) -> None:
        with self._lock:
            if key in self.busy:
                return
            self.busy.add(key)
        if self.threaded:
            threading.Thread(target=self._run, args=(key, job), daemon=True, name=f"sync-{key[0]}").start()
        else:
            self._run(key, job)

    def _run(self, key: tuple[int, str], job: Callable[[], None]) -> None:
        try:
            job()
            outcome = SyncOutcome(True, self.clock())
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none kills the loop
            outcome = SyncOutcome(False, self.clock(), str(exc), type(exc).__name__ == "NotYetSynced")
        with self._lock:
            self.outcomes[key] = outcome
            self.busy.discard(key)
        self.done()


class HeartbeatPort(Protocol):
    """What the daemon needs of heartbeat.HeartbeatChannel."""
    counters: Any
    def send(self, hb: Heartbeat, addresses: list[str]) -> None: ...
    def receive_all(self) -> list[tuple[Heartbeat, str]]: ...
    def close(self) -> None: ...


@dataclass
class Effects:
    addresses: Addresses
    neighbours: Neighbours
    firewall: Firewall
    service: Service
    sync: DataSync = field(default_factory=NullSync)


# --- alarms with their times ------------------------------------------------------------------------

@dataclass
class Alarm:
    key: str
    text: str
    raised: float                  # wall clock
    cleared: float | None = None


class AlarmBook:
    """Active alarms and the recently cleared ones, logged when they change."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self.wall = wall
        self.active: dict[str, Alarm] = {}
        self.cleared: list[Alarm] = []

    def raise_(self, key: str, text: str) -> None:
        if key in self.active and self.active[key].text == text:
            return
        self.active[key] = Alarm(key, text, self.wall())
        log.warning("ALARM raised: %s", text)

    def clear(self, key: str) -> None:
        alarm = self.active.pop(key, None)
        if alarm is None:
            return
        alarm.cleared = self.wall()
        self.cleared = (self.cleared + [alarm])[-CLEARED_KEPT:]
        log.warning("ALARM cleared: %s", alarm.text)

    def keys_owned_by_decide(self) -> frozenset[str]:
        return frozenset(k for k in self.active if not alarm_keys.owned_by_runtime(k))

    def as_list(self) -> list[dict]:
        items = list(self.active.values()) + list(reversed(self.cleared))
        return [{"key": a.key, "text": a.text, "raised": a.raised, "cleared": a.cleared,
                 "active": a.cleared is None} for a in items]


# --- the service runs off the loop: a slow Service Node start must not stop heartbeats -------------

class ServiceRunner:
    """Runs service start/stop calls in order on one worker thread; each outcome is queued as
    (lim, "start"|"stop", error or None) for the loop to read."""

    def __init__(self, threaded: bool = True, done: Callable[[], None] = lambda: None) -> None:
        self.done = done
        self.outcomes: queue.Queue[tuple[int, str, str | None]] = queue.Queue()
        self._jobs: queue.Queue[tuple[int, str, Callable[[], None]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, daemon=True) if threaded else None
        if self._thread:
            self._thread.start()

    def submit(self, lim: int, job: Callable[[], None], kind: str = "start") -> None:
        if self._thread is None:
            self._run(lim, kind, job)
        else:
            self._jobs.put((lim, kind, job))

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            self._run(*item)

    def _run(self, lim: int, kind: str, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - any failure of the service command becomes an alarm
            self.outcomes.put((lim, kind, str(exc)))
        else:
            self.outcomes.put((lim, kind, None))
        self.done()

    def stop(self) -> None:
        if self._thread:
            self._jobs.put(None)
            self._thread.join(timeout=5)


class ProbeRunner:
    """ARP probes on one worker thread, one at a time (they share one raw socket): an unanswered probe
    waits its whole timeout, which must not hold up heartbeats or the failure detection of others.
    Results are queued as (lim, started, mac or None, error or None)."""

    def __init__(self, threaded: bool = True, done: Callable[[], None] = lambda: None) -> None:
        self.done = done
        self.results: queue.Queue[tuple[int, float, str | None, str | None]] = queue.Queue()
        self.in_flight: set[int] = set()
        self._jobs: queue.Queue[tuple[int, float, Callable[[], str | None]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, daemon=True, name="arp-probe") if threaded else None
        if self._thread:
            self._thread.start()

    def submit(self, lim: int, started: float, probe: Callable[[], str | None]) -> None:
        if lim in self.in_flight:
            return  # decide() asks every cycle until the answer is in; one probe is enough
        self.in_flight.add(lim)
        if self._thread is None:
            self._run(lim, started, probe)
        else:
            self._jobs.put((lim, started, probe))

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            self._run(*item)

    def _run(self, lim: int, started: float, probe: Callable[[], str | None]) -> None:
        try:
            self.results.put((lim, started, probe(), None))
        except Exception as exc:  # noqa: BLE001 - reported as an effect alarm by the loop
            self.results.put((lim, started, None, str(exc)))
        self.done()

    def stop(self) -> None:
        if self._thread:
            self._jobs.put(None)
            self._thread.join(timeout=5)


# --- the config as the daemon holds it --------------------------------------------------------------

@dataclass(frozen=True)
class FileStamp:
    mtime_ns: int
    size: int
    inode: int


def stamp(path: Path) -> FileStamp | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return FileStamp(info.st_mtime_ns, info.st_size, info.st_ino)


def read_key(path: Path) -> bytes:
    """The cluster key: the file's bytes, stripped (raw bytes or hex text both work)."""
    key = path.read_bytes().strip()
    if not key:
        raise ValueError(f"{path} is empty")
    return key


MakeEffects = Callable[[Cluster, str], Effects]
MakeChannel = Callable[[Cluster, bytes], HeartbeatPort]
MakeSync = Callable[[Cluster, str], DataSync]


class Agent:
    """One cluster agent. `cycle()` is one turn of the loop; `run()` loops until stopped."""

    def __init__(self, paths: Paths, node: str, make_effects: MakeEffects, make_channel: MakeChannel,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 threaded_service: bool = True, make_sync: MakeSync | None = None) -> None:
        self.paths, self.node = paths, node
        self.make_sync = make_sync
        self.make_effects, self.make_channel = make_effects, make_channel
        self.clock, self.wall = clock, wall
        self.started = clock()
        self.alarms = AlarmBook(wall)
        self.doorbell: Doorbell | None = None     # open while run() loops: workers wake it
        self.services = ServiceRunner(threaded_service, self.ring)
        # The Service Node of every alias we hold must run. Holding the alias is not proof: a regular
        # holds its alias from boot (the server's old address) and nobody started its LIM yet.
        self.service_up: set[int] = set()        # started successfully, not stopped since
        self.service_pending: set[int] = set()   # start submitted, outcome not read yet
        self.service_retry_at: dict[int, float] = {}
        self.prober = ProbeRunner(threaded_service, self.ring)
        self.taken_at: dict[int, float] = {}     # a probe begun before we took the alias is stale
        self.syncs = SyncRunner(clock, threaded_service, self.ring)
        self.datasync = DataSyncScheduler(paths, node, clock, wall, threaded=threaded_service)  # when to sync
        self.config: Cluster | None = None
        self.config_note = "no cluster config"
        self.effects: Effects | None = None
        self.channel: HeartbeatPort | None = None
        self.listening_since = self.started
        self.peers: dict[str, st.PeerView] = {}
        self.probes: dict[int, st.AliasProbe] = {}
        self.memory = st.Memory()
        self.orders: set[int] = set()
        self.last_status: tuple = ()
        self.last_decision: st.Decision | None = None
        self.own_state: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())  # (held, blocked) after apply
        self.seq = 0
        self.next_heartbeat = 0.0
        self.last_cycle = float("-inf")          # when the last full cycle ran
        self.link_down = False                   # no carrier on the cluster interface
        self.link_back_at: float | None = None   # when the carrier last came back
        self.last_sent: tuple = ()
        self.own_mac: str | None = None
        self._stamp: FileStamp | None = None
        self._key_stamp: FileStamp | None = None
        self._blocked_cache: tuple[float, frozenset] | None = None
        # set from signal handlers and the control thread; read by the loop
        self.reload_requested = False
        self.stop_requested = False
        self.sync_requested = False
        self.requests: queue.Queue[int] = queue.Queue()
        self.published: dict = {}
        self.publish()

    # --- config -------------------------------------------------------------------------------------

    def poll_config(self) -> None:
        """Reload cluster.yaml (and the key) when either changed on disk, or when asked to."""
        current, key_current = stamp(self.paths.cluster_file), stamp(self.paths.cluster_key)
        forced, self.reload_requested = self.reload_requested, False
        if not forced and current == self._stamp and key_current == self._key_stamp:
            return
        self._stamp, self._key_stamp = current, key_current
        if current is None:
            if self.config is not None:
                log.warning("%s is gone: idle", self.paths.cluster_file)
            self.drop_config("no cluster config")
            self.alarms.clear(alarm_keys.CONFIG)
            return
        try:
            loaded = files.load_cluster(self.paths.cluster_file)
        except (files.FileError, OSError) as exc:
            self.alarms.raise_(alarm_keys.CONFIG, f"Invalid cluster config, keeping generation "
                                             f"{self.config.generation if self.config else '(none)'}: {exc}")
            return
        self.alarms.clear(alarm_keys.CONFIG)
        if self.config is not None and loaded.generation < self.config.generation:
            log.warning("ignored %s: generation %d is older than the active %d", self.paths.cluster_file,
                        loaded.generation, self.config.generation)
            return
        try:
            key = read_key(self.paths.cluster_key)
        except (OSError, ValueError) as exc:
            self.alarms.raise_(alarm_keys.CLUSTER_KEY, f"Cluster key unusable: {getattr(exc, 'strerror', None) or exc}")
            return
        self.alarms.clear(alarm_keys.CLUSTER_KEY)
        self.use_config(loaded, key)

    def use_config(self, config: Cluster, key: bytes) -> None:
        old = self.config
        if old is not None and config == old and self.channel is not None:
            if hasattr(self.channel, "rekey"):
                self.channel.rekey(key, config.name)
            return
        log.info("cluster %s generation %d (%s fallback, %s failover, D %g s, heartbeat %g s)",
                 config.name, config.generation, config.fallback, config.failover, config.detect_s,
                 config.heartbeat_s)
        if old is None or (old.port, old.name) != (config.port, config.name) or self.channel is None:
            self.close_channel()
            self.channel = self.make_channel(config, key)
            self.listening_since = self.clock()
        elif hasattr(self.channel, "rekey"):
            self.channel.rekey(key, config.name)
        if old is None or old.interface != config.interface or self.effects is None:
            self.effects = self.make_effects(config, self.node)
            self.own_mac = self.safely(lambda: self.effects.neighbours.own_mac(), "effect:mac", "MAC")
            self._blocked_cache = None
        if self.make_sync is not None:
            self.effects.sync = self.make_sync(config, self.node)  # sync follows every config change
        members = set(config.member_names) - {self.node}
        self.peers = {name: view for name, view in self.peers.items() if name in members}
        self.config = config
        if self.node not in config.member_names:
            self.alarms.raise_(alarm_keys.NOT_MEMBER, f"This server ({self.node}) is not a member of cluster "
                                             f"{config.name}: idle")
        else:
            self.alarms.clear(alarm_keys.NOT_MEMBER)

    def drop_config(self, note: str) -> None:
        self.close_channel()
        self.config, self.config_note = None, note
        self.peers, self.probes = {}, {}

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    # --- one cycle ----------------------------------------------------------------------------------

    def cycle(self) -> st.Decision | None:
        self.last_cycle = self.clock()
        self.poll_config()
        self.take_requests()
        config = self.config
        if config is None or self.channel is None or self.effects is None:
            self.publish()
            return None
        now = self.clock()
        self.receive(config, now)
        if self.node not in config.member_names:
            self.publish()
            return None
        self.collect_service_outcomes()
        self.collect_probes()
        observations = self.observe(config, now)
        decision = decide(config, observations, now)
        self.log_decision(decision)
        self.apply(config, decision)
        self.datasync.cycle(config, self.effects.sync, self.peers, observations.running & observations.blocked,
                            self.alarms, self.clock())
        held = self.held_aliases()
        self.keep_services(config, held, self.clock())
        self.memory = decision.memory
        self.orders -= decision.completed_orders
        self.heartbeat(config, held, self.clock())
        self.publish()
        return decision

    def take_requests(self) -> None:
        while True:
            try:
                self.orders.add(self.requests.get_nowait())
            except queue.Empty:
                break
        if self.sync_requested and self.effects is not None:
            self.sync_requested = False
            self.datasync.order()   # every LIM of this node, in the background

    def receive(self, config: Cluster, now: float) -> bool:
        """Take in the heartbeats that arrived; True if one told something new (a peer heard for the
        first time or after a gap, or what it runs, blocks, releases or was ordered changed)."""
        members = set(config.member_names) - {self.node}
        news = False
        for hb, _source in self.channel.receive_all():
            if hb.node not in members:
                continue
            flags = parse_flags(hb.flags)
            self.datasync.heard(hb.node, hb.sent_wall, hb.flags)  # clock skew, the peer's newest xdata
            peer = self.peers.get(hb.node, st.PeerView(hb.node))
            self.peers[hb.node] = st.heard(peer, now, config.heartbeat_s, running=hb.running,
                                           blocked=hb.blocked, releasing=hb.releasing,
                                           fallback_orders=flags["fallback"], mac=flags["mac"],
                                           generation=hb.generation)
            news = news or replace(self.peers[hb.node], last_heard=None) != replace(peer, last_heard=None)
        return news

    def held_aliases(self) -> set:
        """The addresses on the cluster interface, read from the kernel (someone may have removed one)."""
        return set(self.safely(self.effects.addresses.list, "effect:addresses", "read addresses") or [])

    def watch_link(self, config: Cluster, now: float) -> None:
        """Note when the carrier comes back: we may have been cut off while serving (decide() listens
        before it acts again). Then ask for every peer's address at once: both kernels may still wait
        on the ARP retry timer from the cut (1 s in the lab), holding the first heartbeats back."""
        link = self.safely(lambda: "up" if self.effects.addresses.carrier() else "down", "effect:link",
                           "read the link state")
        if link == "down" and not self.link_down:
            log.warning("no carrier on %s: cut off from the cluster", self.config.interface)
        elif link == "up" and self.link_down:
            log.info("carrier back on %s", self.config.interface)
            self.link_back_at = now
            own = config.base_of(self.node).ip
            peers = [config.base_of(name).ip for name in config.member_names if name != self.node]
            self.safely(lambda: self.effects.neighbours.ask(own, peers), "effect:neighbours",
                        "ask for the peers' addresses")
        self.link_down = link == "down"  # unreadable counts as up: never hold announcements on a guess

    def observe(self, config: Cluster, now: float) -> st.Observations:
        self.watch_link(config, now)
        held = self.held_aliases()
        running = frozenset(lim.lim for lim in config.lims if lim.alias in held)
        return st.Observations(
            node=self.node, started_at=max(self.started, self.listening_since),
            peers=tuple(self.peers[name] for name in sorted(self.peers)), running=running,
            blocked=self.blocked(config, now), probes=tuple(self.probes[n] for n in sorted(self.probes)),
            fallback_orders=frozenset(self.orders), alarms=self.alarms.keys_owned_by_decide(),
            memory=self.memory, link_down=self.link_down, link_back_at=self.link_back_at)

    def blocked(self, config: Cluster, now: float) -> frozenset[int]:
        """Preloaded only; read from the kernel at most once a second (nft is a process start)."""
        if config.failover != "preloaded":
            return frozenset()
        if self._blocked_cache is None or now - self._blocked_cache[0] >= 1.0:
            aliases = self.safely(self.effects.firewall.blocked, "effect:firewall", "read firewall") or set()
            self._blocked_cache = (now, frozenset(lim.lim for lim in config.lims if lim.alias.ip in aliases))
        return self._blocked_cache[1]

    def log_decision(self, decision: st.Decision) -> None:
        """Log actions when they differ from the last cycle's (a repeated SyncData is one line)."""
        previous = self.last_decision.actions if self.last_decision is not None else ()
        if decision.actions and decision.actions != previous:
            log.info("decided: %s", "; ".join(describe(action) for action in decision.actions))
        if decision.status != self.last_status:
            for item in decision.status:
                log.info("LIM %d: %s", item.lim, item.state)
            self.last_status = decision.status
        self.last_decision = decision

    # --- effects ------------------------------------------------------------------------------------

    def apply(self, config: Cluster, decision: st.Decision) -> None:
        for action in decision.actions:
            if not self.apply_one(config, action):
                log.warning("skipped the rest of this cycle's actions after: %s", describe(action))
                break

    def apply_one(self, config: Cluster, action: st.Action) -> bool:
        """Carry out one action; False stops the cycle (a failed data push must not release)."""
        e = self.effects
        if isinstance(action, st.RaiseAlarm):
            self.alarms.raise_(action.key, action.text)
            return True
        if isinstance(action, st.ClearAlarm):
            self.alarms.clear(action.key)
            return True
        if isinstance(action, st.SyncData):
            return self.data_synced(config, action)
        lim = config.lim(action.lim)
        if lim is None:
            return True
        alias, key = lim.alias, f"effect:{action.lim}"
        if isinstance(action, st.ProbeAlias):
            self.prober.submit(action.lim, self.clock(), lambda: e.neighbours.probe(alias.ip))
            self.collect_probes()  # inline in tests: the answer is there at once
        elif isinstance(action, st.TakeAlias):
            if self.safely(lambda: e.addresses.add(alias), key, f"add alias {alias}") is not False:
                if action.announce:
                    self.safely(lambda: e.neighbours.announce(alias.ip), key, f"announce {alias.ip}")
                self.start_service(action.lim, alias.ip)
            self.probes.pop(action.lim, None)
            self.taken_at[action.lim] = self.clock()
        elif isinstance(action, st.ReleaseAlias):
            self.safely(lambda: e.addresses.remove(alias), key, f"remove alias {alias}")
            self.service_up.discard(action.lim)
            self.service_pending.discard(action.lim)
            self.service_retry_at.pop(action.lim, None)
            self.services.submit(action.lim, lambda: e.service.stop(action.lim, alias.ip), "stop")
        elif isinstance(action, st.Announce):
            self.safely(lambda: e.neighbours.announce(alias.ip), key, f"announce {alias.ip}")
        elif isinstance(action, st.Block):
            self.safely(lambda: e.firewall.block(alias.ip), key, f"block {alias.ip}")
            self._blocked_cache = None
        elif isinstance(action, st.Unblock):
            self.safely(lambda: e.firewall.unblock(alias.ip), key, f"unblock {alias.ip}")
            self._blocked_cache = None
            self.probes.pop(action.lim, None)
            self.taken_at[action.lim] = self.clock()
        return True

    def safely(self, effect: Callable[[], Any], alarm_key: str, what: str) -> Any:
        """Run an effect; a failure is logged and alarmed (and returns False), a success clears it."""
        try:
            result = effect()
        except Exception as exc:  # noqa: BLE001 - the loop must survive any effect failure
            self.alarms.raise_(alarm_key, f"Cannot {what}: {exc}")
            return False
        self.alarms.clear(alarm_key)
        return result

    def data_synced(self, config: Cluster, action: st.SyncData) -> bool:
        """Row 23 off the loop. Standby: True once `server` holds our newest data (checked within
        SYNC_FRESH_S), else start the check and hold the release back. Regular: pull in the background."""
        key, now = (action.lim, action.server), self.clock()
        standby = self.node == config.standby.server
        sync = self.effects.sync
        job = (lambda: sync.push(*key)) if standby else (lambda: sync.pull(*key))
        outcome = self.syncs.outcome(key)
        if outcome is None or now - outcome.at >= (SYNC_FRESH_S if outcome.ok else SYNC_RETRY_S):
            self.syncs.start(key, job)
            outcome = self.syncs.outcome(key)  # already there when jobs run inline (tests)
        if outcome is not None and not outcome.ok and not outcome.waiting:
            self.alarms.raise_(alarm_keys.sync(action.lim), f"{alarm_keys.SYNC_TEXT}: LIM "
                                                            f"{action.lim} with {action.server}: {outcome.error}")
        elif outcome is not None and outcome.ok:
            self.alarms.clear(alarm_keys.sync(action.lim))
        if not standby:
            return True
        return outcome is not None and outcome.ok and now - outcome.at < SYNC_FRESH_S

    def owner_of(self, mac: str | None) -> str | None:
        """Which cluster server a MAC belongs to (peers announce theirs in heartbeats)."""
        if mac is None:
            return None
        if self.own_mac and mac.lower() == self.own_mac.lower():
            return self.node
        return next((p.name for p in self.peers.values() if p.mac and p.mac.lower() == mac.lower()), None)

    def collect_probes(self) -> None:
        """Probe answers that came in; the probe's time is when it ended (its age counts from then)."""
        while True:
            try:
                lim, started, mac, error = self.prober.results.get_nowait()
            except queue.Empty:
                return
            self.prober.in_flight.discard(lim)
            key = f"effect:{lim}"
            if error is not None:
                self.alarms.raise_(key, f"Cannot probe the alias of LIM {lim}: {error}")
                continue
            self.alarms.clear(key)
            if started < self.taken_at.get(lim, float("-inf")):
                continue  # begun before we took the alias: it may have heard the old holder
            self.probes[lim] = st.AliasProbe(lim, self.clock(), mac, self.owner_of(mac))

    def start_service(self, lim: int, ip: Any) -> None:
        """Queue a start; `start` must be idempotent (it is also how we make sure it runs)."""
        service = self.effects.service
        self.service_pending.add(lim)
        self.services.submit(lim, lambda: service.start(lim, ip), "start")

    def keep_services(self, config: Cluster, held: set, now: float) -> None:
        """Start the Service Node of each alias we hold whose start we have not seen succeed: the
        alias a regular held before the cluster existed, after an agent restart, or after a failed
        start (retried every SERVICE_RETRY_S, the alarm stays until one succeeds)."""
        for lim in config.lims:
            number = lim.lim
            if lim.alias not in held or number in self.service_up or number in self.service_pending:
                continue
            if now >= self.service_retry_at.get(number, 0.0):
                self.start_service(number, lim.alias.ip)

    def collect_service_outcomes(self) -> None:
        while True:
            try:
                lim, kind, error = self.services.outcomes.get_nowait()
            except queue.Empty:
                return
            if kind == "start":
                self.service_pending.discard(lim)
            if error is not None:
                self.alarms.raise_(f"effect:service:{lim}", f"Service Node of LIM {lim}: {error}")
                if kind == "start":
                    self.service_retry_at[lim] = self.clock() + SERVICE_RETRY_S
                continue
            self.alarms.clear(f"effect:service:{lim}")
            if kind == "start":
                self.service_up.add(lim)
                self.service_retry_at.pop(lim, None)
            else:
                self.service_up.discard(lim)

    # --- heartbeat ----------------------------------------------------------------------------------

    def heartbeat(self, config: Cluster, held: set, now: float) -> None:
        """Send every heartbeat period, and at once when what we run changed (fast fallback)."""
        running = tuple(sorted(lim.lim for lim in config.lims if lim.alias in held))
        blocked = tuple(sorted(self.blocked(config, now)))
        releasing = tuple(sorted(self.memory.releasing))
        flags = tuple(f"fallback={n}" for n in sorted(self.orders))
        flags += (f"mac={self.own_mac}",) if self.own_mac else ()
        flags += self.datasync.heartbeat_flags()
        content = (running, blocked, releasing, flags, config.generation)
        self.own_state = (running, blocked)
        if now < self.next_heartbeat and content == self.last_sent:
            return
        hb = Heartbeat(cluster=config.name, node=self.node, generation=config.generation, seq=self.seq,
                       sent_wall=self.wall(), running=running, blocked=blocked, releasing=releasing,
                       up_since=round(now - self.started, 3), flags=flags)
        self.seq += 1
        targets = [str(config.base_of(name).ip) for name in config.member_names if name != self.node]
        self.channel.send(hb, targets)
        self.last_sent, self.next_heartbeat = content, now + config.heartbeat_s

    # --- status for the control socket (published as one immutable-by-convention dict) -------------

    def publish(self) -> None:
        now = self.clock()
        config = self.config
        decision = self.last_decision if config is not None else None
        counters = getattr(self.channel, "counters", None)
        self.published = {
            "ok": True, "node": self.node, "now": self.wall(),
            "cluster": config.name if config else None,
            "generation": config.generation if config else None,
            "config": "ok" if config else self.config_note,
            "fallback": config.fallback if config else None,
            "failover": config.failover if config else None,
            "lims": [{"lim": s.lim, "where": s.where, "state": s.state} for s in (decision.status if decision
                                                                               else ())],
            # what this server itself serves (alias held, not blocked) and holds blocked (preloaded
            # passive side): the utility's status reads where each LIM runs from these
            **self.own_lims(config),
            "peers": [{"name": p.name, "generation": p.generation,
                       "heard_ago": None if p.last_heard is None else round(now - p.last_heard, 3),
                       "heard_for": None if p.heard_since is None else round(now - p.heard_since, 3),
                       "running": sorted(p.running), "blocked": sorted(p.blocked)}
                      for p in sorted(self.peers.values(), key=lambda p: p.name)],
            "alarms": self.alarms.as_list(),
            "fallback_orders": sorted(self.orders),
            "sync": self.datasync.status(),
            "sync_checks": [{"lim": lim, "peer": peer, "ok": o.ok, "ago": round(now - o.at, 1), "error": o.error}
                     for (lim, peer), o in sorted(self.syncs.snapshot().items())],
            "counters": dict(vars(counters)) if counters is not None else {},
            "up_s": round(now - self.started, 3),
        }

    def own_lims(self, config: Cluster | None) -> dict:
        held, blocked = self.own_state if config is not None else ((), ())
        return {"running": sorted(set(held) - set(blocked)), "blocked": sorted(set(held) & set(blocked))}

    def status(self) -> dict:
        return self.published

    def order_fallback(self, lim: int) -> dict:
        """From the control thread: queue a manual fallback order (the loop picks it up)."""
        config = self.config
        if config is None:
            return {"ok": False, "error": "no cluster config on this server"}
        if config.lim(lim) is None:
            return {"ok": False, "error": f"LIM {lim} is not in cluster {config.name}"}
        self.requests.put(lim)
        return {"ok": True, "ordered": lim}

    def order_sync(self) -> dict:
        """From the control thread: order a data sync of every LIM of this node (the loop starts it);
        the reply says, from the last cycle's view, which LIMs sync and which cannot now and why."""
        if self.config is None:
            return {"ok": False, "error": "no cluster config on this server"}
        self.sync_requested = True
        return {"ok": True, "sync": "ordered", **order_outlook(self.datasync.states)}

    # --- the loop -----------------------------------------------------------------------------------

    def next_cycle_in(self) -> float:
        """Seconds until the next full cycle is due (<= 0: now): half a heartbeat period (at most
        0.25 s) after the last one, or sooner when a peer reaches a deadline (its pre-probe moment, or
        D) so failure is seen at once, or our heartbeat is due."""
        base = min(self.config.heartbeat_s / 2, 0.25)
        detect = self.config.detect_s
        moments = [p.last_heard + d for p in self.peers.values() if p.last_heard is not None
                   for d in (detect - preprobe_lead(self.config), detect)]
        moments.append(self.next_heartbeat)  # heartbeats on time, not up to a tick late
        pending = [m for m in moments if m > self.last_cycle]  # not yet seen by a full cycle
        return min([self.last_cycle + base, *pending]) - self.clock()

    def tick(self) -> float:
        """How long to sleep (a datagram wakes us earlier)."""
        if not self.config or self.channel is None or self.effects is None:
            return 0.5
        return max(0.005, self.next_cycle_in())

    def ring(self) -> None:
        """From a worker thread: a probe, service or sync result is ready."""
        doorbell = self.doorbell
        if doorbell is not None:
            doorbell.ring()

    def cycle_needed(self) -> bool:
        """Most heartbeats only say "still here": note when they came and leave the rest to the next
        due cycle. A full cycle on every datagram cost ~10 % CPU per agent with ten peers. A worker's
        result (a probe's answer is on the failover's path) gets one at once."""
        rang = self.doorbell is not None and self.doorbell.answer()
        config = self.config
        if rang or config is None or self.channel is None or not self.requests.empty() or self.sync_requested:
            return True
        news = self.receive(config, self.clock())
        return news or self.next_cycle_in() <= 0

    def run(self, wait: Callable[[float, Any], None] | None = None) -> None:
        """Loop until stop_requested; `wait(seconds, channel)` sleeps until the next tick or a datagram."""
        wait = wait or wait_readable
        log.info("agent for %s started (root %s)", self.node, self.paths.root)
        self.doorbell = Doorbell()
        try:
            while not self.stop_requested:
                try:
                    if self.cycle_needed():
                        self.cycle()
                except Exception:  # noqa: BLE001 - a bug in one cycle must not stop the agent
                    log.exception("cycle failed")
                wait(self.tick(), [self.channel, self.doorbell])
        finally:
            self.services.stop()
            self.prober.stop()
            self.close_channel()
            doorbell, self.doorbell = self.doorbell, None
            doorbell.close()
            log.info("agent stopped")


def wait_readable(seconds: float, sources: Sequence[Any]) -> None:
    """Sleep until one of `sources` (objects with fileno(); None and others are skipped) is readable,
    or `seconds` have passed."""
    import select

    fds = [source.fileno() for source in sources if source is not None and hasattr(source, "fileno")]
    if not fds:
        time.sleep(seconds)
        return
    try:
        select.select(fds, [], [], seconds)
    except (OSError, ValueError, InterruptedError):
        time.sleep(min(seconds, 0.05))


class Doorbell:
    """A pipe the worker threads write a byte to when a result is ready, so the loop's select wakes at
    once instead of at its next tick."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._lock = threading.Lock()   # a late ring must not write to a closed (reused) fd
        self._closed = False

    def fileno(self) -> int:
        return self._read

    def ring(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._write, b"!")
            except BlockingIOError:
                pass  # the pipe is full: it is ringing already

    def answer(self) -> bool:
        """Whether it rang since the last answer; empties the pipe."""
        rang = False
        while True:
            try:
                chunk = os.read(self._read, 512)
            except OSError:
                return rang
            if not chunk:
                return rang
            rang = True

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._read)
                os.close(self._write)


def parse_flags(flags: tuple[str, ...]) -> dict:
    """Heartbeat flags this agent uses: `mac=<interface MAC>`, `fallback=<LIM>` (an order it holds)."""
    fallback, mac = set(), None
    for flag in flags:
        name, _, value = flag.partition("=")
        if name == "fallback" and value.isdigit():
            fallback.add(int(value))
        elif name == "mac" and value:
            mac = value
    return {"fallback": frozenset(fallback), "mac": mac}


def describe(action: st.Action) -> str:
    fields = {k: v for k, v in vars(action).items() if v not in ("", True)}
    return type(action).__name__ + "(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"

