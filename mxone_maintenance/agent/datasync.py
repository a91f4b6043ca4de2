"""When the agents sync exchange data, and what status shows of it (DESIGN §6 "Data sync", row 23).

Who syncs what: the standby each LIM of the cluster with its regular server, a regular its own LIMs
with the standby. The side that may receive always runs the sync (sync.py: list the peer, decide the
direction by the reload files' mtimes, pull only if the peer's data is newer).

Why a sync of a LIM starts (the reason shows in status):
  first        the peer is heard for the first time since the agent (or the pairing) started;
  peer-backup  the peer's heartbeat says it holds a newer version than we do: every agent lists its
               xdata folders every POLL_S (one listdir each) and puts `xdata=<lim>:<stamp>` in its
               heartbeat flags, so a data backup on one side reaches the other within seconds;
  daily        DAILY_S after the last good sync;
  order        `mxone-cluster-agent sync` (the utility's `cluster sync --name C`);
  retry        after a failure: RETRY_FIRST_S, doubling up to RETRY_MAX_S.
What holds it: the peer is not heard (it has failed: the failover alarms say so), the peer's clock
differs from ours by more than MAX_CLOCK_SKEW_S (alarm "Clock of <server> differs by N s": mtimes of
the two servers cannot be compared), a sync of that LIM is already running, or MAX_PARALLEL run.

Clock skew: each heartbeat carries the sender's wall clock; skew = its time minus ours when it came
in, the median of the last SKEW_SAMPLES (a late datagram or a slow cycle does not count).

The decisions (`due_syncs`, `median_skew`, flags, status lines) are pure; `DataSyncScheduler` is the
thin stateful part the daemon calls each cycle. Syncs run in threads, never on the heartbeat loop.
"""
from __future__ import annotations

import logging
import queue
import statistics
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.contracts.xdata import MAX_CLOCK_SKEW_S, Role
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import Paths

log = logging.getLogger("mxone-cluster-agent")

DAILY_S = 24 * 3600.0
POLL_S = 2.0                 # list the xdata folders this often
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 300.0
MAX_PARALLEL = 2             # rsyncs at once (a standby with ten regulars does not start ten)
SKEW_SAMPLES = 15
RELOAD_TIMEOUT_S = 60.0
XDATA_FLAG = "xdata"


# --- values --------------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Pair:
    """One LIM's data, kept in step between this node and `peer`."""
    lim: int
    peer: str


@dataclass(frozen=True)
class Job:
    lim: int
    peer: str
    reason: str              # first | peer-backup | daily | order | retry


@dataclass(frozen=True)
class LastSync:
    """How the last sync of a pair ended."""
    at: float                # monotonic, when it ended
    wall: float              # wall clock, when it ended
    ok: bool
    reason: str
    direction: str = "none"
    version: str | None = None
    transferred: bool = False
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    reloaded: bool | None = None     # preloaded passive side: None = no reload needed


@dataclass(frozen=True)
class PairState:
    """What due_syncs needs to know of one pair, at one moment."""
    pair: Pair
    peer_alive: bool
    peer_skew: float | None = None       # peer clock minus ours (None: not known yet)
    peer_stamp: str | None = None        # newest version stamp the peer advertises for this LIM
    local_stamp: str | None = None       # newest version stamp we hold of this LIM
    seen_stamp: str | None = None        # the peer's advertised stamp when our last sync started
    last: LastSync | None = None
    failures: int = 0                    # failures in a row
    busy: bool = False
    ordered: bool = False


# --- pure decisions -----------------------------------------------------------------------------------

def role_of(config: Cluster, node: str) -> Role:
    return "standby" if node == config.standby.server else "regular"


def pairs_of(config: Cluster, node: str) -> tuple[Pair, ...]:
    """The standby pairs with every LIM's regular; a regular with the standby for its own LIMs."""
    if role_of(config, node) == "standby":
        return tuple(Pair(item.lim, item.server) for item in config.lims)
    return tuple(Pair(item.lim, config.standby.server) for item in config.lims if item.server == node)


def clock_held(skew: float | None) -> bool:
    return skew is not None and abs(skew) > MAX_CLOCK_SKEW_S


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


def why_due(state: PairState, now: float, daily_s: float = DAILY_S) -> str | None:
    """The reason a sync of this pair should start now, or None."""
    if hold_reason(state) is not None:
        return None
    if state.ordered:
        return "order"
    last = state.last
    if last is None:
        return "first"
    if not last.ok:
        return "retry" if now - last.at >= retry_delay(state.failures) else None
    if peer_has_newer(state):
        return "peer-backup"
    if now - last.at >= daily_s:
        return "daily"
    return None


def due_syncs(states: Iterable[PairState], now: float, daily_s: float = DAILY_S,
              max_parallel: int = MAX_PARALLEL) -> list[Job]:
    """The syncs to start now: ordered ones first, then by LIM; never more running than max_parallel."""
    states = list(states)
    free = max_parallel - sum(1 for s in states if s.busy)
    due = [(s, reason) for s in states if (reason := why_due(s, now, daily_s)) is not None]
    due.sort(key=lambda item: (item[1] != "order", item[0].pair))
    return [Job(s.pair.lim, s.pair.peer, reason) for s, reason in due[:max(0, free)]]


def order_outlook(states: Iterable[PairState]) -> dict:
    """What a sync order will do, from the last cycle's view: the pairs it syncs (a running sync runs
    again), and each pair that cannot sync now with why (its peer not heard, clocks apart)."""
    syncing, waiting = [], []
    for state in states:
        reason = hold_reason(state)
        if reason in (None, "running"):
            syncing.append({"lim": state.pair.lim, "peer": state.pair.peer})
        else:
            waiting.append({"lim": state.pair.lim, "peer": state.pair.peer, "why": reason})
    return {"syncing": syncing, "waiting": waiting}


def order_text(outlook: Mapping[str, Any]) -> str:
    """One line for the technician: `data sync ordered: LIM 1 with lim1; LIM 2 not now (waiting: ...)`."""
    syncing, waiting = outlook.get("syncing", ()), outlook.get("waiting", ())
    parts = [f"LIM {p['lim']} with {p['peer']}" for p in syncing]
    parts += [f"LIM {p['lim']} not now ({p['why']})" for p in waiting]
    if not parts:
        return "data sync ordered (the agent has not looked at its peers yet; see its status in a moment)"
    return ("data sync ordered: " if syncing else "data sync ordered, but nothing can sync now: ") + "; ".join(parts)


def median_skew(samples: Sequence[float]) -> float | None:
    return statistics.median(samples) if samples else None


def clock_alarm_text(server: str, skew: float) -> str:
    return (f"Clock of {server} differs by {abs(skew):.0f} s (more than {MAX_CLOCK_SKEW_S:.0f} s): "
            f"data sync held")


def xdata_flags(stamps: Mapping[int, str]) -> tuple[str, ...]:
    """Heartbeat flags naming the newest version held of each LIM: `xdata=<lim>:<stamp>`."""
    return tuple(f"{XDATA_FLAG}={lim}:{stamp}" for lim, stamp in sorted(stamps.items()))


def parse_xdata_flags(flags: Iterable[str]) -> dict[int, str]:
    stamps: dict[int, str] = {}
    for flag in flags:
        name, _, value = flag.partition("=")
        lim, _, stamp = value.partition(":")
        if name == XDATA_FLAG and lim.isdigit() and len(stamp) == 14 and stamp.isdigit():
            stamps[int(lim)] = stamp
    return stamps


def io_timeout_for(detect_s: float) -> int:
    """rsync's I/O timeout: a cut peer fails the sync about when it is found failed (5..30 s)."""
    return int(min(30, max(5, round(2 * detect_s))))


def sync_alarm_text(last: LastSync, pair: Pair) -> str:
    return f"{alarm_keys.SYNC_TEXT}: LIM {pair.lim} with {pair.peer}: {last.error or 'unknown error'}"


def status_entry(state: PairState, now: float) -> dict:
    """One LIM's line in the agent's status JSON ("sync": [...])."""
    last = state.last
    entry: dict[str, Any] = {"lim": state.pair.lim, "peer": state.pair.peer,
                             "state": hold_reason(state) or "idle",
                             "last": None, "ok": None, "age_s": None, "direction": None, "version": None,
                             "reason": None, "transferred": False, "bytes": 0, "error": None,
                             "reloaded": None, "clock_skew_s": None}
    if state.peer_skew is not None:
        entry["clock_skew_s"] = round(state.peer_skew, 2)
    if last is not None:
        entry.update(last=round(last.wall, 3), ok=last.ok, age_s=round(max(0.0, now - last.at), 1),
                     direction=last.direction, version=last.version, reason=last.reason,
                     transferred=last.transferred, bytes=last.bytes, error=last.error, reloaded=last.reloaded)
    return entry


def status_lines(entries: Sequence[Mapping[str, Any]], when: Callable[[float], str]) -> list[str]:
    """The sync part of `mxone-cluster-agent status` as text."""
    lines = ["data sync:", "  LIM  peer       last sync            result  direction   version                 age"]
    for e in entries:
        result = "-" if e["ok"] is None else "ok" if e["ok"] else "FAILED"
        age = "-" if e["age_s"] is None else f"{e['age_s']:.0f} s"
        lines.append(f"  {e['lim']:<4} {e['peer']:<10} {when(e['last']) if e['last'] else 'never':<20} "
                     f"{result:<7} {e['direction'] or '-':<11} {e['version'] or '-':<23} {age}")
        if e["state"] != "idle":
            lines.append(f"       {e['state']}")
        if e["error"]:
            lines.append(f"       {e['error']}")
    if not entries:
        lines.append("  none")
    return lines


# --- I/O at the edge: what runs a sync, what reloads a passive Service Node ----------------------------

class LimSync(Protocol):
    """What the scheduler needs of the daemon's DataSync (main.ClusterDataSync): sync one LIM with the
    right peer, returning a sync.SyncResult; optionally `reload(lim)` the Service Node."""
    def sync_lim(self, lim: int) -> Any: ...


class CommandReload:
    """agent.yaml's `service: {reload: [...]}` for one LIM ({lim}, {alias}, {node} filled in)."""

    def __init__(self, template: Sequence[str], config: Cluster, node: str,
                 timeout: float = RELOAD_TIMEOUT_S) -> None:
        self.template, self.config, self.node, self.timeout = list(template), config, node, timeout

    def __call__(self, lim: int) -> bool:
        """Reload; False when agent.yaml has no reload command (nothing ran)."""
        from mxone_maintenance.agent.effects import expand

        item = self.config.lim(lim)
        if not self.template or item is None:
            return False
        argv = expand(self.template, lim, item.alias, self.node)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"reload LIM {lim}: {argv[0]}: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(f"reload LIM {lim}: exit {done.returncode}: {detail[-1] if detail else ''}")
        return True


def run_job(job: Job, sync: LimSync, reload: bool, clock: Callable[[], float],
            wall: Callable[[], float]) -> LastSync:
    """One sync (in a worker thread); every failure becomes a failed LastSync, never an exception."""
    try:
        result = sync.sync_lim(job.lim)
    except Exception as exc:  # noqa: BLE001 - reported in status and as an alarm
        return LastSync(clock(), wall(), False, job.reason, error=str(exc) or type(exc).__name__)
    reloaded = None
    if result.ok and result.transferred and reload and hasattr(sync, "reload"):
        try:
            reloaded = True if sync.reload(job.lim) else None
        except Exception as exc:  # noqa: BLE001
            log.warning("LIM %d: reload after the data sync failed: %s", job.lim, exc)
            reloaded = False
    return LastSync(clock(), wall(), result.ok, job.reason, result.direction, result.version,
                    result.transferred, result.bytes, round(result.seconds, 3), result.error, reloaded)


# --- the stateful part the daemon calls -------------------------------------------------------------

@dataclass
class PairBook:
    """What the scheduler remembers of one pair between cycles."""
    seen_stamp: str | None = None
    last: LastSync | None = None
    failures: int = 0
    busy: bool = False
    ordered: bool = False
    reload_failed: bool = False


@dataclass
class DataSyncScheduler:
    """Called by the daemon's loop: `heard` per heartbeat, `cycle` per cycle, `order` on the control
    socket's sync order, `heartbeat_flags` for what we send, `status` for what we publish."""
    paths: Paths
    node: str
    clock: Callable[[], float]
    wall: Callable[[], float]
    threaded: bool = True
    daily_s: float = DAILY_S
    poll_s: float = POLL_S
    max_parallel: int = MAX_PARALLEL
    books: dict[Pair, PairBook] = field(default_factory=dict)
    samples: dict[str, deque] = field(default_factory=dict)
    peer_stamps: dict[str, dict[int, str]] = field(default_factory=dict)
    local_stamps: dict[int, str] = field(default_factory=dict)
    states: tuple[PairState, ...] = ()
    config: Cluster | None = None
    order_pending: bool = False
    next_poll: float = 0.0
    finished: queue.Queue = field(default_factory=queue.Queue)

    # -- inputs from the loop

    def heard(self, node: str, sent_wall: float, flags: Iterable[str]) -> None:
        """A valid heartbeat of a member came in now."""
        window = self.samples.setdefault(node, deque(maxlen=SKEW_SAMPLES))
        window.append(sent_wall - self.wall())
        self.peer_stamps[node] = parse_xdata_flags(flags)

    def order(self) -> None:
        self.order_pending = True

    def skew(self, peer: str) -> float:
        """The peer's clock minus ours (0.0 while unknown): for sync.ClusterSync's clock_skew."""
        return median_skew(self.samples.get(peer, ())) or 0.0

    def heartbeat_flags(self) -> tuple[str, ...]:
        return xdata_flags(self.local_stamps)

    # -- one cycle

    def cycle(self, config: Cluster, sync: Any, peers: Mapping[str, Any], passive: Iterable[int],
              alarms: Any, now: float) -> list[Job]:
        """Follow the config, read finished syncs, check clocks, start the syncs that are due.
        `peers`: name -> state.PeerView; `passive`: LIMs this node runs passively (preloaded, blocked);
        `alarms`: the daemon's AlarmBook."""
        self.follow_config(config, alarms)
        self.collect_finished(alarms)
        self.poll_local(now)
        self.check_clocks(config, alarms)
        if self.order_pending:
            self.order_pending = False
            for book in self.books.values():
                book.ordered = True
        self.states = tuple(self.state_of(pair, config, peers, now) for pair in sorted(self.books))
        if not hasattr(sync, "sync_lim"):
            return []          # NullSync (tests, no cluster sync wired): nothing to run
        jobs = due_syncs(self.states, now, self.daily_s, self.max_parallel)
        passive = frozenset(passive)
        for job in jobs:
            self.start(job, sync, job.lim in passive)
        self.drop_orders_nobody_can_serve()
        return jobs

    def follow_config(self, config: Cluster, alarms: Any) -> None:
        if config == self.config:
            return
        self.config = config
        wanted = set(pairs_of(config, self.node))
        for pair in set(self.books) - wanted:
            del self.books[pair]
            alarms.clear(alarm_keys.sync(pair.lim))
        for pair in wanted - set(self.books):
            self.books[pair] = PairBook()
        members = set(config.member_names)
        for name in [n for n in self.samples if n not in members]:
            del self.samples[name]
            self.peer_stamps.pop(name, None)
            alarms.clear(alarm_keys.clock(name))
        self.next_poll = 0.0

    def poll_local(self, now: float) -> None:
        if now < self.next_poll or self.config is None:
            return
        self.next_poll = now + self.poll_s
        role = role_of(self.config, self.node)
        stamps = {pair.lim: xdata.newest_stamp_held(self.paths, role, pair.lim) for pair in self.books}
        self.local_stamps = {lim: stamp for lim, stamp in stamps.items() if stamp is not None}

    def check_clocks(self, config: Cluster, alarms: Any) -> None:
        for name in config.member_names:
            skew = median_skew(self.samples.get(name, ()))
            if skew is None or name == self.node:
                continue
            if clock_held(skew):
                alarms.raise_(alarm_keys.clock(name), clock_alarm_text(name, skew))
            else:
                alarms.clear(alarm_keys.clock(name))

    def state_of(self, pair: Pair, config: Cluster, peers: Mapping[str, Any], now: float) -> PairState:
        book = self.books[pair]
        view = peers.get(pair.peer)
        heard = getattr(view, "last_heard", None)
        alive = heard is not None and now - heard <= config.detect_s
        return PairState(pair, alive, median_skew(self.samples.get(pair.peer, ())),
                         self.peer_stamps.get(pair.peer, {}).get(pair.lim), self.local_stamps.get(pair.lim),
                         book.seen_stamp, book.last, book.failures, book.busy, book.ordered)

    def drop_orders_nobody_can_serve(self) -> None:
        """An order for a pair whose peer is not heard is dropped (status shows why nothing ran)."""
        for state in self.states:
            if state.ordered and not state.peer_alive:
                self.books[state.pair].ordered = False

    # -- jobs

    def start(self, job: Job, sync: Any, reload: bool) -> None:
        pair = Pair(job.lim, job.peer)
        book = self.books[pair]
        book.busy, book.ordered = True, False
        book.seen_stamp = self.peer_stamps.get(job.peer, {}).get(job.lim)
        log.info("LIM %d: data sync with %s (%s)", job.lim, job.peer, job.reason)

        def work() -> None:
            self.finished.put((pair, run_job(job, sync, reload, self.clock, self.wall)))

        if self.threaded:
            threading.Thread(target=work, daemon=True, name=f"datasync-{job.lim}").start()
        else:
            work()              # tests: done now, read at the start of the next cycle

    def collect_finished(self, alarms: Any) -> None:
        while True:
            try:
                pair, last = self.finished.get_nowait()
            except queue.Empty:
                return
            book = self.books.get(pair)
            if book is None:
                continue
            book.busy, book.last = False, last
            book.failures = 0 if last.ok else book.failures + 1
            self.next_poll = 0.0        # what we hold may have changed: advertise it at once
            self.report(pair, last, alarms)

    def report(self, pair: Pair, last: LastSync, alarms: Any) -> None:
        if last.ok:
            if last.transferred:
                log.info("LIM %d: data sync with %s: %s %s (%d bytes in %.1f s)%s", pair.lim, pair.peer,
                         last.direction, last.version, last.bytes, last.seconds,
                         ", Service Node reloaded" if last.reloaded else "")
        else:
            log.warning("LIM %d: data sync with %s failed: %s", pair.lim, pair.peer, last.error)
        if last.ok:
            alarms.clear(alarm_keys.sync(pair.lim))
        else:
            alarms.raise_(alarm_keys.sync(pair.lim), sync_alarm_text(last, pair))
        reload_key = alarm_keys.effect(f"reload:{pair.lim}")
        if last.reloaded is False:
            alarms.raise_(reload_key, f"Service Node of LIM {pair.lim}: reload after a data sync failed")
        elif last.reloaded:
            alarms.clear(reload_key)

    # -- output

    def status(self) -> list[dict]:
        now = self.clock()
        return [status_entry(state, now) for state in self.states]
