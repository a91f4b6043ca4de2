"""The SNM Configuration Tool's own screens, in the utility's look and with its widgets: a menu whose
items say why they cannot be used, the plan with Apply / Back, one progress line per step, the result,
and the box shown while both servers are asked (Esc leaves it; nothing has changed then)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import urwid

from mxone_maintenance.utility.ui.fields import button_row
from mxone_maintenance.utility.ui.keys import ITEM_KEYS, Command, command_for
from mxone_maintenance.utility.ui.look import current, shown
from mxone_maintenance.utility.ui.menu_screen import MenuRow
from mxone_maintenance.utility.ui.menu_tree import MenuItem
from mxone_maintenance.utility.ui.screens import Screen, text_and_buttons, text_rows
from mxone_maintenance.webserver.tool.plans import Plan

NOT_HERE = "(not part of this product)"


def _never() -> str | None:
    return None


@dataclass(frozen=True)
class Entry:
    """A menu item: its label, what choosing it does, and why it cannot be used now (None: it can)."""
    label: str
    chosen: Callable[[], None] = field(default=lambda: None, compare=False)
    reason: Callable[[], str | None] = field(default=_never, compare=False)


def not_here(label: str) -> Entry:
    """An item of the seed's screen that this product does not do: dimmed, never opened."""
    return Entry(f"{label} {NOT_HERE}", reason=lambda: f"{label} is not part of this product (only Redundancy is)")


class SnmMenu(Screen):
    """Items with their keys (1..9, a, b...); a dimmed one shows why instead of opening. `notice`: a line
    above the items (e.g. why Redundancy cannot be used)."""
    context = "menu"
    overlay = True

    def __init__(self, title: str, entries: Sequence[Entry], level: int = 0,
                 notice: Callable[[], str | None] = _never) -> None:
        self.title = title
        self.level = level
        self.entries = list(entries)
        self._notice = notice
        self.item_rows = [MenuRow(i, MenuItem(entry.label, action="-")) for i, entry in enumerate(self.entries)]
        self.walker = urwid.SimpleFocusListWalker(list(self.item_rows))
        self.message = urwid.Text("")
        self.notice = urwid.Text("")
        self.listbox = urwid.ListBox(self.walker)
        self.pile = urwid.Pile([self.listbox])
        urwid.connect_signal(self.walker, "modified", self._focus_moved)
        super().__init__(self.pile)
        self.refresh()

    def refresh(self) -> None:
        """Ask every item again whether it can be used (after a change, on coming back here)."""
        for row, entry in zip(self.item_rows, self.entries, strict=True):
            row.set_available(entry.reason() is None)
        notice = self._notice() or ""
        self.notice.set_text(shown(notice))
        top = [(urwid.AttrMap(self.notice, "warning"), ("pack", None)),
               (urwid.Divider(current().line), ("pack", None))] if notice else []
        self.pile.contents = top + [(self.listbox, ("weight", 1)), (urwid.Divider(current().line), ("pack", None)),
                                    (urwid.AttrMap(self.message, "warning"), ("pack", None))]
        self.pile.focus_position = len(top)
        self._focus_moved()

    @property
    def focus_index(self) -> int:
        return self.walker.focus or 0

    def _focus_moved(self) -> None:
        self.message.set_text(shown(self.entries[self.focus_index].reason() or "") if self.entries else "")

    def keypress(self, size, key: str):
        rest = super().keypress(size, key)
        if rest is None:
            return None
        command = command_for(rest, self.context)
        if command == Command.ACTIVATE:
            self.activate(self.focus_index)
        elif command == Command.ITEM and ITEM_KEYS.index(rest) < len(self.entries):
            self.activate(ITEM_KEYS.index(rest))
        else:
            return rest
        return None

    def activate(self, index: int) -> None:
        self.walker.set_focus(index)
        reason = self.entries[index].reason()
        if reason:
            self.message.set_text(shown(reason))
            return
        self.entries[index].chosen()

    def box_size(self, cols: int, rows: int) -> tuple[int, int]:
        width = min(cols, max(52, max(len(entry.label) for entry in self.entries) + 8), 76)
        notice = text_rows(self.notice.text, width - 2) + 1 if self.notice.text else 0
        return width, min(rows, len(self.entries) + 5 + notice)


class PlanView(Screen):
    """The plan, and Apply or Back: Back has the focus, so an Enter too many changes nothing."""
    signals = ["back"]
    context = "choice"
    title = "Plan"

    def __init__(self, plan: Plan, on_apply: Callable[[], None]) -> None:
        self.plan = plan
        lines = [("plan title" if i == 0 else "body", line) for i, line in enumerate(plan.lines())]
        buttons = button_row([("Apply", on_apply), ("Back", lambda: self._emit("back"))])
        buttons.focus_position = 1
        note = urwid.Text(("hint", shown("Nothing has changed yet. Apply (←, then Enter) makes these changes.")))
        super().__init__(text_and_buttons(lines, buttons, note))


class StepsProgress(Screen):
    """One line per step as apply reaches it, `done in ...` added when it is made."""
    context = "progress"
    title = "Applying"
    busy = True

    def __init__(self, plan: Plan) -> None:
        self.total = len(plan.steps)
        heading = urwid.Text(("busy", shown("Applying… do not leave until the result is shown.")))
        self.walker = urwid.SimpleFocusListWalker([heading, urwid.Divider()])
        self.steps: list[urwid.Text] = []
        self._said = ""
        super().__init__(urwid.ListBox(self.walker))

    def update(self, server: str, message: str) -> None:
        """apply's progress: a step's text starts a line; `done in ...` ends it."""
        if message.startswith("done in") and self.steps:
            self.steps[-1].set_text([("body", self._said), ("done", f"  {message}")])
            return
        self._said = f"{len(self.steps) + 1}/{self.total} {server}: {message}"
        self.steps.append(urwid.Text(("busy", self._said)))
        self.walker.append(self.steps[-1])
        self.walker.set_focus(len(self.walker) - 1)


class Outcome(Screen):
    """The result of ACTION (Done, FAILED, or Not possible), one line, and OK."""
    signals = ["back"]
    title = "Result"

    def __init__(self, action: str, attr: str, line: str, more: Sequence[str] = ()) -> None:
        self.action = action
        self.attr, self.line = attr, line
        rows: list = [(attr, line), *(["", *more] if more else [])]
        super().__init__(text_and_buttons(rows, button_row([("OK", lambda: self._emit("back"))])))


class Waiting(Screen):
    """While both servers are asked (nothing changes): Esc leaves, the answer is then dropped."""
    signals = ["back"]
    context = "view"
    overlay = True
    title = "Asking"

    def __init__(self, text: str) -> None:
        self._text = text
        super().__init__(urwid.Filler(urwid.Pile([urwid.Text(("busy", shown(text))),
                                                  urwid.Text(("hint", "Esc: back (nothing changes)"))])))

    def box_size(self, cols: int, rows: int) -> tuple[int, int]:
        width = min(cols, 64)
        return width, min(rows, text_rows(self._text, width - 2) + 3)
