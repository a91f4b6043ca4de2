"""The command line's words (DESIGN §4): groups, subcommands, options, help."""
from __future__ import annotations

import argparse
from collections.abc import Callable

from mxone_maintenance.utility.cli import commands
from mxone_maintenance.utility.cli.apply_flow import run_finish, run_undo
from mxone_maintenance.utility.cli.replace_flow import run_server_replace
from mxone_maintenance.utility.cli.session import UsageError

class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (naming the command) instead of the usage block."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


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
    _command(cluster, "list", "list all clusters in the system file", commands.run_list, changing=False)
    _command(cluster, "status", "show where every LIM runs, as the agents report it", commands.run_status, changing=False)
    create = _command(cluster, "create", "create a new cluster", commands.run_create)
    create.add_argument("--name", required=True, help="cluster name")
    create.add_argument("--standby", required=True, metavar="SERVER", help="the standby server")
    create.add_argument("--lim", action="append", required=True, metavar="N:NEW_BASE[:PRIORITY]",
                        help="a LIM, its new base address (the old one becomes the LIM's alias) and priority "
                             "(lower value = higher priority on the standby); repeat for each LIM")
    create.add_argument("--fallback", choices=("automatic", "manual"), default="automatic")
    create.add_argument("--detect-s", metavar="S", help="seconds of silence before a server counts as failed "
                                                       "(default 60; 30 preloaded)")
    create.add_argument("--heartbeat-s", metavar="S", help="seconds between heartbeats (default 1)")
    change = _command(cluster, "change", "change fallback type, priorities or detection time", commands.run_change)
    change.add_argument("--name", required=True)
    change.add_argument("--fallback", choices=("automatic", "manual"))
    change.add_argument("--priority", action="append", default=[], metavar="N=P", help="priority of LIM N")
    change.add_argument("--detect-s", metavar="S")
    preload = _command(cluster, "preload", "change failover behavior to preloaded", commands.run_preload)
    preload.add_argument("--name", required=True)
    add_lim = _command(cluster, "add-lim", "add a LIM to an existing cluster", commands.run_add_lim)
    add_lim.add_argument("--name", required=True)
    add_lim.add_argument("--lim", required=True, metavar="N:NEW_BASE[:PRIORITY]")
    remove_lim = _command(cluster, "remove-lim", "remove a LIM from a cluster (the last LIM deletes it)",
                          commands.run_remove_lim)
    remove_lim.add_argument("--name", required=True)
    remove_lim.add_argument("--lim", required=True, metavar="N")
    delete = _command(cluster, "delete", "delete a cluster", commands.run_delete)
    delete.add_argument("--name", required=True)
    fallback = _command(cluster, "fallback", "move a LIM from the standby back to its regular server", commands.run_fallback)
    fallback.add_argument("--lim", required=True, metavar="N")
    lock = _command(cluster, "lock", "lock a LIM to its regular server or to the standby", commands.run_lock)
    lock.add_argument("--lim", required=True, metavar="N")
    lock.add_argument("--to", required=True, choices=("regular", "standby"))
    unlock = _command(cluster, "unlock", "unlock a LIM", commands.run_unlock)
    unlock.add_argument("--lim", required=True, metavar="N")
    sync = _command(cluster, "sync", "sync exchange data within a cluster", commands.run_sync)
    sync.add_argument("--name", required=True)
    _command(cluster, "finish", "finish a change that an interrupted run left unfinished, or give a server "
                                "that was down its part of a change made without it", run_finish)
    _command(cluster, "undo", "undo a change that an interrupted run left unfinished (the old settings "
                              "come back as a newer generation)", run_undo)

    server = groups.add_parser("server", help="servers in the system").add_subparsers(dest="action",
                                                                                      metavar="ACTION", required=True)
    server_add = _command(server, "add", "add a server to the system (it must answer over SSH)", commands.run_server_add)
    server_add.add_argument("--name", required=True)
    server_add.add_argument("--address", required=True, metavar="IP/PREFIX")
    server_add.add_argument("--lim", metavar="N", help="the LIM it runs (none: a free server)")
    server_remove = _command(server, "remove", "remove a server from the system", commands.run_server_remove)
    server_remove.add_argument("--name", required=True)
    server_replace = _command(
        server, "replace", "give a server rebuilt on new hardware (a new host key, at its address in the "
                           "cluster) everything its cluster needs; the only way a changed host key is accepted",
        run_server_replace)
    server_replace.add_argument("--name", required=True)
    server_replace.add_argument("--host-key", metavar="SHA256:FINGERPRINT",
                                help="the fingerprint the new server's console shows (ssh-keygen -lf "
                                     "/etc/ssh/ssh_host_ed25519_key.pub); needed without a terminal")
    server_replace.epilog = ("example: mxone_maintenance server replace --name lim1 --host-key "
                             "SHA256:n3bm...Q8 --yes")

    standby = groups.add_parser("standby", help="standby servers").add_subparsers(dest="action", metavar="ACTION",
                                                                                 required=True)
    standby_add = _command(standby, "add", "make a free server a standby server", commands.run_standby_add)
    standby_add.add_argument("--server", required=True)
    standby_remove = _command(standby, "remove", "make a standby server free again", commands.run_standby_remove)
    standby_remove.add_argument("--server", required=True)
    return parser
