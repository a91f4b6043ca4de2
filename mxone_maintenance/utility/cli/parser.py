"""The command line's words (DESIGN §4): groups, subcommands, options, help with examples.

scripts/gen-manuals builds the man page and the bash completion from `build_parser()`, so every word
and example here is documented there too; the examples of each --help are taken as they are written.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

import importlib

from mxone_maintenance.core.version import VersionAction
from mxone_maintenance.utility.cli.session import EXIT_FAILED, EXIT_INVALID, EXIT_OK, UsageError

PROG = "mxone_maintenance"
EXIT_STATUS = ((EXIT_OK, "done"),
               (EXIT_FAILED, "the operation failed (a server, a file; or the plan was not confirmed)"),
               (EXIT_INVALID, "invalid request or a broken rule; no server was touched"))
FALLBACK_HELP = "automatic: a LIM goes back to its regular server as soon as that answers again; " \
                "manual: only with `cluster fallback`"


def _lazy(module: str, name: str) -> Callable:
    """A subcommand's handler, imported when it runs: `cluster status` must not load the planning code
    or paramiko (it answers from the local agent in a few milliseconds)."""
    def handler(session, args, system):
        return getattr(importlib.import_module(f"mxone_maintenance.utility.cli.{module}"), name)(session, args, system)
    handler.__name__ = name
    return handler


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (naming the command) instead of the usage block."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


class _Help(argparse.HelpFormatter):
    """Wraps one-line texts to the terminal; keeps a text of several lines (the epilog) as it is written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))


def epilog(*examples: str) -> str:
    """The end of a --help: example command lines, then the exit codes."""
    lines = ["examples:", *(f"  {PROG} {example}".rstrip() for example in examples), "", "exit status:"]
    lines += [f"  {code}  {meaning}" for code, meaning in EXIT_STATUS]
    return "\n".join(lines)


# --- argument parsing ------------------------------------------------------------------------------

def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    """Global options, accepted before or after the subcommand."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--system", metavar="FILE", default=default,
                        help="the system file (default: $MXONE_SYSTEM or /etc/opt/eri_sn/system.yaml under --root)")
    parser.add_argument("--root", metavar="DIR", default=default,
                        help="prefix for every product path (a test tree); also $MXONE_ROOT")
    parser.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="print JSON instead of text (errors too: one object on stdout)")
    parser.add_argument("--accept-new-host-key", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="trust and record the host key of a server not yet in known_hosts (never a changed key)")


def _changing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--allow-down", action="append", default=[], metavar="SERVER",
                        help="apply although SERVER does not answer (repeatable); it takes the new cluster.yaml "
                             "from its peers when it is back")


def _command(subparsers, name: str, help_text: str, handler: Callable, examples: tuple[str, ...],
             changing: bool = True) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text, epilog=epilog(*examples),
                                   formatter_class=_Help)
    _common(parser, top=False)
    if changing:
        _changing(parser)
    parser.set_defaults(handler=handler)
    return parser


def _group(groups, name: str, help_text: str, examples: tuple[str, ...]):
    parser = groups.add_parser(name, help=help_text, description=help_text, epilog=epilog(*examples),
                               formatter_class=_Help)
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True)


def _name(parser: argparse.ArgumentParser, what: str = "the cluster") -> None:
    parser.add_argument("--name", required=True, help=what)


def _lim(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--lim", required=True, metavar="N", help=what)


def _cluster_commands(cluster) -> None:
    _command(cluster, "list", "list all clusters in the system file", _lazy("look_commands", "run_list"),
             ("cluster list", "--json cluster list"), changing=False)
    _command(cluster, "status", "show where every LIM runs, as the agents report it", _lazy("look_commands", "run_status"),
             ("cluster status", "cluster status --json"), changing=False)
    history = _command(cluster, "history", "show every member's events (takeovers, fallbacks, alarms, ...) "
                                           "merged in time order; read over SSH, also from a member whose agent "
                                           "is down", _lazy("look_commands", "run_history"),
                       ("cluster history", "cluster history --name c1 --since 2h",
                        "cluster history --since 2026-12-01T08:00 --json"), changing=False)
    history.add_argument("--name", help="only this cluster's members (default: every cluster)")
    history.add_argument("--since", metavar="TIME", help="only events since TIME: 10m, 2h, 1d back from now, or "
                                                         "an ISO time such as 2026-12-01T10:00 (local time)")
    create = _command(cluster, "create", "create a new cluster", _lazy("commands", "run_create"),
                      ("cluster create --name c1 --standby sb1 --lim 1:10.77.0.111 --lim 2:10.77.0.112:2 --dry-run",
                       "cluster create --name c1 --standby sb1 --lim 1:10.77.0.111 --fallback manual --yes"))
    _name(create, "name of the new cluster")
    create.add_argument("--standby", required=True, metavar="SERVER", help="the standby server")
    create.add_argument("--lim", action="append", required=True, metavar="N:NEW_BASE[:PRIORITY]",
                        help="a LIM, its new base address (the old one becomes the LIM's alias) and priority "
                             "(lower value = higher priority on the standby); repeat for each LIM")
    create.add_argument("--fallback", choices=("automatic", "manual"), default="automatic",
                        help=FALLBACK_HELP + " (default automatic)")
    create.add_argument("--detect-s", metavar="S", help="seconds of silence before a server counts as failed "
                                                       "(default 60; 30 preloaded)")
    create.add_argument("--heartbeat-s", metavar="S", help="seconds between heartbeats (default 1)")
    create.add_argument("--hold-s", metavar="S", help="fallback hold time: how long a returned regular must be heard before automatic fallback (default: 3 heartbeats, at least 2 s)")
    change = _command(cluster, "change", "change fallback type, priorities, detection or hold time", _lazy("commands", "run_change"),
                      ("cluster change --name c1 --fallback manual --dry-run",
                       "cluster change --name c1 --priority 1=1 --priority 2=3 --detect-s 30 --yes"))
    _name(change)
    change.add_argument("--fallback", choices=("automatic", "manual"), help=FALLBACK_HELP)
    change.add_argument("--priority", action="append", default=[], metavar="N=P",
                        help="priority P of LIM N (lower value = higher priority on the standby); repeatable")
    change.add_argument("--detect-s", metavar="S", help="seconds of silence before a server counts as failed")
    change.add_argument("--hold-s", metavar="S", help="fallback hold time: how long a returned regular must be heard before automatic fallback (default: 3 heartbeats, at least 2 s)")
    preload = _command(cluster, "preload", "change failover behavior to preloaded", _lazy("commands", "run_preload"),
                       ("cluster preload --name c1 --dry-run",))
    _name(preload, "the cluster (one regular server and the standby)")
    add_lim = _command(cluster, "add-lim", "add a LIM to an existing cluster", _lazy("commands", "run_add_lim"),
                       ("cluster add-lim --name c1 --lim 3:10.77.0.113:3 --yes",))
    _name(add_lim)
    add_lim.add_argument("--lim", required=True, metavar="N:NEW_BASE[:PRIORITY]",
                         help="the LIM, its new base address (the old one becomes its alias) and priority")
    remove_lim = _command(cluster, "remove-lim", "remove a LIM from a cluster (the last LIM deletes it)",
                          _lazy("commands", "run_remove_lim"),
                          ("cluster remove-lim --name c1 --lim 3 --dry-run",
                           "cluster remove-lim --name c1 --lim 3 --allow-down lim3 --yes"))
    _name(remove_lim)
    _lim(remove_lim, "the LIM to remove")
    delete = _command(cluster, "delete", "delete a cluster", _lazy("commands", "run_delete"), ("cluster delete --name c1 --yes",))
    _name(delete, "the cluster to delete")
    fallback = _command(cluster, "fallback", "move a LIM from the standby back to its regular server",
                        _lazy("commands", "run_fallback"), ("cluster fallback --lim 2 --yes",))
    _lim(fallback, "the LIM that runs on the standby")
    lock = _command(cluster, "lock", "lock a LIM to its regular server or to the standby", _lazy("commands", "run_lock"),
                    ("cluster lock --lim 2 --to regular --yes", "cluster lock --lim 2 --to standby --dry-run"))
    _lim(lock, "the LIM to lock")
    lock.add_argument("--to", required=True, choices=("regular", "standby"),
                      help="where the LIM stays until it is unlocked")
    unlock = _command(cluster, "unlock", "unlock a LIM", _lazy("commands", "run_unlock"), ("cluster unlock --lim 2 --yes",))
    _lim(unlock, "the locked LIM")
    pause = _command(cluster, "pause", "maintenance mode: every agent keeps serving what it serves and takes "
                                       "no decision (no takeover, fallback or yield) until resumed or M minutes "
                                       "have passed", _lazy("commands", "run_pause"),
                     ("cluster pause --name c1 --minutes 30 --yes", "cluster pause --name c1 --dry-run"))
    _name(pause)
    pause.add_argument("--minutes", metavar="M", default="60", help="the pause ends by itself after M minutes "
                                                                    "(default 60)")
    resume = _command(cluster, "resume", "end maintenance mode: the agents decide again by the cluster's rules",
                      _lazy("commands", "run_resume"), ("cluster resume --name c1 --yes",))
    _name(resume)
    reboot = _command(cluster, "reboot", "guided reboot of a cluster server: lock its LIM to it, reboot it, wait "
                                         "until it and its LIM are back, unlock", _lazy("commands", "run_reboot"),
                      ("cluster reboot --server lim1 --yes", "cluster reboot --server sb1 --move-back --yes",
                       "cluster reboot --server lim2 --dry-run"))
    reboot.add_argument("--server", required=True, metavar="SERVER", help="the server to reboot")
    reboot.add_argument("--move-back", action="store_true",
                        help="the standby only: move the LIM it serves back to its regular first")
    reboot.add_argument("--wait-s", metavar="S", default="900",
                        help="how long to wait for the server to come back (default 900)")
    sync = _command(cluster, "sync", "sync exchange data within a cluster", _lazy("commands", "run_sync"),
                    ("cluster sync --name c1 --yes",))
    _name(sync)
    _command(cluster, "finish", "finish a change that an interrupted run left unfinished, or give a server "
                                "that was down its part of a change made without it", _lazy("apply_flow", "run_finish"),
             ("cluster finish --dry-run", "cluster finish --yes"))
    _command(cluster, "undo", "undo a change that an interrupted run left unfinished (the old settings "
                              "come back as a newer generation)", _lazy("apply_flow", "run_undo"), ("cluster undo --yes",))


def _server_commands(server, standby) -> None:
    server_add = _command(server, "add", "add a server to the system (it must answer over SSH)",
                          _lazy("commands", "run_server_add"),
                          ("server add --name lim3 --address 10.77.0.13/24 --lim 3 --yes",
                           "server add --name sb2 --address 10.77.0.21/24 --accept-new-host-key --yes"))
    server_add.add_argument("--name", required=True, help="the server's name (its host name)")
    server_add.add_argument("--address", required=True, metavar="IP/PREFIX",
                            help="its address on the cluster subnet, with the prefix length")
    server_add.add_argument("--lim", metavar="N", help="the LIM it runs (none: a free server)")
    server_remove = _command(server, "remove", "remove a server from the system", _lazy("commands", "run_server_remove"),
                             ("server remove --name lim3 --yes",))
    server_remove.add_argument("--name", required=True, help="the server to remove (in no cluster)")
    server_replace = _command(
        server, "replace", "give a server rebuilt on new hardware (a new host key, at its address in the "
                           "cluster) everything its cluster needs; the only way a changed host key is accepted",
        _lazy("replace_flow", "run_server_replace"), ("server replace --name lim1 --host-key SHA256:n3bm...Q8 --yes",))
    server_replace.add_argument("--name", required=True, help="the rebuilt server")
    server_replace.add_argument("--host-key", metavar="SHA256:FINGERPRINT",
                                help="the fingerprint the new server's console shows (ssh-keygen -lf "
                                     "/etc/ssh/ssh_host_ed25519_key.pub); needed without a terminal")
    standby_add = _command(standby, "add", "make a free server a standby server", _lazy("commands", "run_standby_add"),
                           ("standby add --server sb2 --yes",))
    standby_add.add_argument("--server", required=True, help="the free server")
    standby_remove = _command(standby, "remove", "make a standby server free again", _lazy("commands", "run_standby_remove"),
                              ("standby remove --server sb2 --dry-run",))
    standby_remove.add_argument("--server", required=True, help="the standby server (in no cluster)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, formatter_class=_Help,
        description="MX-ONE server redundancy: set up, change and watch clusters of regular servers and a "
                    "standby server. Without a subcommand the menus open. Run as root: "
                    "sudo -H /opt/mxone_install/bin/mxone_maintenance",
        epilog=epilog("", "cluster status", "cluster create --name c1 --standby sb1 --lim 1:10.77.0.111 --dry-run",
                      "--json cluster list", "cluster create --help"))
    _common(parser, top=True)
    parser.add_argument("--version", action=VersionAction, program=PROG, help="print the version and exit")
    groups = parser.add_subparsers(dest="group", metavar="{cluster,server,standby}")
    _cluster_commands(_group(groups, "cluster", "cluster handling", ("cluster list", "cluster create --help")))
    _server_commands(_group(groups, "server", "servers in the system", ("server add --help",)),
                     _group(groups, "standby", "standby servers", ("standby add --server sb2 --yes",)))
    return parser
