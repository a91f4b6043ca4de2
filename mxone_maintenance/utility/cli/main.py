"""The entry point: parse, refuse non-root, open the menus or run one subcommand; errors end in one line."""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mxone_maintenance.core.paths import Paths
from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.utility.cli.parser import build_parser
from mxone_maintenance.utility.cli.session import EXIT_FAILED, EXIT_INVALID, Failed, Session, UsageError
from mxone_maintenance.utility.ops.requests import RequestError

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
