"""`server replace`: the one path that accepts a changed host key, then the plan that gives the new
server what the cluster put on the old one (ops/replace.py).

    1. the key the server presents now, beside the one pinned in known_hosts;
    2. accepted only when the technician says it is the key the new server's console shows (asked on
       a terminal), or gives that fingerprint with --host-key; a different one is refused and nothing
       changes;
    3. the agent checked over SSH, trusting the accepted key through a private copy of known_hosts;
    4. the plan shown and confirmed; then the key is pinned in known_hosts and the plan applied (the
       audit log names both keys).
"""
from __future__ import annotations

import sys

from mxone_maintenance.core.model import System
from mxone_maintenance.utility.cli.apply_flow import execute
from mxone_maintenance.utility.cli.session import EXIT_FAILED, Failed, Session
from mxone_maintenance.utility.ops.cluster_keys import cluster_key
from mxone_maintenance.utility.ops.replace import find_server, plan_replace, replace_address
from mxone_maintenance.utility.remote.settings import Host, SshSettings

CONSOLE_COMMAND = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"


def _same_fingerprint(given: str, presented: str) -> bool:
    given = given.strip()
    return given == presented or f"SHA256:{given}" == presented


def _accepted(session: Session, args, name: str, presented, pinned) -> bool:
    """Whether the presented key may be pinned for `name`. Raises Failed when it must not."""
    if args.host_key is not None:
        if not _same_fingerprint(args.host_key, presented.fingerprint):
            raise Failed(f"{name} presents {presented.described}, not the {args.host_key!r} given with "
                         "--host-key; nothing was changed")
        return True
    if pinned is not None and pinned == presented:
        return True
    if session.dry_run:
        return True                     # only a look: the key is asked for when the change is made
    if not sys.stdin.isatty():
        raise Failed(f"the host key of {name} is {'new' if pinned is None else 'changed'}: compare "
                     f"{presented.fingerprint} with what `{CONSOLE_COMMAND}` shows on the new server's "
                     "console and give it with --host-key; nothing was changed")
    answer = input(f"Is {presented.fingerprint} what `{CONSOLE_COMMAND}` shows on {name}'s console? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _check_agent(host: Host, settings: SshSettings, presented) -> None:
    from mxone_maintenance.utility.ops.agent_check import AgentMissing, require_agent
    from mxone_maintenance.utility.remote.host_key_scan import trusting
    from mxone_maintenance.utility.remote.ssh import Connection
    try:
        with trusting(settings, host, presented) as trusted, Connection(host, trusted) as conn:
            require_agent(conn)
    except AgentMissing as err:
        raise Failed(f"{err}; nothing was changed") from None


def run_server_replace(session: Session, args, system: System) -> int:
    from mxone_maintenance.utility.remote.errors import RemoteError
    from mxone_maintenance.utility.remote.host_key_scan import pinned_key, presented_key, repin
    server = find_server(system, args.name)
    host = Host(server.name, replace_address(system, server.name))
    settings = session.ssh_settings()
    try:
        presented, pinned = presented_key(host, settings), pinned_key(host, settings)
        session.say(f"{server.name} at {host.where} presents host key {presented.described}")
        session.say(f"  pinned in {settings.known_hosts}: {pinned.described if pinned else 'none'}")
        if not _accepted(session, args, server.name, presented, pinned):
            session.say("Not replaced: the host key was not accepted; nothing was changed.")
            return EXIT_FAILED
        if not session.dry_run:
            _check_agent(host, settings, presented)
        cluster = system.cluster_of_server(server.name)
        key = cluster_key(session.paths, system, cluster.name, settings) if cluster is not None else b""
    except RemoteError as err:
        raise Failed(f"{err}; nothing was changed") from None
    plan = plan_replace(system, server.name, key, pinned.described if pinned else "none", presented.described)
    return execute(session, plan, prepare=lambda: repin(settings.known_hosts, host, presented))
