"""Server in system -> Replace a server rebuilt on new hardware: the server, and the fingerprint its
console shows. After Apply the worker compares it with the key the server presents (another is refused
and nothing changes), then applies: the agent checked, the key pinned once the change is made."""
from __future__ import annotations

import urwid

from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ops.replace import preview_replace
from mxone_maintenance.utility.ops.requests import RequestError
from mxone_maintenance.utility.ui.choices import server_label
from mxone_maintenance.utility.ui.fields import ChoiceField, TextField
from mxone_maintenance.utility.ui.forms import ActionEnv, Form

CONSOLE_HINT = "On the new server's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"


def fingerprint(text: str) -> str:
    value = text.strip()
    body = value.removeprefix("SHA256:")
    if len(body) != 43 or not all(c.isalnum() or c in "+/" for c in body):
        raise RequestError(f"a SHA256 fingerprint is SHA256: and 43 characters (got {value!r})")
    return f"SHA256:{body}"


class ReplaceServerForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.server = ChoiceField("Server rebuilt on new hardware",
                                  [(s.name, server_label(s)) for s in env.system.servers])
        self.fingerprint = TextField("Host key:       ", "", fingerprint)
        super().__init__("Replace a server", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.server, urwid.Divider(), urwid.Text(("hint", CONSOLE_HINT)), self.fingerprint]

    def propose(self) -> Proposal:
        [given] = self.values(self.fingerprint)
        name = self.server.value
        shown = preview_replace(self.system, name, given)

        def final(paths, settings):
            from mxone_maintenance.utility.ops.replace_checks import final_replace_plan  # paramiko: worker only
            return final_replace_plan(paths, settings, self.system, name, given)
        return Proposal(shown, final)
