"""The command line of DESIGN §4: argparse subcommands -> operations.

Exit codes: 0 done, 1 the operation failed (a server, a file), 2 invalid request or a broken rule.
Every changing subcommand shows its plan first; `--dry-run` stops there, `--yes` skips the prompt.
Without a subcommand the menus open.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops import proposals
from mxone_maintenance.utility.ops import servers as server_ops
from mxone_maintenance.utility.ops.access import SshSettings, ssh_settings
from mxone_maintenance.utility.ops.cluster_keys import new_cluster_key
from mxone_maintenance.utility.ops.inventory import SystemFileError, load_system
from mxone_maintenance.utility.ops.plan import Plan, catch_up_words
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ops.requests import (
    AddLim,
    AddServer,
    AddStandby,
    ChangeCluster,
    CreateCluster,
    DeleteCluster,
    LockLim,
    PreloadCluster,
    RemoveLim,
    RemoveServer,
    RemoveStandby,
    RequestError,
    UnlockLim,
    parse_int,
    parse_lim_spec,
    parse_priority_assignment,
    parse_seconds,
)
from mxone_maintenance.utility.ops.views import clusters_data, clusters_text
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.ui.session import MenuSession

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Bad command-line words (exit 2); str() is the one line to print."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (naming the command) instead of the usage block."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


class Failed(Exception):
    """The operation could not be done (exit 1); str() is the one line to print."""


@dataclass
class Session:
    """Everything a subcommand needs: where the files are, how to print, whether to ask."""
    paths: Paths
    system_file: Path
    json: bool
    dry_run: bool
    yes: bool
    accept_new_host_key: bool
    allow_down: frozenset[str] = frozenset()
    out: TextIO = field(default_factory=lambda: sys.stdout)    # looked up when used, so redirection works
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def load_system(self) -> System:
        try:
            return load_system(self.system_file)
        except SystemFileError as err:
            raise Failed(str(err)) from None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def ssh_settings(self) -> SshSettings:
        return ssh_settings(self.accept_new_host_key)

    def for_menus(self) -> MenuSession:
        return MenuSession(paths=self.paths, system_file=self.system_file, ssh_settings=self.ssh_settings)

    def progress(self, server: str, message: str) -> None:
        print(f"  {server}: {message}", file=self.err if self.json else self.out, flush=True)


# --- argument parsing ------------------------------------------------------------------------------

def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    """Global options, accepted before or after the subcommand."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--system", metavar="FILE", default=default,
                        help="the system file (default: $MXONE_SYSTEM or /etc/opt/eri_sn/system.yaml under --root)")
    parser.add_argument("--root", metavar="DIR", default=default,
                        help="prefix for every product path (a test tree); also $MXONE_ROOT")
    parser.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="print JSON instead of text")
    parser.add_argument("--accept-new-host-key", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="trust and record the host key of a server not yet in known_hosts (never a changed key)")


def _changing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--allow-down", action="append", default=[], metavar="SERVER",
                        help="apply although SERVER does not answer (repeatable); it takes the new cluster.yaml "
                             "from its peers when it is back")


def _command(subparsers, name: str, help_text: str, handler: Callable, changing: bool = True):
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    _common(parser, top=False)
    if changing:
        _changing(parser)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mxone_maintenance",
        description="MX-ONE server redundancy: set up, change and watch clusters of regular servers and a "
                    "standby server. Without a subcommand the menus open. Run as root: "
                    "sudo -H /opt/mxone_install/bin/mxone_maintenance",
        epilog="Exit codes: 0 done, 1 the operation failed, 2 invalid request or a broken rule.")
    _common(parser, top=True)
    groups = parser.add_subparsers(dest="group", metavar="{cluster,server,standby}")

    cluster = groups.add_parser("cluster", help="cluster handling").add_subparsers(dest="action", metavar="ACTION",
                                                                                   required=True)
    _command(cluster, "list", "list all clusters in the system file", run_list, changing=False)
    _command(cluster, "status", "show where every LIM runs, as the agents report it", run_status, changing=False)
    create = _command(cluster, "create", "create a new cluster", run_create)
    create.add_argument("--name", required=True, help="cluster name")
    create.add_argument("--standby", required=True, metavar="SERVER", help="the standby server")
    create.add_argument("--lim", action="append", required=True, metavar="N:NEW_BASE[:PRIORITY]",
                        help="a LIM, its new base address (the old one becomes the LIM's alias) and priority "
                             "(lower value = higher priority on the standby); repeat for each LIM")
    create.add_argument("--fallback", choices=("automatic", "manual"), default="automatic")
    create.add_argument("--detect-s", metavar="S", help="seconds of silence before a server counts as failed "
                                                       "(default 60; 30 preloaded)")
    create.add_argument("--heartbeat-s", metavar="S", help="seconds between heartbeats (default 1)")
    change = _command(cluster, "change", "change fallback type, priorities or detection time", run_change)
    change.add_argument("--name", required=True)
    change.add_argument("--fallback", choices=("automatic", "manual"))
    change.add_argument("--priority", action="append", default=[], metavar="N=P", help="priority of LIM N")
    change.add_argument("--detect-s", metavar="S")
    preload = _command(cluster, "preload", "change failover behavior to preloaded", run_preload)
    preload.add_argument("--name", required=True)
    add_lim = _command(cluster, "add-lim", "add a LIM to an existing cluster", run_add_lim)
    add_lim.add_argument("--name", required=True)
    add_lim.add_argument("--lim", required=True, metavar="N:NEW_BASE[:PRIORITY]")
    remove_lim = _command(cluster, "remove-lim", "remove a LIM from a cluster (the last LIM deletes it)",
                          run_remove_lim)
    remove_lim.add_argument("--name", required=True)
    remove_lim.add_argument("--lim", required=True, metavar="N")
    delete = _command(cluster, "delete", "delete a cluster", run_delete)
    delete.add_argument("--name", required=True)
    fallback = _command(cluster, "fallback", "move a LIM from the standby back to its regular server", run_fallback)
    fallback.add_argument("--lim", required=True, metavar="N")
    lock = _command(cluster, "lock", "lock a LIM to its regular server or to the standby", run_lock)
    lock.add_argument("--lim", required=True, metavar="N")
    lock.add_argument("--to", required=True, choices=("regular", "standby"))
    unlock = _command(cluster, "unlock", "unlock a LIM", run_unlock)
    unlock.add_argument("--lim", required=True, metavar="N")
    sync = _command(cluster, "sync", "sync exchange data within a cluster", run_sync)
    sync.add_argument("--name", required=True)

    server = groups.add_parser("server", help="servers in the system").add_subparsers(dest="action",
                                                                                      metavar="ACTION", required=True)
    server_add = _command(server, "add", "add a server to the system (it must answer over SSH)", run_server_add)
    server_add.add_argument("--name", required=True)
    server_add.add_argument("--address", required=True, metavar="IP/PREFIX")
    server_add.add_argument("--lim", metavar="N", help="the LIM it runs (none: a free server)")
    server_remove = _command(server, "remove", "remove a server from the system", run_server_remove)
    server_remove.add_argument("--name", required=True)

    standby = groups.add_parser("standby", help="standby servers").add_subparsers(dest="action", metavar="ACTION",
                                                                                 required=True)
    standby_add = _command(standby, "add", "make a free server a standby server", run_standby_add)
    standby_add.add_argument("--server", required=True)
    standby_remove = _command(standby, "remove", "make a standby server free again", run_standby_remove)
    standby_remove.add_argument("--server", required=True)
    return parser


# --- subcommands -------------------------------------------------------------------------------------

def _int_arg(text: str | None, what: str, low: int = 1, high: int = 99) -> int | None:
    return None if text is None else parse_int(text, what, low, high)


def _seconds_arg(text: str | None, what: str, low: float, high: float) -> float | None:
    return None if text is None else parse_seconds(text, what, low, high)


def run_list(session: Session, args, system: System) -> int:
    session.say(json.dumps(clusters_data(system), indent=2) if session.json else clusters_text(system))
    return EXIT_OK


def run_status(session: Session, args, system: System) -> int:
    from mxone_maintenance.utility.ops.status import collect_status, for_status, status_text
    report = collect_status(system, for_status(session.ssh_settings()))
    session.say(json.dumps(report.to_json(), indent=2) if session.json else status_text(report))
    return EXIT_OK if report.complete else EXIT_FAILED


def _final(session: Session, proposal: Proposal) -> Plan:
    """The plan made again with what the servers say (the cluster key, what runs on the standby); not in
    a dry run: that changes nothing and asks nobody."""
    if session.dry_run:
        return proposal.plan
    try:
        return proposal.final(session.paths, session.ssh_settings())
    except RemoteError as err:
        raise Failed(f"{err}; nothing was changed") from None


def run_create(session: Session, args, system: System) -> int:
    request = CreateCluster(name=args.name, standby=args.standby, lims=tuple(parse_lim_spec(t) for t in args.lim),
                            fallback=args.fallback,
                            detect_s=_seconds_arg(args.detect_s, "detect_s", 0.3, 3600),
                            heartbeat_s=_seconds_arg(args.heartbeat_s, "heartbeat_s", 0.1, 60))
    return _execute(session, cluster_ops.plan_create(system, request, new_cluster_key()))


def run_change(session: Session, args, system: System) -> int:
    request = ChangeCluster(name=args.name, fallback=args.fallback,
                            priorities=tuple(parse_priority_assignment(t) for t in args.priority),
                            detect_s=_seconds_arg(args.detect_s, "detect_s", 0.3, 3600))
    return _execute(session, cluster_ops.plan_change(system, request))


def run_preload(session: Session, args, system: System) -> int:
    return _execute(session, cluster_ops.plan_preload(system, PreloadCluster(args.name)))


def run_add_lim(session: Session, args, system: System) -> int:
    request = AddLim(args.name, parse_lim_spec(args.lim))
    return _execute(session, _final(session, proposals.propose_add_lim(system, request)))


def run_remove_lim(session: Session, args, system: System) -> int:
    request = RemoveLim(args.name, _int_arg(args.lim, "LIM number"))
    return _execute(session, _final(session, proposals.propose_remove_lim(system, request)))


def run_delete(session: Session, args, system: System) -> int:
    return _execute(session, _final(session, proposals.propose_delete(system, DeleteCluster(args.name))))


def run_fallback(session: Session, args, system: System) -> int:
    lim = _int_arg(args.lim, "LIM number")
    return _execute(session, _final(session, proposals.propose_fallback(system, lim)))


def run_lock(session: Session, args, system: System) -> int:
    return _execute(session, cluster_ops.plan_lock(system, LockLim(_int_arg(args.lim, "LIM number"), args.to)))


def run_unlock(session: Session, args, system: System) -> int:
    return _execute(session, cluster_ops.plan_unlock(system, UnlockLim(_int_arg(args.lim, "LIM number"))))


def run_sync(session: Session, args, system: System) -> int:
    return _execute(session, cluster_ops.plan_sync(system, args.name))


def run_server_add(session: Session, args, system: System) -> int:
    request = AddServer(args.name, args.address, _int_arg(args.lim, "LIM number"))
    return _execute(session, server_ops.plan_add_server(system, request))


def run_server_remove(session: Session, args, system: System) -> int:
    return _execute(session, server_ops.plan_remove_server(system, RemoveServer(args.name)))


def run_standby_add(session: Session, args, system: System) -> int:
    return _execute(session, server_ops.plan_add_standby(system, AddStandby(args.server)))


def run_standby_remove(session: Session, args, system: System) -> int:
    return _execute(session, server_ops.plan_remove_standby(system, RemoveStandby(args.server)))


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


def _execute(session: Session, plan: Plan) -> int:
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
                        allow_down=session.allow_down)
    if session.json:
        session.say(json.dumps({"plan": plan.to_json(), "applied": result.ok, "result": result.to_json()}, indent=2))
    else:
        session.say(result.text())
    return EXIT_OK if result.ok else EXIT_FAILED


# --- entry point -----------------------------------------------------------------------------------------

def _session(args) -> Session:
    paths = Paths.from_env(args.root)
    system_file = Path(args.system or os.environ.get("MXONE_SYSTEM") or paths.system_file)
    return Session(paths=paths, system_file=system_file, json=args.json, dry_run=getattr(args, "dry_run", False),
                   yes=getattr(args, "yes", False), accept_new_host_key=args.accept_new_host_key,
                   allow_down=frozenset(getattr(args, "allow_down", ())))


def refuse_non_root(paths: Paths) -> str | None:
    """Only root may run the utility; a test tree given with --root is the one exception."""
    if os.geteuid() == 0 or paths.is_test_tree:
        return None
    return "error: mxone_maintenance must be run as root: sudo -H /opt/mxone_install/bin/mxone_maintenance"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INVALID
    session = _session(args)
    refusal = refuse_non_root(session.paths)
    if refusal:
        print(refusal, file=sys.stderr)
        return EXIT_FAILED
    if args.group is None:
        from mxone_maintenance.utility.ui.app import run_menus  # urwid loads only for the menus
        return run_menus(session.for_menus())
    try:
        system = session.load_system()
        return args.handler(session, args, system)
    except (RuleViolation, RequestError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INVALID
    except Failed as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
