"""Many servers at once: one reused connection per host, work run in parallel, per-host outcomes.

A cluster action touches up to eleven servers. Doing them one after another makes the admin wait for
eleven handshakes; doing them in parallel (a small thread pool; paramiko releases the GIL while it
waits on the network) roughly halves that on two cores. Every action reports per host, so one
unreachable server is a line in the result, not an exception that hides what happened elsewhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection

T = TypeVar("T")

ProgressFn = Callable[[str, str], None]
"""(host name, short message), e.g. ("lim2", "staging cluster.yaml")."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one host's part of an action gave: its value, or one line saying what went wrong."""

    host: str
    ok: bool
    value: T | None = None
    error: str = ""


class Fleet:
    """The servers one action works on. Context manager: closes every connection it opened."""

    def __init__(self, hosts: Sequence[Host], settings: SshSettings, progress: ProgressFn | None = None,
                 parallel: bool = True, max_workers: int = 11):
        names = [h.name for h in hosts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate host names: {', '.join(duplicates)}")
        self.hosts = {h.name: h for h in hosts}
        self.settings = settings
        self.parallel = parallel
        self.max_workers = max(1, max_workers)
        self._progress = progress
        self._progress_lock = threading.Lock()
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def names(self) -> list[str]:
        return list(self.hosts)

    def connection(self, name: str) -> Connection:
        """The one connection to ``name`` for this action (created on first use, opened lazily)."""
        if name not in self.hosts:
            raise KeyError(f"unknown host {name!r} (known: {', '.join(self.hosts)})")
        with self._lock:
            conn = self._connections.get(name)
            if conn is None:
                conn = self._connections[name] = Connection(self.hosts[name], self.settings)
            return conn

    def notify(self, name: str, message: str) -> None:
        """Pass a progress line on. Serialised, so the callback need not be thread-safe; a broken
        progress display is logged and never aborts the work it reports on."""
        if self._progress is None:
            return
        with self._progress_lock:
            try:
                self._progress(name, message)
            except Exception:
                log.exception("progress callback failed for %s: %s", name, message)

    def each(self, fn: Callable[[Connection], T], names: Sequence[str] | None = None) -> dict[str, Outcome[T]]:
        """Run ``fn(connection)`` for every host (all, or ``names``), in parallel unless told otherwise.

        Returns outcomes keyed by host name in the order asked for. Exceptions become
        ``Outcome(ok=False, error=...)``: a RemoteError's own line, else the host plus the exception.
        """
        targets = list(self.hosts) if names is None else list(names)
        for name in targets:
            self.connection(name)  # unknown names fail here, before any work starts
        if not targets:
            return {}
        if not self.parallel or len(targets) == 1:
            return {name: self._one(fn, name) for name in targets}
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(targets)),
                                thread_name_prefix="fleet") as pool:
            futures = {name: pool.submit(self._one, fn, name) for name in targets}
            return {name: futures[name].result() for name in targets}

    def _one(self, fn: Callable[[Connection], T], name: str) -> Outcome[T]:
        conn = self.connection(name)
        try:
            if not conn.is_open:
                self.notify(name, "connecting")
                conn.open()
            return Outcome(name, True, fn(conn))
        except RemoteError as e:
            return Outcome(name, False, error=str(e))
        except Exception as e:
            host = self.hosts[name]
            return Outcome(name, False, error=f"{name} ({host.where}): {type(e).__name__}: {e}")

    def close(self) -> None:
        """Close every connection (safe to call twice)."""
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            conn.close()
