"""CheckStatus: tool/status.py's lines, asked in a worker every 2 s (keys never wait for SSH); a server
that does not answer in the error colour. The connections stay open while the screen is shown."""
from __future__ import annotations

from collections.abc import Callable

import urwid

from mxone_maintenance.utility.ui.keys import Command, command_for
from mxone_maintenance.utility.ui.look import current, shown
from mxone_maintenance.utility.ui.screens import Screen, clock
from mxone_maintenance.utility.ui.worker import Runtime
from mxone_maintenance.webserver.tool.flow import close
from mxone_maintenance.webserver.tool.node_client import NodeClient
from mxone_maintenance.webserver.tool.pair import Pair
from mxone_maintenance.webserver.tool.status import Answered, gather, status_lines

REFRESH_S = 2.0


def status_markup(pair: Pair, answered: Answered) -> list[tuple[str, str]]:
    """status_lines with their attributes: the heading, the table, a silent server as an error."""
    lines = status_lines(pair, answered)
    out = [("plan title", lines[0]), ("label", lines[1])]
    for line in lines[2:]:
        silent = any(line.startswith(f"{name} ") for name in answered.silent)
        out.append(("error" if silent else "body", line))
    return out


class CheckStatus(Screen):
    signals = ["back"]
    context = "status"
    title = "CheckStatus"

    def __init__(self, pair: Pair, clients: Callable[[], dict[str, NodeClient]], runtime: Runtime,
                 every: float = REFRESH_S) -> None:
        self.pair = pair
        self._make_clients = clients
        self._clients: dict[str, NodeClient] | None = None
        self.runtime = runtime
        self.every = every
        self.updated = urwid.Text("")
        self.state = urwid.Text("", align="right")
        self.walker = urwid.SimpleFocusListWalker([urwid.Text(("hint", shown(f"Asking {pair.master} and "
                                                                                f"{pair.standby}…")))])
        self.running = False
        self.open = True
        self._timer: object | None = None
        self._last = "not yet"
        header = urwid.Pile([urwid.Columns([self.updated, self.state]), urwid.Divider(current().line)])
        super().__init__(urwid.Frame(urwid.ListBox(self.walker), header=header))
        self.refresh()

    def _header(self, note: str = "") -> None:
        self.updated.set_text(("label", f"updated {self._last}, every {self.every:g} s"))
        self.state.set_text(("busy", note) if note else "")

    def _collect(self) -> Answered:
        if self._clients is None:
            self._clients = self._make_clients()
        return gather(self._clients)

    def refresh(self) -> None:
        if self.running or not self.open:
            return
        self.running = True
        self._header(shown("refreshing…"))
        self.runtime.submit(self._collect, self._collected, self._failed)

    def _collected(self, answered: Answered) -> None:
        self._last = clock()
        self.walker[:] = [urwid.Text(markup) for markup in status_markup(self.pair, answered)]
        self._done("")

    def _failed(self, err: BaseException) -> None:
        self._done(f"refresh failed: {err}")

    def _done(self, note: str) -> None:
        self.running = False
        self._header(note)
        if self.open:
            self._timer = self.runtime.call_later(self.every, self.refresh)
        else:
            self._close_clients()

    def _close_clients(self) -> None:
        if self._clients is not None:
            close(self._clients)
            self._clients = None

    def closing(self) -> None:
        self.open = False
        if self._timer is not None:
            self.runtime.cancel(self._timer)
            self._timer = None
        if not self.running:             # else when the refresh under way comes back
            self._close_clients()

    def keypress(self, size, key: str):
        rest = super().keypress(size, key)
        if rest is not None and command_for(rest, self.context) == Command.REFRESH:
            if self._timer is not None:
                self.runtime.cancel(self._timer)
                self._timer = None
            self.refresh()
            return None
        return rest
