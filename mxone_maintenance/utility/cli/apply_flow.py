"""From plan to result on the command line: show the plan, refuse a change while another is
unfinished, confirm, apply with progress, print the result; and `cluster finish` / `cluster undo`."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable

from mxone_maintenance.core.model import System
from mxone_maintenance.utility.cli.session import EXIT_FAILED, EXIT_OK, Failed, Session
from mxone_maintenance.utility.ops import recovery
from mxone_maintenance.utility.ops.cluster_keys import cluster_key
from mxone_maintenance.utility.ops.journal import Journal, JournalError, journal_path, read_journal
from mxone_maintenance.utility.ops.pending import PendingError, plan_pending, read_pending, still_pending, write_pending
from mxone_maintenance.utility.ops.plan import Plan, catch_up_words
from mxone_maintenance.utility.ops.requests import RequestError
from mxone_maintenance.utility.remote.errors import RemoteError

# --- show the plan, confirm, apply ---------------------------------------------------------------------

def _confirm(session: Session) -> bool:
    if session.yes:
        return True
    if not sys.stdin.isatty():
        raise Failed("not applied: no terminal to confirm on; run again with --yes (or --dry-run to only look)")
    answer = input("Apply this plan? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _check_allow_down(session: Session, plan: Plan) -> None:
    touched = [s.server for s in plan.servers if s.steps]
    for server in sorted(session.allow_down - set(touched)):
        raise RequestError(f"--allow-down {server!r}: not a server this change touches "
                           f"({', '.join(touched) or 'none'})")


def _refuse_if_unfinished(session: Session, plan: Plan) -> None:
    """Before the plan is shown: a change while another is unfinished would build on a guess."""
    if plan.is_order and plan.changes_servers:
        return
    try:
        journal = read_journal(session.system_file)
    except JournalError as err:
        raise Failed(str(err)) from None
    if journal is not None:
        raise Failed(f"an interrupted change is not finished: {journal.headline()}; finish it with "
                     "`mxone_maintenance cluster finish` or undo it with `cluster undo` first")


def execute(session: Session, plan: Plan, recovering: Journal | None = None) -> int:
    if recovering is None:
        _refuse_if_unfinished(session, plan)
    if session.json and session.dry_run:
        session.say(json.dumps({"plan": plan.to_json(), "applied": False}, indent=2))
        return EXIT_OK
    _check_allow_down(session, plan)
    if not session.json:
        session.say(plan.text())
        for server in sorted(session.allow_down):
            session.say(f"  If {server} does not answer: it is left out and "
                        f"{catch_up_words(plan, server)} (--allow-down {server}).")
    if session.dry_run:
        session.say("Dry run: nothing was changed.")
        return EXIT_OK
    if not _confirm(session):
        session.say("Not applied: nothing was changed.")
        return EXIT_FAILED
    from mxone_maintenance.utility.ops.apply import apply_plan
    result = apply_plan(plan, session.paths, session.system_file, session.ssh_settings(), session.progress,
                        allow_down=session.allow_down, recovering=recovering)
    if session.json:
        session.say(json.dumps({"plan": plan.to_json(), "applied": result.ok, "result": result.to_json()}, indent=2))
    else:
        session.say(result.text())
        if result.can_leave_out and result.failed_server:
            server = result.failed_server
            session.say(f"  {server}'s part can wait: run again with --allow-down {server} to leave it out; "
                        f"it {catch_up_words(plan, server)}.")
    return EXIT_OK if result.ok else EXIT_FAILED




# --- an interrupted change: finish or undo ------------------------------------------------------------

def _unfinished(session: Session) -> Journal | None:
    try:
        return read_journal(session.system_file)
    except JournalError as err:
        raise Failed(str(err)) from None


def _nothing_unfinished(session: Session) -> RequestError:
    return RequestError(f"no interrupted change to finish or undo (no {journal_path(session.system_file)}) "
                        "and no server waiting for its part of a change")


def _key_for(session: Session, journal: Journal) -> Callable[[str], bytes]:
    def key(name: str) -> bytes:
        system = journal.before if journal.before.cluster(name) else journal.after
        try:
            return cluster_key(session.paths, system, name, session.ssh_settings())
        except RemoteError as err:
            raise Failed(f"{err}; nothing was changed") from None
    return key


def run_finish(session: Session, args, system: System) -> int:
    """The interrupted change if there is one, else what servers that were down still wait for."""
    journal = _unfinished(session)
    if journal is not None:
        return execute(session, recovery.plan_finish(journal, _key_for(session, journal)), recovering=journal)
    try:
        waiting = still_pending(read_pending(session.system_file), system)
    except PendingError as err:
        raise Failed(str(err)) from None
    if not waiting:
        raise _nothing_unfinished(session)
    code = execute(session, plan_pending(waiting, system))
    if code == EXIT_OK:
        done = {entry.server for entry in waiting}
        write_pending(session.system_file, [e for e in read_pending(session.system_file) if e.server not in done])
    return code


def run_undo(session: Session, args, system: System) -> int:
    journal = _unfinished(session)
    if journal is None:
        raise _nothing_unfinished(session)
    return execute(session, recovery.plan_undo(journal, _key_for(session, journal)), recovering=journal)
