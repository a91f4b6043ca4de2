"""When the agents sync exchange data (DESIGN §6 "Data sync", row 23): the thin stateful part the daemon
calls each cycle, over the pure decisions of due.py. Syncs run in threads, never on the heartbeat loop.

Why a sync starts is a values.Reason; what holds it, due.py; the peers' clocks, clock.py; what the
heartbeats carry of the data, flags.py; what status shows, words.py. On a regular it also notes when
the standby serves one of its LIMs (records.py): only then may the standby's data of it come here.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.datasync import records
from mxone_maintenance.agent.datasync.clock import SKEW_SAMPLES, clock_alarm_text, clock_held, clock_skew
from mxone_maintenance.agent.datasync.due import DAILY_S, MAX_PARALLEL, due_syncs
from mxone_maintenance.agent.datasync.flags import parse_xdata_flags, xdata_flags
from mxone_maintenance.agent.datasync.folders import transfer_progress
from mxone_maintenance.agent.datasync.peers import pairs_of, role_of
from mxone_maintenance.agent.datasync.values import Job, LastSync, Pair, PairState
from mxone_maintenance.agent.datasync.words import status_entry, sync_alarm_text
from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import VAR, Paths

log = logging.getLogger("mxone-cluster-agent")

POLL_S = 2.0                 # list the xdata folders this often


class LimSync(Protocol):
    """What the scheduler needs of the daemon's DataSync (main.ClusterDataSync): sync one LIM with the
    right peer, returning an outcome.SyncResult; optionally `reload(lim)` the Service Node."""
    def sync_lim(self, lim: int) -> Any: ...


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


@dataclass
class PairBook:
    """What the scheduler remembers of one pair between cycles."""
    seen_stamp: str | None = None
    last: LastSync | None = None
    failures: int = 0
    busy: bool = False
    ordered: bool = False


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
    copies: dict[int, int] = field(default_factory=dict)     # on the standby: backups held per LIM
    states: tuple[PairState, ...] = ()
    config: Cluster | None = None
    order_pending: bool = False
    next_poll: float = 0.0
    finished: queue.Queue = field(default_factory=queue.Queue)
    ran: records.RanNotes = field(init=False)
    _folders: tuple[tuple, dict[int, tuple[Path, ...]]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.ran = records.RanNotes(self.paths)

    # -- inputs from the loop

    def heard(self, node: str, sent_wall: float, flags: Iterable[str]) -> None:
        """A valid heartbeat of a member came in now."""
        window = self.samples.setdefault(node, deque(maxlen=SKEW_SAMPLES))
        window.append(sent_wall - self.wall())
        self.peer_stamps[node] = parse_xdata_flags(flags)

    def order(self) -> None:
        self.order_pending = True

    def skew(self, peer: str) -> float:
        """The peer's clock minus ours (0.0 while unknown): for peers.ClusterSync's clock_skew."""
        return clock_skew(self.samples.get(peer, ())) or 0.0

    def heartbeat_flags(self) -> tuple[str, ...]:
        return xdata_flags(self.local_stamps)

    def unready(self) -> frozenset[int]:
        """On the standby: the LIMs it is not ready for yet -- fewer than two backups of the regular and
        no good sync since this agent started (a new or replaced standby, DESIGN §5). A good sync pulls
        the two newest the regular has (lim_sync.fill_backups), so a regular with one version is served."""
        if self.config is None or role_of(self.config, self.node) != "standby":
            return frozenset()
        return frozenset(pair.lim for pair, book in self.books.items()
                         if self.copies.get(pair.lim, 0) < xdata.STANDBY_KEEP and not (book.last and book.last.ok))

    # -- one cycle

    def cycle(self, config: Cluster, sync: Any, peers: Mapping[str, Any], passive: Iterable[int],
              alarms: Any, now: float) -> list[Job]:
        """Follow the config, read finished syncs, check clocks, start the syncs that are due.
        `peers`: name -> state.PeerView; `passive`: LIMs this node runs passively (preloaded, blocked);
        `alarms`: the daemon's AlarmBook."""
        self.follow_config(config, alarms)
        self.note_standby_running(config, peers, now)
        self.collect_finished(alarms)
        self.poll_local(now)
        self.check_clocks(config, alarms)
        self.take_order()
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

    def note_standby_running(self, config: Cluster, peers: Mapping[str, Any], now: float) -> None:
        """On a regular: the LIMs of ours the standby serves now, as its heartbeats say (alias held, not
        blocked). A pull of the standby's data toward us needs this (records.py, peers.ClusterSync)."""
        if role_of(config, self.node) != "regular":
            return
        view = peers.get(config.standby.server)
        heard = getattr(view, "last_heard", None)
        if heard is None or now - heard > config.detect_s:
            return
        for pair in self.books:
            if pair.lim in getattr(view, "active", ()):
                self.ran.seen(pair.lim, self.wall())

    def poll_local(self, now: float) -> None:
        """What this server holds of each LIM (as xdata.newest_stamp_held, by hand): one scandir per folder,
        whose paths are worked out once per config (pathlib and listing xdata/ once per LIM took ~5 ms
        per poll with ten LIMs)."""
        if now < self.next_poll or self.config is None:
            return
        self.next_poll = now + self.poll_s
        stamps, copies = {}, {}
        listings: dict[Path, list[xdata.Version]] = {}     # the regular's xdata/ holds every LIM: listed once
        for lim, folders in self._local_folders().items():
            for folder in folders:
                if folder not in listings:
                    listings[folder] = xdata.versions_in(folder)
            listed = [[version for version in listings[folder] if version.lim == lim] for folder in folders]
            found = [version for versions in listed for version in versions]
            stamps[lim] = max(found).stamp if found else None
            copies[lim] = len(listed[0])       # the standby's folder of the LIM comes first (xdata.folders_of)
        self.local_stamps = {lim: stamp for lim, stamp in stamps.items() if stamp is not None}
        if role_of(self.config, self.node) == "standby":
            self.copies = copies

    def _local_folders(self) -> dict[int, tuple[Path, ...]]:
        """LIM -> this server's folders of it, for the config in use."""
        key = (self.config, tuple(sorted(pair.lim for pair in self.books)))
        if self._folders is None or self._folders[0] != key:
            role = role_of(self.config, self.node)
            self._folders = (key, {pair.lim: tuple(self.paths.real(VAR / folder)
                                                   for folder in xdata.folders_of(role, pair.lim))
                                   for pair in self.books})
        return self._folders[1]

    def check_clocks(self, config: Cluster, alarms: Any) -> None:
        for name in config.member_names:
            skew = clock_skew(self.samples.get(name, ()))
            if skew is None or name == self.node:
                continue
            if clock_held(skew):
                alarms.raise_(alarm_keys.clock(name), clock_alarm_text(name, skew))
            else:
                alarms.clear(alarm_keys.clock(name))

    def take_order(self) -> None:
        if self.order_pending:
            self.order_pending = False
            for book in self.books.values():
                book.ordered = True

    def state_of(self, pair: Pair, config: Cluster, peers: Mapping[str, Any], now: float) -> PairState:
        book = self.books[pair]
        view = peers.get(pair.peer)
        heard = getattr(view, "last_heard", None)
        alive = heard is not None and now - heard <= config.detect_s
        return PairState(pair, alive, clock_skew(self.samples.get(pair.peer, ())),
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
        self.log_outcome(pair, last)
        if last.ok:
            alarms.clear(alarm_keys.sync(pair.lim))
        else:
            alarms.raise_(alarm_keys.sync(pair.lim), sync_alarm_text(last, pair))
        reload_key = alarm_keys.effect(f"reload:{pair.lim}")
        if last.reloaded is False:
            alarms.raise_(reload_key, f"Service Node of LIM {pair.lim}: reload after a data sync failed")
        elif last.reloaded:
            alarms.clear(reload_key)

    @staticmethod
    def log_outcome(pair: Pair, last: LastSync) -> None:
        if not last.ok:
            log.warning("LIM %d: data sync with %s failed: %s", pair.lim, pair.peer, last.error)
        elif last.transferred:
            log.info("LIM %d: data sync with %s: %s %s (%d bytes in %.1f s)%s", pair.lim, pair.peer,
                     last.direction, last.version, last.bytes, last.seconds,
                     ", Service Node reloaded" if last.reloaded else "")

    # -- output

    def status(self) -> list[dict]:
        now = self.clock()
        return [status_entry(state, now, self.transfer(state)) for state in self.states]

    def transfer(self, state: PairState) -> tuple[str, int] | None:
        if not state.busy or self.config is None:
            return None
        folder = xdata.folders_of(role_of(self.config, self.node), state.pair.lim)[0]
        return transfer_progress(self.paths.real(VAR / folder), state.pair.lim)
