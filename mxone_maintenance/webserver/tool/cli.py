"""`webserver_config`: the SNM Configuration Tool. Without a subcommand, the menus; `redundancy ...` for
scripts (DESIGN §9). Exit 0 done, 1 failed (a server, or not confirmed), 2 invalid request or wrong order.
Secrets come from a prompt, or, when stdin is not a terminal, one per line: the mxone_manager password,
then the replication role's password. Never from the command line."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mxone_maintenance.core.config import one_line
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.core.version import VersionAction
from mxone_maintenance.utility.ops.access import ssh_settings
from mxone_maintenance.webserver.tool import plans
from mxone_maintenance.webserver.tool.apply import Secrets
from mxone_maintenance.webserver.tool.flow import Context, Failed, NodeFailed, PairProblem, SetupRequest, apply, \
    ask_both, close, plan_for_setup
from mxone_maintenance.webserver.tool.status import gather, status_document, status_lines

PROG = "webserver_config"
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
EXAMPLES = """examples:
  webserver_config
  webserver_config redundancy status
  webserver_config redundancy setup --role master --virtual-ip 10.77.0.50 --replication-user replicator
  webserver_config redundancy setup --role standby --virtual-ip 10.77.0.50 --replication-user replicator
  webserver_config redundancy setup --role master --virtual-ip 10.77.0.50 --replication-user replicator --yes
  webserver_config redundancy fallback --yes
  webserver_config redundancy remove --role master --yes
  webserver_config redundancy remove --role standby --yes

Without a terminal the secrets are read from stdin, one per line: the mxone_manager password, then the
replication role's password (e.g. printf '%s\\n' "$MANAGER_PW" "$REPL_PW" | webserver_config ... --yes).

exit status:
  0  done
  1  the operation failed (a server, a file; or the plan was not confirmed)
  2  invalid request, or the wrong order (master first, then standby); nothing was changed
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="SNM Configuration Tool: PM/SNM redundancy between the Master "
                     "server (LIM 1's) and the cluster's standby.", epilog=EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=VersionAction, program=PROG)
    parser.add_argument("--system", metavar="FILE", help="the system file (default: $MXONE_SYSTEM or "
                        "/etc/opt/eri_sn/system.yaml under --root)")
    parser.add_argument("--root", metavar="DIR", help="prefix for every product path (a test tree)")
    groups = parser.add_subparsers(dest="group", parser_class=_Parser)
    redundancy = groups.add_parser("redundancy", help="PM/SNM redundancy", epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = redundancy.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    status = verbs.add_parser("status", help="CheckStatus: keepalived, SNM, virtual IP, database per server")
    status.add_argument("--json", action="store_true")
    for name, text in (("setup", "Master or Standby configuration"),
                       ("reconfigure", "set again (master first, then standby)"),
                       ("remove", "Remove Redundancy (master first, then standby)")):
        verb = verbs.add_parser(name, help=text, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
        verb.add_argument("--role", choices=("master", "standby"), required=True)
        if name != "remove":
            verb.add_argument("--virtual-ip", metavar="IP", required=name == "setup")
            verb.add_argument("--replication-user", metavar="NAME", required=name == "setup")
        _changing(verb)
    _changing(verbs.add_parser("fallback", help="move PM/SNM back to the master (manual fallback)"))
    _changing(verbs.add_parser("reconfigure-fallback", help="make PM/SNM's fallback type the cluster's"))
    return parser


def _changing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--json", action="store_true", help="the result as JSON on stdout")


def interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def ask(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not interactive():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _prompted(what: str) -> str:
    for _ in range(3):
        first = getpass.getpass(f"New password for {what}: ")
        if first and first == getpass.getpass(f"Confirm the password for {what}: "):
            return first
        print("The passwords are empty or differ; again.", file=sys.stderr)
    raise Failed(f"no password for {what} was confirmed; nothing was changed")


def read_secrets() -> Secrets:
    if interactive():
        return Secrets(_prompted("mxone_manager"), _prompted("the replication role"))
    lines = [sys.stdin.readline().rstrip("\n") for _ in range(2)]
    for value, what in zip(lines, ("the mxone_manager password", "the replication role's password")):
        if not value:
            raise UsageError(f"no {what} on stdin (one per line: the mxone_manager password, then the "
                             "replication role's password)")
    return Secrets(*lines)


def context_for(args) -> Context:
    paths = Paths.from_env(args.root)
    system_file = Path(args.system or os.environ.get("MXONE_SYSTEM") or paths.system_file)
    return Context(system_file, ssh_settings(False))


def progress(server: str, message: str) -> None:
    print(f"  {one_line(server)}: {one_line(message)}", flush=True)


def show_and_confirm(plan: plans.Plan, args) -> bool:
    for line in plan.lines():
        print(one_line(line))
    if args.dry_run:
        print("(dry run: nothing was changed)")
        return False
    if not ask(plan.confirm, args.yes):
        raise Failed("not applied: not confirmed" + ("" if interactive() else " (no terminal: give --yes)"))
    return True


def run_redundancy(args) -> int:
    context = context_for(args)
    pair = context.pair()
    clients = context.clients(pair)
    try:
        if args.verb == "status":
            answered = gather(clients)
            if args.json:
                print(json.dumps(status_document(pair, answered), indent=2))
            else:
                print("\n".join(one_line(line) for line in status_lines(pair, answered)))
            return EXIT_OK if not answered.silent else EXIT_FAILED
        plan, secrets = build_plan(args, context, pair, clients)
        if show_and_confirm(plan, args):
            apply(plan, clients, secrets, progress)
            print(f"{plan.title.rstrip(':')}: done")
        return EXIT_OK
    finally:
        close(clients)


def build_plan(args, context: Context, pair, clients) -> tuple[plans.Plan, Secrets]:
    if args.verb in ("setup", "reconfigure"):
        request = SetupRequest(args.role, args.virtual_ip, args.replication_user, args.verb == "reconfigure")
        secrets = Secrets() if args.dry_run else read_secrets()
        plan = plan_for_setup(context, pair, clients, request,
                              install=lambda name: ask(f"SNM is not installed on {name}. Install it now?", args.yes),
                              restart=lambda: ask("Re-start webserver now?", args.yes))
        return plan, secrets
    facts = ask_both(clients).facts
    if args.verb == "remove":
        return plans.plan_remove(pair, args.role, facts), Secrets()
    if args.verb == "fallback":
        return plans.plan_fallback(pair, facts), Secrets()
    return plans.plan_fallback_type(pair, facts), Secrets()


def fail(text: str, code: int, as_json: bool) -> int:
    print(f"error: {one_line(text)}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps({"ok": False, "error": one_line(text), "exit": code}))
    return code


NO_TERMINAL = ("the menus need a terminal (there is none here); without one, run a subcommand: "
               "webserver_config redundancy ... (see webserver_config --help)")


def _has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, OSError, ValueError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in words
    try:
        args = build_parser().parse_args(words)
        if os.geteuid() != 0 and not Paths.from_env(args.root).is_test_tree:
            return fail("webserver_config must be run as root (sudo)", EXIT_FAILED, as_json)
        if args.group is None:
            if not _has_terminal():
                return fail(NO_TERMINAL, EXIT_INVALID, as_json)
            from mxone_maintenance.webserver.tool.menus import run_menus
            return run_menus(context_for(args))
        return run_redundancy(args)
    except UsageError as exc:
        return fail(str(exc), EXIT_INVALID, as_json)
    except PairProblem as exc:
        return fail(str(exc), EXIT_INVALID, as_json)
    except (Failed, NodeFailed) as exc:
        return fail(str(exc), EXIT_FAILED, as_json)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_FAILED, as_json)
    except (EOFError, BrokenPipeError):
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
