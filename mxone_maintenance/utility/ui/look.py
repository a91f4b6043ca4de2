"""How the menus draw: box lines, arrows and marks in Unicode, or in ASCII when the terminal's locale
is not UTF-8 (LANG=C, a serial console): a terminal that cannot show "┌─→" shows "?" or garbage.

Decided once when the menus open (`from_environ`), from the locale variables as the technician set
them: Python itself cannot tell, since in the C locale it switches to UTF-8 on its own (PEP 538 sets
LC_CTYPE=C.UTF-8, PEP 540 the UTF-8 mode), so locale.getpreferredencoding() and urwid's detected
encoding both say UTF-8 there.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urwid

COERCED = "C.UTF-8"                   # what Python puts in LC_CTYPE when it found the C locale
# Whole words first (the footer's "↑↓ move" reads as "Up/Dn move"), then one character at a time.
ASCII_WORDS = {"↑↓": "Up/Dn", "←→": "<- ->"}
ASCII_CHARS = str.maketrans({"─": "-", "│": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+", "←": "<-", "→": "->",
                             "↑": "^", "↓": "v", "›": ">", "…": "...", "•": "*", "✓": "*", "§": "S"})
BOX_ASCII = {"tlcorner": "+", "tline": "-", "lline": "|", "trcorner": "+", "blcorner": "+", "rline": "|",
             "bline": "-", "brcorner": "+"}


@dataclass(frozen=True)
class Look:
    ascii: bool = False

    def text(self, text: str) -> str:
        if not self.ascii:
            return text
        for word, plain in ASCII_WORDS.items():
            text = text.replace(word, plain)
        return text.translate(ASCII_CHARS)

    def markup(self, markup: Any) -> Any:
        """TEXT markup (a string, (attribute, markup) or a list of them) in this look."""
        if isinstance(markup, str):
            return self.text(markup)
        if isinstance(markup, tuple):
            return markup[0], self.markup(markup[1])
        return [self.markup(part) for part in markup]

    @property
    def line(self) -> str:
        return "-" if self.ascii else "─"

    def box(self, widget: urwid.Widget, title: str) -> urwid.LineBox:
        return urwid.LineBox(widget, title=self.text(title), **(BOX_ASCII if self.ascii else {}))


UNICODE, ASCII = Look(), Look(ascii=True)


def from_environ(environ: Mapping[str, str]) -> Look:
    """ASCII unless the locale the technician set (LC_ALL, else LC_CTYPE, else LANG) is UTF-8."""
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name, "")
        if name == "LC_CTYPE" and value == COERCED and not environ.get("LC_ALL"):
            continue                  # perhaps Python's own, over a C locale: LANG says what was set
        if value:
            return UNICODE if value.lower().replace("-", "").endswith("utf8") else ASCII
    return ASCII


_current = [UNICODE]


def current() -> Look:
    return _current[0]


def use(look: Look) -> None:
    """The look every screen draws with from now on (the app sets it once, when it starts)."""
    _current[0] = look


def shown(markup: Any) -> Any:
    return current().markup(markup)
