"""Show status: clusters, LIMs, where each runs, lock, preloaded state, servers answering, alarms, and
each cluster's recent events (ui/recent_events.py).

Collected in a worker thread every second, the next refresh timed from the end of the last (keys never
wait; the agent on this server answers in milliseconds, a member asked over SSH takes longer); the
header says when it was updated and whether a refresh is running.
"""
from __future__ import annotations

from collections.abc import Callable

import urwid

from mxone_maintenance.utility.ui.keys import Command, command_for
from mxone_maintenance.utility.ui.look import current, shown
from mxone_maintenance.utility.ui.screens import Screen, clock
from mxone_maintenance.utility.ui.status_table import status_rows
from mxone_maintenance.utility.ui.worker import Runtime

REFRESH_S = 1.0


class StatusScreen(Screen):
    signals = ["back"]
    context = "status"
    title = "Show status"

    def __init__(self, collect: Callable[[], object], runtime: Runtime, every: float = REFRESH_S,
                 rows: Callable[[object], list[urwid.Widget]] = status_rows) -> None:
        self.collect = collect
        self.table = rows                 # the report -> the table (with recent events: ui/recent_events.py)
        self.runtime = runtime
        self.every = every
        self.updated = urwid.Text("")
        self.state = urwid.Text("", align="right")
        self.walker = urwid.SimpleFocusListWalker([urwid.Text(("hint", shown("Asking the cluster agents…")))])
        self.running = False
        self.open = True
        self._timer: object | None = None
        self._last = "not yet"
        header = urwid.Columns([self.updated, self.state])
        super().__init__(urwid.Frame(urwid.ListBox(self.walker), header=urwid.Pile([header, urwid.Divider(current().line)])))
        self.refresh()

    def _header(self, note: str = "") -> None:
        self.updated.set_text(("label", f"updated {self._last}, every {self.every:g} s"))
        self.state.set_text(("busy", note) if note else "")

    def refresh(self) -> None:
        if self.running or not self.open:
            return
        self.running = True
        self._header(shown("refreshing…"))
        self.runtime.submit(self.collect, self._collected, self._failed)

    def _collected(self, report) -> None:
        try:
            rows = self.table(report)
        except Exception as err:  # noqa: BLE001 - a report the table cannot show is a line, not a crash
            self._done(f"cannot show the status: {err}")
            return
        self._last = clock()
        focus = self.walker.focus or 0
        self.walker[:] = rows
        self.walker.set_focus(min(focus, len(rows) - 1))
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
