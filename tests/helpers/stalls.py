"""Telling a machine that stalled from a product that failed, for the tests that time real daemons.

The lab tests time agents, sshd and Service Nodes on a shared 2-core machine. When the whole machine stops
for seconds (a virtual machine descheduled by its host, a burst of steal), every process in it is late
at once, and a lab test fails on a timing the product met on any live machine. A thread here sleeps in
short steps and notes every wake-up that came a second or more late: nothing in the test process holds
it back that long, so such a stall is the machine's own.

The same for the disk: the kernel's pressure account (/proc/pressure/io, "full": every runnable task of
the machine waiting on I/O) is read every half second, and 1.5 s of such waiting within 3 s is a stall
too (an agent blocked writing its log reads its heartbeats late; a Service Node start hung 30 s in CI).
Normal lab work waits about 1 % of the time.

A lab test (marked `lab`, or in tests/netns: the tests that time real daemons) that fails while the
machine stalled is run once more, from fresh fixtures, and the first failure is shown in the summary
with the stall that came with it; one that fails without a stall, or fails again, fails as usual, its
report naming the stalls it saw.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

STEP_S = 0.05
STALL_S = 1.0        # a late wake-up at least this long is the machine's, not the test's
IO_EVERY = 10        # steps between two readings of the I/O pressure
IO_WINDOW_S = 3.0
IO_STALL_S = 1.5     # of everything waiting on I/O within IO_WINDOW_S
PRESSURE = Path("/proc/pressure/io")


@dataclass(frozen=True)
class Stall:
    """One wake-up that came ``late_s`` late (or ``late_s`` of I/O waiting), ending at ``ended``
    (time.monotonic) and ``wall``."""
    ended: float
    wall: float
    late_s: float
    kind: str = "stopped"        # or "waiting on I/O"

    def describe(self) -> str:
        return f"{self.late_s:.1f} s {self.kind} at {time.strftime('%H:%M:%S', time.localtime(self.wall))}"


def io_full_s(path: Path = PRESSURE) -> float | None:
    """Seconds, since boot, that every runnable task waited on I/O (None without PSI)."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith("full "):
                return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class StallWatch:
    """A daemon thread noting late wake-ups; ``during(start, end)`` the ones that ended in a window."""
    step_s: float = STEP_S
    pressure: Path = PRESSURE
    stalls: list[Stall] = field(default_factory=list)
    last_wake: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._watch, name="stall-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        self.last_wake = time.monotonic()
        readings: deque[tuple[float, float]] = deque()
        steps = 0
        while not self._stop.wait(self.step_s):
            now = time.monotonic()
            late = now - self.last_wake - self.step_s
            if late >= STALL_S:
                self.stalls.append(Stall(now, time.time(), late))
            self.last_wake = now
            steps += 1
            if steps % IO_EVERY == 0:
                self._note_io(now, readings)

    def _note_io(self, now: float, readings: deque[tuple[float, float]]) -> None:
        waited = io_full_s(self.pressure)
        if waited is None:
            return
        readings.append((now, waited))
        while readings[0][0] < now - IO_WINDOW_S:
            readings.popleft()
        if (burst := waited - readings[0][1]) >= IO_STALL_S:
            self.stalls.append(Stall(now, time.time(), burst, "waiting on I/O"))
            readings.clear()

    def during(self, start: float, end: float) -> list[Stall]:
        """The stalls that ended in [start, end], and one still going on (the thread not yet woken
        from it: after a stall the test's own thread may get the CPU first)."""
        found = [stall for stall in list(self.stalls) if start <= stall.ended <= end + self.step_s]
        now = time.monotonic()
        if (late := now - self.last_wake - self.step_s) >= STALL_S:
            found.append(Stall(now, time.time(), late))
        return found


@dataclass(frozen=True)
class Rerun:
    nodeid: str
    stalls: tuple[Stall, ...]
    first_failure: str


def times_daemons(item: pytest.Item) -> bool:
    return item.get_closest_marker("lab") is not None or "netns" in item.path.parts


class StallRerun:
    """The pytest plugin: reruns a failed lab test once when the machine stalled during it."""

    def __init__(self, watch: StallWatch | None = None) -> None:
        self.watch = watch or StallWatch()
        self.reruns: list[Rerun] = []

    def pytest_sessionstart(self) -> None:
        self.watch.start()

    def pytest_sessionfinish(self) -> None:
        self.watch.stop()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        if not times_daemons(item):
            return None
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        start = time.monotonic()
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        stalls = self.watch.during(start, time.monotonic())
        failed = [report for report in reports if report.failed]
        if failed and stalls:
            self.reruns.append(Rerun(item.nodeid, tuple(stalls), first_line(failed[0])))
            start = time.monotonic()
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            stalls = self.watch.during(start, time.monotonic())
        for report in reports:
            if report.failed and stalls:
                report.sections.append(("machine stalls", ", ".join(s.describe() for s in stalls)))
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.reruns:
            return
        terminalreporter.section("lab tests run again after the machine stalled")
        for rerun in self.reruns:
            stalls = ", ".join(stall.describe() for stall in rerun.stalls)
            terminalreporter.line(f"{rerun.nodeid}: the machine stalled ({stalls}); first failure: "
                                  f"{rerun.first_failure}")


def first_line(report: pytest.TestReport) -> str:
    """The failure's message line (its crash line), for the summary."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.splitlines()[0] if text else "(no message)"
