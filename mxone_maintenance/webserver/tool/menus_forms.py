"""Master and Standby configuration (and Reconfigure): the form. The pair is shown as found in the system
file (read-only); the virtual IP and the replication role's name are checked as the command line checks
them (tool/pair.py); the passwords are masked, typed twice, and leave the form only as Secrets."""
from __future__ import annotations

from collections.abc import Callable

import urwid

from mxone_maintenance.utility.ops.requests import RequestError
from mxone_maintenance.utility.ui import focus
from mxone_maintenance.utility.ui.fields import Invalid, Message, TextField, button_row, text_fields
from mxone_maintenance.utility.ui.forms import field_named_in
from mxone_maintenance.utility.ui.look import shown
from mxone_maintenance.utility.ui.screens import Screen
from mxone_maintenance.utility.ui.scrolling import Scrolled
from mxone_maintenance.webserver.shared.pair_file import Role
from mxone_maintenance.webserver.tool.apply import Secrets
from mxone_maintenance.webserver.tool.flow import SetupRequest
from mxone_maintenance.webserver.tool.pair import Pair, PairProblem, replication_user, virtual_ip
from mxone_maintenance.webserver.tool.plans import MANAGER

Submitted = Callable[[SetupRequest, Secrets], None]


def checked(parse: Callable[[str], object]) -> Callable[[str], object]:
    """A tool/pair.py parser as a form field's: its one line under the field."""
    def field_parser(text: str) -> object:
        if not text.strip():
            raise RequestError("required")
        try:
            return parse(text.strip())
        except PairProblem as exc:
            raise RequestError(str(exc)) from None
    return field_parser


def secret_field(caption: str) -> TextField:
    field = TextField(caption, parse=checked(lambda text: text))
    field.edit.set_mask("*")
    return field


def info(label: str, value: str) -> urwid.Widget:
    return urwid.Columns([(10, urwid.Text(("label", label))), urwid.Text(value)])


class SetupForm(Screen):
    """Emits nothing itself: SUBMITTED gets the request and the secrets once every field can be used."""
    signals = ["back"]
    context = "form"

    def __init__(self, title: str, pair: Pair, role: Role, submitted: Submitted, vip: str = "", user: str = "",
                 reconfigure: bool = False) -> None:
        self.title = title
        self.pair, self.role, self.reconfigure = pair, role, reconfigure
        self._submitted = submitted
        given = " (as given on the master)" if role == "standby" else ""
        self.vip = TextField(f"Virtual IP{given}: ", vip, checked(lambda text: virtual_ip(pair, text)))
        self.user = TextField(f"Replication user name{given}: ", user, checked(replication_user))
        self.manager = secret_field(f"Password of {MANAGER}: ")
        self.manager_again = secret_field(f"Confirm the password of {MANAGER}: ")
        self.replication = secret_field("Replication user's password: ")
        self.replication_again = secret_field("Confirm the replication user's password: ")
        self.message = Message()
        self.walker = urwid.SimpleFocusListWalker(self._rows())
        self.listbox = urwid.ListBox(self.walker)
        super().__init__(Scrolled(self.listbox))
        self.walker.set_focus(next(i for i, row in enumerate(self.walker) if row.selectable()))

    def _rows(self) -> list[urwid.Widget]:
        pair = self.pair
        hint = ("The master's settings: the standby is checked against them." if self.role == "master" else
                "Type them as on the master: a difference is refused, naming both.")
        return [info("Master", f"{pair.master} ({pair.master_base})"),
                info("Standby", f"{pair.standby} ({pair.standby_base})"),
                info("Cluster", f"{pair.cluster} on {pair.interface}, fallback {pair.fallback}"),
                urwid.Divider(), self.vip, self.user, urwid.Text(("hint", hint)), urwid.Divider(),
                self.manager, self.manager_again, self.replication, self.replication_again,
                urwid.Text(("hint", shown(f"The passwords are set on the servers for {MANAGER} and the replication "
                                          "user; they are never shown."))),
                urwid.Divider(), self.message,
                button_row([("Show plan", self.submit), ("Back", lambda: self._emit("back"))])]

    @property
    def secret_fields(self) -> tuple[TextField, ...]:
        return self.manager, self.manager_again, self.replication, self.replication_again

    @property
    def typed(self) -> bool:
        return any(field.typed for row in self.walker for field in text_fields(row))

    def _confirmed(self, first: TextField, again: TextField) -> str:
        value = first.value()
        if again.text != first.text:
            again.show_error("differs from the password above")
            raise Invalid("the passwords differ")
        again.show_error(None)
        return str(value)

    def _values(self) -> tuple[str, str, Secrets]:
        values, bad = [], False
        for read in (self.vip.value, self.user.value, lambda: self._confirmed(self.manager, self.manager_again),
                     lambda: self._confirmed(self.replication, self.replication_again)):
            try:
                values.append(read())
            except Invalid:
                bad = True
        if bad:
            raise Invalid("check the marked fields")
        return self.vip.text.strip(), self.user.text.strip(), Secrets(values[2], values[3])

    def submit(self) -> None:
        self.message.show(None)
        try:
            vip, user, secrets = self._values()
        except Invalid as err:
            self.message.show(f"Not yet: {err}.")
            self._focus_first_error()
            return
        self._submitted(SetupRequest(self.role, vip, user, self.reconfigure), secrets)

    def _focus_first_error(self) -> None:
        marked = [f for row in self.walker for f in text_fields(row) if f.has_error]
        if marked:
            focus.focus_on(self.listbox, marked[0])

    def refuse(self, line: str) -> None:
        """A refusal (a rule, a server): under the field whose typed value it names, else above the buttons."""
        field = field_named_in(line, [self.vip, self.user])
        if field is None:
            self.message.show(line)
            self.listbox.set_focus(len(self.walker) - 1)
            return
        field.show_error(line)
        self.message.show("Not possible: see the marked field.")
        focus.focus_on(self.listbox, field)
