"""The base of every action form: fields in a scrolling list, a line for a broken rule, and
[Show plan] [Back]. A form turns its fields into a request, asks ops for the plan and emits `plan`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import urwid

from mxone_maintenance.core.model import System
from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.utility.ops.access import SshSettings
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ops.requests import RequestError
from mxone_maintenance.utility.ui.fields import Invalid, Message, TextField, button_row, text_fields
from mxone_maintenance.utility.ui.keys import Command, command_for
from mxone_maintenance.utility.ui.screens import Screen


@dataclass(frozen=True)
class ActionEnv:
    """What an action needs: the system as loaded now, and how to reach the servers (used only in a
    worker: Show status, or after the technician chose Apply)."""
    system: System
    ssh_settings: Callable[[], SshSettings]


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
        super().__init__(self.listbox)
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
            return
        except (RuleViolation, RequestError) as err:
            self.message.show(str(err))
            return
        self._emit("plan", proposal)

    def keypress(self, size, key: str):
        """Tab and Shift-Tab walk the fields like ↓ and ↑ (urwid's own "next selectable" would jump
        into the middle of a row of buttons); in the row of buttons they go from button to button."""
        before = self.walker.focus
        move = {Command.NEXT_FIELD: "down", Command.PREV_FIELD: "up"}.get(command_for(key, self.context))
        if move is not None and not isinstance(self.listbox.focus, urwid.Columns):
            rest = self.listbox.keypress(size, move)
        else:
            rest = super().keypress(size, key)
        if self.walker.focus != before and isinstance(self.listbox.focus, urwid.Columns):
            self.listbox.focus.focus_position = 0       # arriving at the buttons: the first one, always
        return rest
