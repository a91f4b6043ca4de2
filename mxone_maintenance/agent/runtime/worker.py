"""Work off the loop: a Service Node start, an ARP probe or an rsync takes up to seconds, and heartbeats
must go on meanwhile. A Worker runs keyed jobs on one thread in order (or each on its own thread when
they may overlap) and queues each outcome for the loop, which collects them at its own moment; `done`
rings the loop's doorbell. Without threads (tests) a job runs at once, inside `submit`.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[K, R]):
    """How one job ended: its value, or the exception it raised; `started` and `ended` by the worker's clock."""
    key: K
    value: R | None = None
    error: Exception | None = None
    started: float = 0.0
    ended: float = 0.0


class Worker(Generic[K, R]):
    """Runs jobs off the loop. `one_per_key`: a key whose job is not collected yet takes no second one
    (the caller asks every cycle until the answer is in). `parallel`: a thread per job, else one thread
    takes them in order (they share a raw socket, or a start must come before its stop)."""

    def __init__(self, name: str, threaded: bool = True, done: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic, one_per_key: bool = False,
                 parallel: bool = False) -> None:
        self.name, self.threaded, self.done, self.clock = name, threaded, done, clock
        self.one_per_key, self.parallel = one_per_key, parallel
        self.outcomes: queue.Queue[Outcome[K, R]] = queue.Queue()
        self.in_flight: set[K] = set()
        self._lock = threading.Lock()
        self._jobs: queue.Queue[tuple[K, float, Callable[[], R]] | None] = queue.Queue()
        self._thread = None
        if threaded and not parallel:
            self._thread = threading.Thread(target=self._serve, daemon=True, name=name)
            self._thread.start()

    def submit(self, key: K, job: Callable[[], R]) -> bool:
        """Run `job` off the loop; False if `key` is in flight already (one_per_key)."""
        with self._lock:
            if self.one_per_key and key in self.in_flight:
                return False
            self.in_flight.add(key)
        item = (key, self.clock(), job)
        if not self.threaded:
            self._run(*item)
        elif self.parallel:
            threading.Thread(target=self._run, args=item, daemon=True, name=f"{self.name}-{key}").start()
        else:
            self._jobs.put(item)
        return True

    def collect(self) -> list[Outcome[K, R]]:
        """The outcomes that came in since the last call, oldest first; their keys are free again."""
        outcomes = []
        while True:
            try:
                outcome = self.outcomes.get_nowait()
            except queue.Empty:
                return outcomes
            with self._lock:
                self.in_flight.discard(outcome.key)
            outcomes.append(outcome)

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=5)

    def _serve(self) -> None:
        while (item := self._jobs.get()) is not None:
            self._run(*item)

    def _run(self, key: K, started: float, job: Callable[[], R]) -> None:
        try:
            outcome = Outcome(key, job(), None, started, self.clock())
        except Exception as exc:  # noqa: BLE001 - every failure is the caller's to report; none kills the loop
            outcome = Outcome(key, None, exc, started, self.clock())
        self.outcomes.put(outcome)
        self.done()
