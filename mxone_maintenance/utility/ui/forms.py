"""The base of every action form: fields in a scrolling list, a line for a broken rule, and
[Show plan] [Back]. A form turns its fields into a request, asks ops for the plan and emits `plan`.

Submitted with errors, it moves the focus to the first field with a message (the list scrolls to it);
a broken rule that quotes a typed value is shown under that field, any other above the buttons.
"""
from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass

import urwid

from mxone_maintenance.core.model import System
from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.utility.ops.access import SshSettings
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ops.requests import RequestError
from mxone_maintenance.utility.ui.fields import Invalid, Message, TextField, button_row, text_fields
from mxone_maintenance.utility.ui import focus
from mxone_maintenance.utility.ui.screens import Screen
from mxone_maintenance.utility.ui.scrolling import Scrolled


@dataclass(frozen=True)
class ActionEnv:
    """What an action needs: the system as loaded now, and how to reach the servers (used only in a
    worker: Show status, or after the technician chose Apply)."""
    system: System
    ssh_settings: Callable[[], SshSettings]
    local_agent: Path | None = None          # this server's agent socket: status from what it hears


class Form(Screen):
    """Subclasses give `fields()` (the widgets, in order) and `propose()` (-> Proposal)."""
    signals = ["plan", "back"]
    context = "form"
    submit_label = "Show plan"

    def __init__(self, title: str, env: ActionEnv) -> None:
        self.title = title
        self.env = env
        self.system = env.system
        self.message = Message()
        self.walker = urwid.SimpleFocusListWalker([])
        self.listbox = urwid.ListBox(self.walker)
        super().__init__(Scrolled(self.listbox))
        self.relayout()

    # ---------------------------------------------------------------- for subclasses
    def fields(self) -> list[urwid.Widget]:
        raise NotImplementedError

    def propose(self) -> Proposal:
        raise NotImplementedError

    @staticmethod
    def values(*fields: TextField) -> list:
        """Parse every field (each shows its own message); Invalid if any cannot be used."""
        values, bad = [], False
        for field in fields:
            try:
                values.append(field.value())
            except Invalid:
                values.append(None)
                bad = True
        if bad:
            raise Invalid("check the marked fields")
        return values

    @property
    def typed(self) -> bool:
        """A field shown holds a value the technician typed (leaving asks first)."""
        return any(field.typed for row in self.walker for field in text_fields(row))

    # ---------------------------------------------------------------- layout and submit
    def relayout(self) -> None:
        """Build the rows again (after a choice changes which fields there are); typed text is kept
        because subclasses keep their field objects."""
        focus = self.walker.focus
        rows = self.fields() + [urwid.Divider(), self.message,
                                button_row([(self.submit_label, self.submit), ("Back", lambda: self._emit("back"))])]
        self.walker[:] = rows
        if focus is not None and focus < len(rows) and rows[focus].selectable():
            self.walker.set_focus(focus)
        else:
            first = next((i for i, row in enumerate(rows) if row.selectable()), 0)
            self.walker.set_focus(first)

    def submit(self) -> None:
        self.message.show(None)
        try:
            proposal = self.propose()
        except Invalid as err:
            self.message.show(f"Not yet: {err}.")
            self.focus_first_error()
            return
        except (RuleViolation, RequestError) as err:
            self._refused(str(err))
            return
        self._emit("plan", proposal)

    def _refused(self, message: str) -> None:
        """A broken rule: under the field whose typed value it names, else above the buttons."""
        field = field_named_in(message, [f for row in self.walker for f in text_fields(row)])
        if field is None:
            self.message.show(message)
            self.listbox.set_focus(len(self.walker) - 1)
            return
        field.show_error(message)
        self.message.show("Not possible: see the marked field.")
        focus.focus_on(self.listbox, field)

    def focus_first_error(self) -> None:
        """The focus to the first field with a message, or to the field just above a message of its own
        (Choose at least one LIM), in the middle of the list so the message under it shows too."""
        for position, row in enumerate(self.walker):
            marked = [f for f in text_fields(row) if f.has_error]
            if marked:
                focus.focus_on(self.listbox, marked[0])
                return
            if isinstance(row, Message) and row is not self.message and row.text:
                before = [path for path, _stop in focus.stops(self.listbox) if path[0][1] < position]
                if before:
                    focus.go(before[-1])
                    self.listbox.set_focus_valign("middle")
                return


def field_named_in(message: str, fields: list[TextField]) -> TextField | None:
    """The first field whose typed value MESSAGE names as a whole word (a rule quotes what it refuses)."""
    for field in fields:
        value = field.text.strip()
        if field.typed and len(value) >= 3 and re.search(rf"(?<![\w.]){re.escape(value)}(?![\w])", message):
            return field
    return None
