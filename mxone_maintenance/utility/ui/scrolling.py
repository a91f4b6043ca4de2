"""Long screens: a sign when the list is cut off ("more below: PgDn"), and text above buttons that
sits right under the text on a big terminal and scrolls with PgUp/PgDn while the buttons keep the focus.
"""
from __future__ import annotations

from collections.abc import Sequence

import urwid

from mxone_maintenance.utility.ui.keys import Command, command_for
from mxone_maintenance.utility.ui.look import shown

SCROLLING = (Command.SCROLL, Command.UP, Command.DOWN)


def content_rows(listbox: urwid.ListBox, cols: int) -> int:
    return sum(row.rows((cols,)) for row in listbox.body)


def sign(ends: Sequence[str]) -> str:
    """What the last row says when the list is cut off (ENDS: the ends that are visible)."""
    if "top" in ends:
        return "↓ more below (PgDn)"
    if "bottom" in ends:
        return "↑ more above (PgUp)"
    return "↑↓ more above and below (PgUp PgDn)"


class Scrolled(urwid.WidgetWrap):
    """A list box that gives up its last row to the sign when its rows do not all fit."""

    def __init__(self, listbox: urwid.ListBox) -> None:
        self.listbox = listbox
        self.sign = urwid.Text("", align="right")
        self._pile = urwid.Pile([listbox])
        super().__init__(self._pile)

    def fits(self, size: tuple[int, int]) -> bool:
        return content_rows(self.listbox, size[0]) <= size[1]

    def _arrange(self, size: tuple[int, int]) -> None:
        """With the sign or without it, as SIZE needs (render and keys must agree on the list's size)."""
        cols, rows = size
        if self.fits(size) or rows < 2:
            self._pile.contents[:] = [(self.listbox, ("weight", 1))]
            return
        ends = self.listbox.ends_visible((cols, rows - 1), focus=True)
        self.sign.set_text(("hint", shown(sign(ends))))
        self._pile.contents[:] = [(self.listbox, ("weight", 1)), (self.sign, ("pack", None))]
        self._pile.focus_position = 0

    def render(self, size, focus: bool = False):
        self._arrange(size)
        return super().render(size, focus)

    def keypress(self, size, key: str):
        self._arrange(size)
        return super().keypress(size, key)


class TextAndButtons(urwid.WidgetWrap):
    """Text from its first line above buttons that keep the focus. The text takes the rows it needs (the
    buttons right under it, blank rows below them) and scrolls with PgUp PgDn and ↑↓."""

    def __init__(self, rows: Sequence[urwid.Widget], buttons: urwid.Widget, note: urwid.Widget | None = None) -> None:
        self.body = Scrolled(urwid.ListBox(urwid.SimpleFocusListWalker(list(rows))))
        self._below = [urwid.Divider(), *([note] if note is not None else []), buttons]
        parts: list = [(self.body, ("given", 1)), *((w, ("pack", None)) for w in self._below)]
        self.pile = urwid.Pile([])
        self.pile.contents[:] = [*parts, (urwid.SolidFill(" "), ("weight", 1))]
        self.pile.focus_position = len(self._below)
        super().__init__(self.pile)

    def _body_rows(self, size: tuple[int, int]) -> int:
        cols, rows = size
        below = sum(w.rows((cols,)) for w in self._below)
        wanted = content_rows(self.body.listbox, cols)
        height = max(1, min(wanted, rows - below))
        self.pile.contents[0] = (self.body, ("given", height))
        return height

    def render(self, size, focus: bool = False):
        self._body_rows(size)
        return super().render(size, focus)

    def keypress(self, size, key: str):
        """PgUp PgDn scroll the text wherever the focus is; ↑↓ too, when the buttons do not take them."""
        height = self._body_rows(size)
        rest = key if command_for(key, "view") == Command.SCROLL else super().keypress(size, key)
        if rest is not None and command_for(rest, "view") in SCROLLING:
            return self.body.keypress((size[0], height), rest)
        return rest
