"""The subcommands that only look: `cluster list`, `cluster status`, `cluster history`. Kept apart from
the ones that change something so that looking loads no planning code, and `cluster status` (answered
by the local agent) no SSH library unless a member has to be asked over SSH."""
from __future__ import annotations

import json

from mxone_maintenance.core.model import System
from mxone_maintenance.utility.cli.session import EXIT_FAILED, EXIT_OK, Session
from mxone_maintenance.utility.ops.journal import JournalError, read_journal
from mxone_maintenance.utility.ops.pending import PendingError, read_pending
from mxone_maintenance.utility.ops.request_error import RequestError
from mxone_maintenance.utility.ops.views import clusters_data, clusters_text


def run_list(session: Session, args, system: System) -> int:
    session.say(json.dumps(clusters_data(system), indent=2) if session.json else clusters_text(system))
    return EXIT_OK


def run_status(session: Session, args, system: System) -> int:
    from mxone_maintenance.utility.ops.status import collect_status, for_status, status_text
    report = collect_status(system, for_status(session.ssh_settings()), local=session.paths.agent_socket)
    unfinished = unfinished_line(session)
    if session.json:
        session.say(json.dumps({**report.to_json(), "unfinished": unfinished}, indent=2))
    else:
        session.say("\n\n".join(filter(None, [unfinished, status_text(report)])))
    return EXIT_OK if report.complete else EXIT_FAILED


def run_history(session: Session, args, system: System) -> int:
    """Exit 0 when every member answered; 1 when some did not (the others' events are still shown)."""
    from mxone_maintenance.core.contracts.events import parse_since
    from mxone_maintenance.utility.ops.history import collect_history, history_text
    from mxone_maintenance.utility.ops.status import for_status
    since = None
    if args.since is not None:
        try:
            since = parse_since(args.since)
        except ValueError as err:
            raise RequestError(str(err)) from None
    report = collect_history(system, for_status(session.ssh_settings()), args.name, since)
    session.say(json.dumps(report.to_json(), indent=2) if session.json else history_text(report, since))
    return EXIT_OK if report.complete else EXIT_FAILED


def unfinished_line(session: Session) -> str:
    """For status: the interrupted change, if any, and what to do about it."""
    lines = []
    try:
        journal = read_journal(session.system_file)
        if journal is not None:
            lines.append(f"Unfinished change: {journal.headline()}. Finish it with `cluster finish` or undo it "
                         "with `cluster undo`.")
    except JournalError as err:
        lines.append(f"Change journal: {err}")
    try:
        lines += [f"Pending: {entry.line()}." for entry in read_pending(session.system_file)]
    except PendingError as err:
        lines.append(f"Pending: {err}")
    return "\n".join(lines)
