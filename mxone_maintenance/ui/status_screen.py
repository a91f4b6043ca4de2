"""Show status: clusters, LIMs, where each runs, lock, preloaded state, servers answering, alarms.

Collected in a worker thread every 3 s (keys never wait for SSH); the header says when it was updated
and whether a refresh is running.
"""
from __future__ import annotations

from collections.abc import Callable

import urwid

from .keys import Command, command_for
from .screens import Screen, clock
from .worker import Runtime

REFRESH_S = 3.0


def status_rows(report) -> list:
    """The report as (attribute, text) rows of a table that fits 80 columns."""
    if not report.clusters:
        return [("body", "No clusters in the system.")]
    rows: list = []
    for c in report.clusters:
        cluster = c.cluster
        rows.append(("cluster", f"Cluster {cluster.name}: generation {cluster.generation}, {cluster.failover} "
                                f"failover, {cluster.fallback} fallback, standby {cluster.standby.server}"))
        rows.append(("label", f"  {'LIM':<5}{'regular':<10}{'runs on':<12}{'lock':<9}{'preloaded':<16}state"))
        for row in c.rows:
            attr = "alarm" if row.runs_on in ("nowhere", "unknown") else (
                "warning" if row.runs_on != row.regular else "body")
            preloaded = row.preloaded.split(" (")[0] if row.preloaded else "-"
            rows.append((attr, f"  {row.lim:<5}{row.regular:<10}{row.runs_on:<12}{row.lock:<9}{preloaded:<16}"
                               f"{row.state}"))
        answering = ", ".join(f"{s.server} {'yes' if s.reachable else 'NO'}" for s in c.servers)
        rows.append(("body" if all(s.reachable for s in c.servers) else "alarm", f"  Servers answering: {answering}"))
        active = [a for a in c.alarms if not a.cleared]
        rows.append(("body" if not active else "alarm", f"  Alarms: {'none' if not active else len(active)}"))
        rows += [("alarm", f"    {a.server}: {a.text} (since {a.raised})") for a in active]
        rows.append(("body", ""))
    return rows


class StatusScreen(Screen):
    signals = ["back"]
    context = "status"
    title = "Show status"

    def __init__(self, collect: Callable[[], object], runtime: Runtime, every: float = REFRESH_S) -> None:
        self.collect = collect
        self.runtime = runtime
        self.every = every
        self.updated = urwid.Text("")
        self.state = urwid.Text("", align="right")
        self.walker = urwid.SimpleFocusListWalker([urwid.Text(("hint", "Asking the cluster agents…"))])
        self.running = False
        self.open = True
        self._timer: object | None = None
        self._last = "not yet"
        header = urwid.Columns([self.updated, self.state])
        super().__init__(urwid.Frame(urwid.ListBox(self.walker), header=urwid.Pile([header, urwid.Divider("─")])))
        self.refresh()

    def _header(self, note: str = "") -> None:
        self.updated.set_text(("label", f"updated {self._last}"))
        self.state.set_text(("busy", note) if note else "")

    def refresh(self) -> None:
        if self.running or not self.open:
            return
        self.running = True
        self._header("refreshing…")
        self.runtime.submit(self.collect, self._collected, self._failed)

    def _collected(self, report) -> None:
        self._last = clock()
        self.walker[:] = [urwid.Text(row) for row in status_rows(report)]
        self._done("")

    def _failed(self, err: BaseException) -> None:
        self._done(f"refresh failed: {err}")

    def _done(self, note: str) -> None:
        self.running = False
        self._header(note)
        if self.open:
            self._timer = self.runtime.call_later(self.every, self.refresh)

    def closing(self) -> None:
        self.open = False
        if self._timer is not None:
            self.runtime.cancel(self._timer)
            self._timer = None

    def keypress(self, size, key: str):
        rest = super().keypress(size, key)
        if rest is not None and command_for(rest, self.context) == Command.REFRESH:
            if self._timer is not None:
                self.runtime.cancel(self._timer)
                self._timer = None
            self.refresh()
            return None
        return rest
