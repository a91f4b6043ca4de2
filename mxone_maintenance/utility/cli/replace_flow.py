"""`server replace`: the one path that accepts a changed host key, then the plan that gives the new
server what the cluster put on the old one (ops/replace.py).

    1. the key the server presents now, beside the one pinned in known_hosts;
    2. accepted only when the technician says it is the key the new server's console shows (asked on
       a terminal), or gives that fingerprint with --host-key; a different one is refused and nothing
       changes;
    3. the plan shown and confirmed; apply checks the agent trusting only the accepted key, makes the
       change and pins the key in known_hosts once it is made (the audit log names both keys).
"""
from __future__ import annotations

import sys

from mxone_maintenance.core.model import System
from mxone_maintenance.utility.cli.apply_flow import execute
from mxone_maintenance.utility.cli.session import EXIT_FAILED, Failed, Session
from mxone_maintenance.utility.ops.replace import find_server, replace_address
from mxone_maintenance.utility.remote.settings import Host


def _accepted(session: Session, args, name: str, presented, pinned) -> bool:
    """Whether the presented key may be pinned for `name`. Raises ReplaceRefused when it must not."""
    from mxone_maintenance.utility.ops.replace_checks import CONSOLE_COMMAND, refuse_other_key
    if args.host_key is not None:
        refuse_other_key(name, args.host_key, presented)
        return True
    if (pinned is not None and pinned == presented) or session.dry_run:   # a dry run only looks
        return True
    if not sys.stdin.isatty():
        raise Failed(f"the host key of {name} is {'new' if pinned is None else 'changed'}: compare "
                     f"{presented.fingerprint} with what `{CONSOLE_COMMAND}` shows on the new server's "
                     "console and give it with --host-key; nothing was changed")
    answer = input(f"Is {presented.fingerprint} what `{CONSOLE_COMMAND}` shows on {name}'s console? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run_server_replace(session: Session, args, system: System) -> int:
    from mxone_maintenance.utility.ops.replace_checks import ReplaceRefused, accepted_plan
    from mxone_maintenance.utility.remote.errors import RemoteError
    from mxone_maintenance.utility.remote.host_key_scan import pinned_key, presented_key
    server = find_server(system, args.name)
    host = Host(server.name, replace_address(system, server.name))
    settings = session.ssh_settings()
    try:
        presented, pinned = presented_key(host, settings), pinned_key(host, settings)
        if not session.json:              # --json: one document on stdout (the plan names both keys)
            session.say(f"{server.name} at {host.where} presents host key {presented.described}")
            session.say(f"  pinned in {settings.known_hosts}: {pinned.described if pinned else 'none'}")
        if not _accepted(session, args, server.name, presented, pinned):
            session.say("Not replaced: the host key was not accepted; nothing was changed.")
            return EXIT_FAILED
        plan = accepted_plan(session.paths, settings, system, server.name, presented, pinned)
    except (ReplaceRefused, RemoteError) as err:
        raise Failed(f"{err}; nothing was changed") from None
    return execute(session, plan)
