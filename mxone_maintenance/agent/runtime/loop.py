"""The loop around the cycles: sleep until a datagram, a worker's doorbell or the next deadline, run a
full cycle only when one is needed, survive a failing cycle, and stop cleanly when asked.

Most heartbeats only say "still here": their time is noted and the rest waits for the next due cycle
(a full cycle on every datagram cost ~10 % CPU per agent with ten peers); news, an order or a worker's
result (a probe's answer is on the failover's path) gets one at once.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from mxone_maintenance.agent.decide import hold_time, preprobe_lead
from mxone_maintenance.agent.state import PeerView
from mxone_maintenance.core.model import Cluster

log = logging.getLogger("mxone-cluster-agent")

IDLE_TICK_S = 0.5     # without a config, channel or effects: look again this often, not at 200 Hz
MIN_TICK_S = 0.005
# A full cycle at least this often, beside the deadlines next_cycle_at names: what has no deadline
# (an alias removed by hand, a config file changed, the carrier) is seen within it. Each full cycle
# costs ~2 ms of CPU with ten peers; at 0.25 s (the old half-heartbeat tick) they were half of an idle
# agent's CPU, and at a 0.5 s heartbeat every other one coincides with our send anyway.
CYCLE_S = 0.5
MERGE_S = 0.02    # a heartbeat due this soon after CYCLE_S: one cycle for both, not two 1 ms apart
Wait = Callable[[float, Sequence[Any]], None]


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


def wait_readable(seconds: float, sources: Sequence[Any]) -> None:
    """Sleep until one of `sources` (objects with fileno(); None and others are skipped) is readable,
    or `seconds` have passed."""
    fds = [source.fileno() for source in sources if source is not None and hasattr(source, "fileno")]
    if not fds:
        time.sleep(seconds)
        return
    try:
        select.select(fds, [], [], seconds)
    except (OSError, ValueError, InterruptedError):
        time.sleep(min(seconds, 0.05))


def next_cycle_at(config: Cluster, peers: Iterable[PeerView], last_cycle: float, next_heartbeat: float) -> float:
    """When the next full cycle is due: CYCLE_S after the last one, or sooner when a peer reaches a
    deadline (its pre-probe moment and D, so failure is seen at once; the end of its hold time H, so a
    returned regular gets its LIM back on time), or our heartbeat is due."""
    detect, lead, hold = config.detect_s, preprobe_lead(config), hold_time(config)
    due = last_cycle + CYCLE_S
    if last_cycle < next_heartbeat <= due + MERGE_S:     # heartbeats on time, not up to a tick late; one
        due = next_heartbeat                            # due just after the tick is sent by that cycle
    for peer in peers:
        heard = peer.last_heard
        if heard is None:
            continue
        for moment in (heard + detect - lead, heard + detect):
            if last_cycle < moment < due:               # not yet seen by a full cycle
                due = moment
        since = peer.heard_since
        if since is not None and last_cycle < since + hold < due:
            due = since + hold
    return due


class Looping(Protocol):
    """What the loop needs of the agent."""
    stop_requested: bool

    def cycle_needed(self) -> bool: ...
    def cycle(self) -> object: ...
    def tick(self) -> float: ...
    def wake_sources(self) -> Sequence[Any]: ...


def run(agent: Looping, wait: Wait, cycled: Callable[[], None] = lambda: None) -> None:
    """Until stop_requested; `wait(seconds, sources)` sleeps until the next tick or a source is readable.
    `cycled()` follows each cycle that ran to its end (the systemd watchdog's ping: a loop stuck in a
    cycle, or failing in every one, sends none)."""
    while not agent.stop_requested:
        try:
            if agent.cycle_needed():
                agent.cycle()
                cycled()
        except Exception:  # noqa: BLE001 - a bug in one cycle must not stop the agent
            log.exception("cycle failed")
        wait(agent.tick(), agent.wake_sources())
