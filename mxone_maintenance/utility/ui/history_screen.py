"""Cluster history: every member's events merged in time order (ops/history.py, as `cluster history`
prints them), read in a worker thread. The newest are shown first at the bottom; PgUp PgDn ↑↓ scroll.
Members that did not answer are named at the end."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import urwid

from mxone_maintenance.utility.ui.fields import button_row
from mxone_maintenance.utility.ui.look import shown
from mxone_maintenance.utility.ui.recent_events import severity_attr
from mxone_maintenance.utility.ui.screens import Screen, text_and_buttons
from mxone_maintenance.utility.ui.worker import Runtime

MAX_SHOWN = 500                  # events on screen; the command line shows them all
READING = "Reading every member's events…"


def history_lines(report) -> list:
    """(attribute, line) per event as history_text words it, then its lines naming silent members."""
    from mxone_maintenance.utility.ops.history import history_text   # loaded already by the worker's collect
    total = len(report.events)
    cut = replace(report, events=report.events[-MAX_SHOWN:])
    text = history_text(cut).splitlines()
    head = [("hint", f"The last {MAX_SHOWN} of {total} events (all of them: mxone_maintenance cluster history)")
            ] if total > MAX_SHOWN else []
    events = [(severity_attr(event), line) for event, line in zip(cut.events, text)]
    rest = [("alarm" if line.startswith("NOT ANSWERING") else "body", line) for line in text[len(cut.events):]]
    return head + events + rest


class HistoryScreen(Screen):
    signals = ["back"]
    title = "Cluster history"

    def __init__(self, collect: Callable[[], object], runtime: Runtime) -> None:
        self.collect = collect
        self.runtime = runtime
        self.running = False
        self.open = True
        super().__init__(self._page([("busy", shown(READING))]))
        self.refresh()

    def _page(self, lines: list, bottom: bool = False) -> urwid.Widget:
        page = text_and_buttons(lines, button_row([("Back", lambda: self._emit("back"))]))
        if bottom:                     # the newest events in sight; PgUp goes back in time
            listbox = page.body.listbox
            listbox.set_focus(len(listbox.body) - 1)
            listbox.set_focus_valign("bottom")
        return page

    def refresh(self) -> None:
        if self.running or not self.open:
            return
        self.running = True
        self.runtime.submit(self.collect, self._collected, self._failed)

    def _collected(self, report) -> None:
        self.running = False
        if self.open:
            self._w = self._page(history_lines(report), bottom=True)

    def _failed(self, err: BaseException) -> None:
        self.running = False
        if self.open:
            self._w = self._page([("error", f"Cannot read the history: {err}")])

    def closing(self) -> None:
        self.open = False
