"""The heartbeat replay guard: per peer, the run it is on and the newest heartbeat accepted of it, kept
on disk across restarts of this agent.

Every agent process draws a random 64-bit ``boot`` id and numbers its heartbeats from 0. Of each peer
we keep its current run: the boot id, the highest sequence number, the sent time of the newest
heartbeat accepted (the sender's wall clock) and when that run started (sent time minus up time).
A heartbeat of the current run is new only with a higher sequence number. A heartbeat of another run
replaces the current one only when that run is newer by the times the heartbeats carry, never by when
they arrive: sent after the newest one accepted, or started after the current run started. A
recording of an earlier run was sent before and started before, so it is refused, and it never
retires the live run. (A peer whose clock is stepped back across its restart is heard again as soon
as it started later than the run it replaces, which is at once unless that run lasted less than the
step, and at the latest when its clock passes the last heartbeat of that run.)

The runs are saved (atomically, at most MAX_PEERS of them) in a file under the agent state dir: at
once when a peer's run or what it says changed, else when the caller asks (every few seconds). So
after a restart of this agent a heartbeat it accepts again was either never seen, or says what the
last one it saw said. The file is read at start; one that cannot be read is ignored with a log line
(the freshness window of the channel then still bounds what a replay can reach).
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mxone_maintenance.core.config.atomic import write_atomic
from mxone_maintenance.core.contracts import wire

log = logging.getLogger("mxone-cluster-agent")

STATE_VERSION = 1
MAX_PEERS = 64                  # a cluster has at most a dozen members
MAX_FILE_BYTES = 64 * 1024      # MAX_PEERS runs are about 8 KB
STATE_FILE = "heartbeat-peers.json"


class Sent(Protocol):
    """What the guard reads of a heartbeat (heartbeat.Heartbeat)."""
    node: str
    boot: int
    seq: int
    sent_wall: float
    up_since: float
    generation: int
    running: tuple[int, ...]
    blocked: tuple[int, ...]
    releasing: tuple[int, ...]
    flags: tuple[str, ...]


@dataclass(frozen=True)
class PeerRun:
    """One peer's current run as the guard keeps it (and as the state file holds it)."""
    node: str
    boot: int
    seq: int
    sent: float                 # sent_wall of the newest heartbeat accepted of this run
    started: float              # that heartbeat's sent_wall minus its up_since

    def __post_init__(self) -> None:
        if not 0 <= self.boot < 2**64 or self.seq < 0:
            raise ValueError("boot must be a 64-bit unsigned integer and seq >= 0")


@dataclass(frozen=True)
class ReplayState:
    version: int
    peers: tuple[PeerRun, ...]


def _said(hb: Sent) -> tuple:
    return hb.generation, hb.running, hb.blocked, hb.releasing, hb.flags


class ReplayGuard:
    """Per peer the current run; ``accept`` says whether a heartbeat is new (and remembers it).

    ``urgent``: a run began or changed, or a peer says something else than before, since the last
    save (save now); ``changed``: anything was accepted since then (save when convenient)."""

    def __init__(self, runs: Iterable[PeerRun] = ()) -> None:
        self._runs: dict[str, PeerRun] = {}
        self._said: dict[str, tuple] = {}
        self.urgent = self.changed = False
        self.restore(runs)

    def restore(self, runs: Iterable[PeerRun]) -> None:
        """Start from saved runs (a run already known here and newer is kept)."""
        for run in runs:
            known = self._runs.get(run.node)
            if known is None or (known.boot != run.boot and _newer(run.sent, run.started, known)) \
                    or (known.boot == run.boot and run.seq > known.seq):
                self._keep(run)

    def runs(self) -> list[PeerRun]:
        return list(self._runs.values())

    def accept(self, hb: Sent) -> bool:
        """True if ``hb`` is newer than anything accepted from its node."""
        started = hb.sent_wall - hb.up_since
        if not math.isfinite(started):
            started = hb.sent_wall
        run = self._runs.get(hb.node)
        if run is not None and hb.boot == run.boot:
            if hb.seq <= run.seq:
                return False
        elif run is not None and not _newer(hb.sent_wall, started, run):
            return False                       # an earlier run (a recording): the live one stays
        else:
            self.urgent = True                 # a new peer, or its new run
        said = _said(hb)
        if self._said.get(hb.node) != said:
            self._said[hb.node] = said
            self.urgent = True
        self._keep(PeerRun(hb.node, hb.boot, hb.seq, hb.sent_wall, started))
        self.changed = True
        return True

    def _keep(self, run: PeerRun) -> None:
        self._runs.pop(run.node, None)         # newest last: the least recently heard goes first
        self._runs[run.node] = run
        while len(self._runs) > MAX_PEERS:
            oldest = next(iter(self._runs))
            del self._runs[oldest]
            self._said.pop(oldest, None)


def _newer(sent: float, started: float, run: PeerRun) -> bool:
    """Another run than ``run`` is newer: sent after its newest heartbeat, or started after it."""
    return sent > run.sent or started > run.started


class ReplayStore:
    """The guard's runs in one small JSON file, written by rename (never half a file)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last_error = ""

    def load(self) -> list[PeerRun]:
        """The saved runs; none (with a log line) if the file is damaged, too large or unreadable."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("heartbeat replay state %s not read (%s): every peer's window starts empty",
                        self.path, exc.strerror or exc)
            return []
        try:
            if len(data) > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
            state = wire.decode(ReplayState, json.loads(data.decode("utf-8")), "state")
            if state.version != STATE_VERSION:
                raise ValueError(f"version {state.version} is not {STATE_VERSION}")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            log.warning("heartbeat replay state %s ignored (%s): every peer's window starts empty",
                        self.path, _one_line(exc))
            return []
        return list(state.peers[-MAX_PEERS:])

    def save(self, runs: Iterable[PeerRun]) -> bool:
        """Write the runs (at most MAX_PEERS, newest last); False, logged once per error, if it failed.
        No fsync: this runs in the agent's loop, and after a power cut the freshness window covers
        the loss (the server was down for longer than that)."""
        kept = tuple(run for run in runs if math.isfinite(run.sent) and math.isfinite(run.started))
        text = json.dumps(wire.encode(ReplayState(STATE_VERSION, kept[-MAX_PEERS:])),
                          separators=(",", ":"), allow_nan=False)
        try:
            write_atomic(self.path, text, 0o600, durable=False)
        except OSError as exc:
            error = str(exc.strerror or exc)
            if error != self._last_error:
                log.warning("heartbeat replay state %s not saved: %s", self.path, error)
            self._last_error = error
            return False
        self._last_error = ""
        return True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
