"""What `server replace` checks before it makes its plan, for both shells: the key the new server presents
is the one the technician read on its console (apply then checks its agent and pins the key once the
change is made). The menus' final step is `final_replace_plan` (after Apply, in a worker); the command
line asks on its terminal instead (cli/replace_flow.py)."""
from __future__ import annotations

from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops.cluster_keys import cluster_key
from mxone_maintenance.utility.ops.plan import Plan
from mxone_maintenance.utility.ops.replace import find_server, plan_replace, replace_address
from mxone_maintenance.utility.remote.host_key_scan import PresentedKey, pinned_key, presented_key
from mxone_maintenance.utility.remote.settings import Host, SshSettings

CONSOLE_COMMAND = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"


class ReplaceRefused(Exception):
    """One line: why the server is not replaced (nothing was changed; the shells say so)."""


def same_fingerprint(given: str, presented: PresentedKey) -> bool:
    given = given.strip()
    return given == presented.fingerprint or f"SHA256:{given}" == presented.fingerprint


def refuse_other_key(name: str, given: str, presented: PresentedKey) -> None:
    if not same_fingerprint(given, presented):
        raise ReplaceRefused(f"{name} presents {presented.described}, not the {given!r} read on its console")


def final_replace_plan(paths: Paths, settings: SshSettings, system: System, name: str, given: str) -> Plan:
    """The menus' replace after Apply: refuse another key, then the plan. Raises ReplaceRefused, or
    RemoteError when the server does not answer."""
    server = find_server(system, name)
    host = Host(server.name, replace_address(system, server.name))
    presented, pinned = presented_key(host, settings), pinned_key(host, settings)
    refuse_other_key(server.name, given, presented)
    return accepted_plan(paths, settings, system, server.name, presented, pinned)


def accepted_plan(paths: Paths, settings: SshSettings, system: System, name: str, presented: PresentedKey,
                  pinned: PresentedKey | None) -> Plan:
    """The replace plan once the presented key is accepted: with the cluster's key (the copy kept here,
    else the standby's). Raises RemoteError."""
    cluster = system.cluster_of_server(name)
    key = cluster_key(paths, system, cluster.name, settings) if cluster is not None else b""
    return plan_replace(system, name, key, pinned.described if pinned else "none", presented)
