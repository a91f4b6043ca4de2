"""Orders from the control socket: its thread checks and queues them (and answers at once), the loop
takes them in at its next cycle. A manual fallback order is held, and announced in our heartbeats,
until decide() says it is done or moot; a data sync order goes to the data sync scheduler."""
from __future__ import annotations

import queue
from collections.abc import Iterable
from typing import Any

from mxone_maintenance.agent.datasync import order_outlook
from mxone_maintenance.core.model import Cluster

NO_CONFIG = {"ok": False, "error": "no cluster config on this server"}


class Orders:
    def __init__(self) -> None:
        self.requests: queue.Queue[int] = queue.Queue()   # fallback orders, from the control thread
        self.fallback: set[int] = set()                   # held by the loop until done
        self.sync_requested = False

    # --- the control thread

    def order_fallback(self, config: Cluster | None, lim: int) -> dict[str, Any]:
        if config is None:
            return dict(NO_CONFIG)
        if config.lim(lim) is None:
            return {"ok": False, "error": f"LIM {lim} is not in cluster {config.name}"}
        self.requests.put(lim)
        return {"ok": True, "ordered": lim}

    def order_sync(self, config: Cluster | None, states: Iterable[Any]) -> dict[str, Any]:
        """The reply says, from the last cycle's view (`states`: the data sync's pairs), which LIMs
        sync and which cannot now and why."""
        if config is None:
            return dict(NO_CONFIG)
        self.sync_requested = True
        return {"ok": True, "sync": "ordered", **order_outlook(states)}

    # --- the loop

    @property
    def pending(self) -> bool:
        """An order waits for the loop (it gets a cycle at once)."""
        return not self.requests.empty() or self.sync_requested

    def take(self, can_sync: bool) -> bool:
        """Hold the queued fallback orders; True if a sync order is to start now."""
        while True:
            try:
                self.fallback.add(self.requests.get_nowait())
            except queue.Empty:
                break
        if self.sync_requested and can_sync:
            self.sync_requested = False
            return True
        return False

    def done(self, completed: Iterable[int]) -> None:
        self.fallback -= set(completed)
