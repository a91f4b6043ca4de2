"""The footer: the keys of the screen on top, as many as fit in one row (never wrapped: at 60 columns
the essential ones, the help lists them all), or a note in their place (an error, "wait for the result")."""
from __future__ import annotations

import urwid

from mxone_maintenance.utility.ui.keys import footer_text
from mxone_maintenance.utility.ui.look import shown


class Footer(urwid.Text):
    """Fitted to its width when drawn: the width is known only then (the terminal may be resized)."""

    def __init__(self) -> None:
        self.context = "menu"
        self.note = ""
        super().__init__("")

    def show(self, context: str, note: str = "") -> None:
        self.context, self.note = context, note
        self._invalidate()

    def _fit(self, cols: int) -> None:
        text = f" {self.note}" if self.note else " " + footer_text(self.context, cols - 1, shown)
        if text != self.text:
            self.set_text(text)

    def rows(self, size, focus: bool = False) -> int:
        self._fit(size[0])
        return super().rows(size, focus)

    def render(self, size, focus: bool = False):
        self._fit(size[0])
        return super().render(size, focus)
