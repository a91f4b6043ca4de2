"""One background thread with a bounded queue: the caller hands work over and never waits for it.

When the queue is full the item is dropped and counted (the first drop and every 100th after it are
logged): a hung notify command or a slow network must never hold the agent's loop.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger("mxone-cluster-agent")

T = TypeVar("T")
QUEUE_SIZE = 100
_STOP = object()


class Worker(Generic[T]):
    """`submit(item)` queues `handle(item)` for the worker thread; every failure in it is logged."""

    def __init__(self, name: str, handle: Callable[[T], None], size: int = QUEUE_SIZE) -> None:
        self.name, self.handle = name, handle
        self.queue: queue.Queue = queue.Queue(maxsize=size)
        self.dropped = 0
        self.handled = 0
        self._closed = False
        self.thread = threading.Thread(target=self._run, name=f"events-{name}", daemon=True)
        self.thread.start()

    def submit(self, item: T) -> bool:
        """Queue `item`; False (and counted) when the queue is full or the worker closed."""
        if self._closed:
            return False
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:
            self.dropped += 1
            if self.dropped % 100 == 1:
                log.warning("%s: queue full (%d waiting), event dropped (%d dropped so far)",
                            self.name, self.queue.maxsize, self.dropped)
            return False

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            try:
                self.handle(item)
            except Exception:  # noqa: BLE001 - one bad item never ends the worker
                log.exception("%s failed", self.name)
            self.handled += 1

    def close(self, timeout: float = 2.0) -> None:
        """Stop after what is queued (waiting at most `timeout`; the thread is a daemon)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self.thread.join(timeout)
