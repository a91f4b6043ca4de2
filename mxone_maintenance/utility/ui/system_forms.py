"""The Server in system and Standby server in system forms (plans from ops/servers.py)."""
from __future__ import annotations

import urwid

from mxone_maintenance.utility.ops import servers as ops
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ops.requests import (
    AddServer,
    AddStandby,
    RemoveServer,
    RemoveStandby,
    parse_address,
    parse_name,
)
from mxone_maintenance.utility.ui.availability import free_servers, free_standbys, removable_servers
from mxone_maintenance.utility.ui.choices import lim_number, server_label
from mxone_maintenance.utility.ui.fields import ChoiceField, TextField
from mxone_maintenance.utility.ui.forms import ActionEnv, Form


class AddServerForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.name = TextField("Server name:    ", "", lambda t: parse_name(t, "server name"))
        self.address = TextField("Address:        ", "", lambda t: parse_address(t, "server address"))
        self.kind = ChoiceField("Kind", [("lim", "LIM server"), ("free", "free server (no LIM; may become a standby)")],
                                on_change=lambda _v: self.relayout())
        self.lim = TextField("LIM number:     ", "", lim_number)
        super().__init__("Add server to system", env)

    def fields(self) -> list[urwid.Widget]:
        rows = [self.name, self.address, urwid.Divider(), self.kind]
        return rows + ([self.lim] if self.kind.value == "lim" else [])

    def propose(self) -> Proposal:
        fields = [self.name, self.address] + ([self.lim] if self.kind.value == "lim" else [])
        name, address, *lim = self.values(*fields)
        request = AddServer(name, self.address.text.strip(), lim[0] if lim else None)
        return Proposal(ops.plan_add_server(self.system, request))


class RemoveServerForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.server = ChoiceField("Server to remove (servers in a cluster are not listed)",
                                  [(s.name, server_label(s)) for s in removable_servers(env.system)])
        super().__init__("Remove server from system", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.server]

    def propose(self) -> Proposal:
        return Proposal(ops.plan_remove_server(self.system, RemoveServer(self.server.value)))


class AddStandbyForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.server = ChoiceField("Free server to make a standby server",
                                  [(s.name, server_label(s)) for s in free_servers(env.system)])
        super().__init__("Make a free server a standby server", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.server]

    def propose(self) -> Proposal:
        return Proposal(ops.plan_add_standby(self.system, AddStandby(self.server.value)))


class RemoveStandbyForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.server = ChoiceField("Standby server to make free (standby servers in a cluster are not listed)",
                                  [(s.name, server_label(s)) for s in free_standbys(env.system)])
        super().__init__("Make a standby server free again", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.server]

    def propose(self) -> Proposal:
        return Proposal(ops.plan_remove_standby(self.system, RemoveStandby(self.server.value)))
