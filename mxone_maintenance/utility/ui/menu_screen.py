"""A menu drawn from the menu data: each item with its key (1..9, then a, b, c...), and the reason an
item cannot be used now; while a change is interrupted, the line naming it and the items that finish or
undo it (ui/interrupted.py)."""
from __future__ import annotations

from collections.abc import Callable

import urwid

from mxone_maintenance.utility.ui import interrupted
from mxone_maintenance.utility.ui.availability import SystemOrError, reason_unavailable
from mxone_maintenance.utility.ui.interrupted import JournalState
from mxone_maintenance.utility.ui.keys import ITEM_KEYS, Command, command_for
from mxone_maintenance.utility.ui.look import current, shown
from mxone_maintenance.utility.ui.menu_tree import Menu, MenuItem
from mxone_maintenance.utility.ui.screens import Screen, text_rows


class MenuRow(urwid.WidgetWrap):
    """`1  List all clusters` — dimmed when it cannot be used now."""

    def __init__(self, number: int, item: MenuItem) -> None:
        self.item = item
        key = ITEM_KEYS[number] if number < len(ITEM_KEYS) else " "
        self.text = urwid.Text(shown(f"{key}  {item.label}"))
        self.attr = urwid.AttrMap(self.text, "item", "item focus")
        super().__init__(self.attr)

    def selectable(self) -> bool:
        return True

    def keypress(self, size, key: str):
        return key

    def set_available(self, available: bool) -> None:
        self.attr.set_attr_map({None: "item" if available else "item off"})
        self.attr.set_focus_map({None: "item focus" if available else "item off focus"})


class MenuScreen(Screen):
    """Emits `open` with the chosen MenuItem when it can be used; otherwise shows why not."""
    signals = ["open"]
    context = "menu"

    def __init__(self, menu: Menu, system: Callable[[], SystemOrError], level: int = 0,
                 journal: Callable[[], JournalState] = lambda: None) -> None:
        self.menu = menu
        self.title = menu.title
        self.overlay = True
        self.level = level
        self._system = system
        self._journal = journal
        self.entries: list[MenuRow] = []
        self.walker = urwid.SimpleFocusListWalker([])
        self.message = urwid.Text("")
        self.notice = urwid.Text("")
        self.listbox = urwid.ListBox(self.walker)
        urwid.connect_signal(self.walker, "modified", self._focus_moved)
        self.pile = urwid.Pile([self.listbox])
        super().__init__(self.pile)
        self.refresh()

    # ---------------------------------------------------------------- state
    def refresh(self) -> None:
        """Look at the system (and the change journal) again, after a change, and dim what cannot be used."""
        system, state = self._system(), self._journal()
        self._show(interrupted.items(self.menu, state), interrupted.notice(self.menu, state), state)
        for row in self.entries:
            row.set_available(self._reason(row.item, system, state) is None)
        self._focus_moved()

    def _show(self, items: tuple[MenuItem, ...], notice: str, state: JournalState) -> None:
        if tuple(row.item for row in self.entries) != items:
            focus = self.walker.focus or 0
            self.entries = [MenuRow(i, item) for i, item in enumerate(items)]
            self.walker[:] = self.entries
            self.walker.set_focus(min(focus, len(self.entries) - 1))
        self.notice.set_text(shown(notice))
        top = [(urwid.AttrMap(self.notice, "error" if isinstance(state, str) else "warning"), ("pack", None)),
               (urwid.Divider(current().line), ("pack", None))] if notice else []
        self.pile.contents = top + [(self.listbox, ("weight", 1)), (urwid.Divider(current().line), ("pack", None)),
                                    (urwid.AttrMap(self.message, "warning"), ("pack", None))]
        self.pile.focus_position = len(top)

    def _reason(self, item: MenuItem, system: SystemOrError, state: JournalState) -> str | None:
        return interrupted.blocked(item, state) or reason_unavailable(item.available, system)

    def reason(self, index: int) -> str | None:
        return self._reason(self.entries[index].item, self._system(), self._journal())

    @property
    def focus_index(self) -> int:
        return self.walker.focus or 0

    def _focus_moved(self) -> None:
        reason = self.reason(self.focus_index) if self.entries else None
        self.message.set_text(shown(reason or ""))

    # ---------------------------------------------------------------- keys
    def keypress(self, size, key: str):
        rest = super().keypress(size, key)
        if rest is None:
            return None
        command = command_for(rest, self.context)
        handler = self._handlers().get(command)
        if handler is None:
            return rest
        handler(rest)
        return None

    def _handlers(self) -> dict[Command, Callable[[str], None]]:
        return {Command.ACTIVATE: lambda _k: self.activate(self.focus_index),
                Command.ITEM: self._by_key}

    def _by_key(self, key: str) -> None:
        index = ITEM_KEYS.index(key)
        if index < len(self.entries):
            self.activate(index)

    def activate(self, index: int) -> None:
        self.walker.set_focus(index)
        reason = self.reason(index)
        if reason:
            self.message.set_text(shown(reason))
            return
        self._emit("open", self.entries[index].item)

    # ---------------------------------------------------------------- layout
    def box_size(self, cols: int, rows: int) -> tuple[int, int]:
        if self.notice.text:         # wider for the line at the top; no spare row under the items
            width = min(cols, 76)
            return width, min(rows, len(self.entries) + 5 + text_rows(self.notice.text, width - 2))
        width = min(cols, max(len(row.item.label) for row in self.entries) + 8, 56)
        width = max(width, min(cols, 52))
        return width, min(rows, len(self.entries) + 5)
