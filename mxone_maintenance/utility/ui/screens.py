"""Screens the application stacks: the base class, and the plain ones (text, plan, progress, result,
help, question). Screens never reach into the application; they emit signals it connects to (toot style).
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import urwid

from mxone_maintenance.utility.ops.journal import Journal
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ui import focus
from mxone_maintenance.utility.ui.fields import button_row
from mxone_maintenance.utility.ui.keys import Command, command_for, help_lines
from mxone_maintenance.utility.ui.look import shown
from mxone_maintenance.utility.ui.scrolling import Scrolled, TextAndButtons

TABS = {Command.NEXT_FIELD: True, Command.PREV_FIELD: False}


class Screen(urwid.WidgetWrap):
    """One level of the stack. `context` picks the key bindings and footer; an `overlay` screen is drawn
    as a box over the one below (`box_size`), others fill the body."""
    signals: list[str] = []              # what it emits; the app connects the ones it knows
    title = ""
    context = "view"
    overlay = False
    busy = False                          # True while a change is being applied (q asks, Esc waits)
    typed = False                         # True while it holds typed values leaving would lose (forms)

    def box_size(self, cols: int, rows: int) -> tuple[int, int]:
        return cols, rows

    def closing(self) -> None:
        """Called when the screen leaves the stack (stop timers)."""

    def keypress(self, size, key: str):
        """Tab and Shift-Tab, once the focused widget has seen them (a text field checks its value as it
        is left): to the next or previous field or button (ui/focus.py)."""
        rest = super().keypress(size, key)
        forward = TABS.get(command_for(rest, self.context)) if rest is not None else None
        if forward is not None and focus.tab(self._w, forward):
            return None
        return rest


class Line(urwid.WidgetWrap):
    """A line of text; wrapped, it keeps its indent (and a "- " item's text stays right of the dash).
    The focus never rests on it: ↑↓ PgUp PgDn scroll the text by rows and pages (ui/scrolling.py)."""

    def __init__(self, markup) -> None:
        attr, text = markup if isinstance(markup, tuple) else (None, markup)
        text = shown(text)
        rest = text.lstrip(" ")
        indent = len(text) - len(rest) + (2 if rest.startswith("- ") else 0)
        if indent == 0:
            super().__init__(urwid.Text((attr, text)))
            return
        super().__init__(urwid.Columns([(indent, urwid.Text((attr, text[:indent]))),
                                        urwid.Text((attr, text[indent:]))]))


class Focusable(urwid.WidgetWrap):
    """A row of a table the focus can rest on (it takes no keys), so ↑↓ scroll a long table."""

    def selectable(self) -> bool:
        return True

    def keypress(self, size, key: str):
        return key


def text_rows(text: str, cols: int) -> int:
    """How many rows TEXT takes wrapped at COLS (a box is sized by it: borders, divider, buttons extra)."""
    return urwid.Text(text).rows((max(cols, 1),))


def text_and_buttons(lines: Sequence, buttons: urwid.Widget, note: urwid.Widget | None = None) -> TextAndButtons:
    """Text from its first line (↑↓ PgUp PgDn scroll it) above buttons that keep the focus."""
    return TextAndButtons([Line(line) for line in lines] or [Line("")], buttons, note)


class TextScreen(Screen):
    """Text to read (List all clusters, ...), and a Back button."""
    signals = ["back"]

    def __init__(self, title: str, text: str) -> None:
        self.title = title
        back = button_row([("Back", lambda: self._emit("back"))])
        super().__init__(text_and_buttons(text.splitlines(), back))


class PlanScreen(Screen):
    """The plan, and an explicit choice: Apply or Back. Back has the focus, so Enter pressed once too
    often changes nothing; Apply needs a move (←). `recovering`: the journal of the interrupted change
    this plan finishes or undoes (applied with it)."""
    signals = ["apply", "back"]
    context = "choice"

    def __init__(self, title: str, proposal: Proposal, recovering: Journal | None = None) -> None:
        self.title = "Plan"
        self.action_title = title
        self.proposal = proposal
        self.recovering = recovering
        lines = [("plan title" if i == 0 else "body", line) for i, line in enumerate(proposal.plan.lines())]
        buttons = button_row([("Apply", lambda: self._emit("apply", proposal)), ("Back", lambda: self._emit("back"))])
        buttons.focus_position = 1
        note = urwid.Text(("hint", shown("Nothing has changed yet. Apply (←, then Enter) makes these changes.")))
        super().__init__(text_and_buttons(lines, buttons, note))


class ProgressScreen(Screen):
    """One line per server, updated while the plan is applied in a worker thread (the app replaces it
    with the result)."""
    context = "progress"

    def __init__(self, title: str, servers: Sequence[str]) -> None:
        self.title = "Applying"
        self.busy = True
        self.heading = urwid.Text(("busy", shown("Applying… do not leave until the result is shown.")))
        self._rows: dict[str, urwid.Text] = {}
        self.walker = urwid.SimpleFocusListWalker([self.heading, urwid.Divider()])
        for server in servers:
            self._row(server).set_text(f"{server:<12} waiting")
        super().__init__(urwid.ListBox(self.walker))

    def _row(self, server: str) -> urwid.Text:
        if server not in self._rows:
            self._rows[server] = urwid.Text("")
            self.walker.append(self._rows[server])
        return self._rows[server]

    def update(self, server: str, message: str) -> None:
        self._row(server).set_text(f"{server:<12} {message}")


class ResultScreen(Screen):
    """Done, or FAILED naming the server (and saying "nothing was changed" where that is so); `plain`:
    the message as it is (the technician chose not to apply)."""
    signals = ["close"]

    def __init__(self, title: str, ok: bool, message: str, per_server: dict[str, str] | None = None,
                 failed_server: str | None = None, plain: bool = False) -> None:
        self.title = "Result"
        self.ok = ok
        if plain:
            head = ("body", message)
        elif ok:
            head = ("done", f"Done: {message}")
        else:
            where = f" on {failed_server}" if failed_server and failed_server not in message else ""
            head = ("failed", f"FAILED{where}: {message}")
        rows: list = [head, ""] + [f"  {server}: {state}" for server, state in (per_server or {}).items()]
        super().__init__(text_and_buttons(rows, button_row([("OK", lambda: self._emit("close"))])))


class HelpScreen(Screen):
    """Every key binding, generated from the key table."""
    signals = ["back"]
    title = "Keys"
    context = "help"
    overlay = True

    def __init__(self) -> None:
        rows: list = [urwid.Columns([(15, urwid.Text(("key", shown(keys)))), urwid.Text(shown(f"{what} ({where})"))])
                      for keys, what, where in help_lines()]
        rows += [urwid.Divider(), urwid.Text(("hint", "Esc closes this help."))]
        self._lines = rows
        super().__init__(Scrolled(urwid.ListBox(urwid.SimpleFocusListWalker(rows))))

    def selectable(self) -> bool:
        return True                           # it takes ↑↓ PgUp PgDn, though no row takes the focus

    def box_size(self, cols: int, rows: int) -> tuple[int, int]:
        width = min(cols, 76)
        return width, min(rows, sum(line.rows((width - 2,)) for line in self._lines) + 2)


class QuestionScreen(Screen):
    """A yes/no question in a box (e.g. leave while a change is applied); No has the focus, Esc is No."""
    signals = ["yes", "no"]
    context = "choice"
    overlay = True

    def __init__(self, title: str, question: str, yes: str, no: str) -> None:
        self.title = title
        self._question = question
        buttons = button_row([(no, lambda: self._emit("no")), (yes, lambda: self._emit("yes"))])
        super().__init__(TextAndButtons([Line(question)], buttons))

    def answer_no(self) -> None:
        self._emit("no")

    def box_size(self, cols: int, rows: int) -> tuple[int, int]:
        width = min(cols, 64)
        return width, min(rows, text_rows(self._question, width - 2) + 4)


def clock() -> str:
    return time.strftime("%H:%M:%S")


class NoticeScreen(Screen):
    """Something the technician must read first (e.g. the system file cannot be read), and OK."""
    signals = ["back"]
    overlay = True

    def __init__(self, title: str, text: str) -> None:
        self.title = title
        self._text = text
        ok = button_row([("OK", lambda: self._emit("back"))])
        super().__init__(TextAndButtons([Line(("error", text))], ok))

    def box_size(self, cols: int, rows: int) -> tuple[int, int]:
        width = min(cols, 76)
        return width, min(rows, text_rows(self._text, width - 2) + 4)
