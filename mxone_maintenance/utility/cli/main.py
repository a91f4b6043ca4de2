"""The entry point: parse, refuse non-root, open the menus or run one subcommand; errors end in one line.

Every error line is printed by `_error`, which escapes anything not printable in it: whatever a value
holds (typed in, read from a file, said by a server), the technician sees one line and the terminal
takes no control sequence from it. The values inside are escaped and short where they are put into the
message, too (config.shown); this is the one place every line passes.

With --json an error is also one JSON object on stdout, {"ok": false, "error": "<the line>", "exit": N}
(docs/INTERFACES.md), so stdout holds one JSON document whatever happens.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mxone_maintenance.core.config import one_line
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.utility.cli.parser import build_parser
from mxone_maintenance.utility.cli.session import EXIT_FAILED, EXIT_INVALID, Failed, Session, UsageError
from mxone_maintenance.utility.ops.request_error import RequestError
from mxone_maintenance.utility.remote.errors import RemoteError

NO_TERMINAL = ("the menus need a terminal (there is none here); without one, run a subcommand: "
               "mxone_maintenance cluster|server|standby ... (see mxone_maintenance --help)")
PIPE_CLOSED = "the output was closed before everything was printed (broken pipe)"
WARNINGS_FROM = "mxone_maintenance.utility.ops.apply"     # the audit log's warning after a change made


def _error(text: str) -> None:
    try:
        print(f"error: {one_line(text)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):     # stderr itself closed: nothing is left to tell
        pass


def _fail(text: str, code: int, as_json: bool, prefix: str = "error: ") -> int:
    """The error line on stderr and, with --json, the error object on stdout; returns the exit code."""
    if prefix:
        _error(text)
    else:
        try:
            print(one_line(text), file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
    if as_json:
        try:
            print(json.dumps({"ok": False, "error": one_line(text), "exit": code}), flush=True)
        except (OSError, ValueError):
            pass
    return code


def wants_json(argv: Sequence[str]) -> bool:
    """Whether --json is asked for, read from the words themselves (so also when they do not parse);
    argparse takes an unambiguous prefix (--js) as well. Words after `--` are values, not options."""
    words = list(argv)
    if "--" in words:
        words = words[:words.index("--")]
    return any(len(word) > 2 and "--json".startswith(word) for word in words)


class _WarningLine(logging.Handler):
    """A warning of the operations (the audit log could not be written) as one line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"warning: {one_line(record.getMessage())}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass


_WARNINGS = _WarningLine(logging.WARNING)


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


def _has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, OSError, ValueError):
        return False


def _silence_stdout() -> None:
    """After a broken pipe: what is still buffered for stdout goes nowhere (Python would otherwise
    report the pipe once more when it exits)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    logger = logging.getLogger(WARNINGS_FROM)
    if _WARNINGS not in logger.handlers:
        logger.addHandler(_WARNINGS)
    try:
        return _main(argv)
    except BrokenPipeError:
        _silence_stdout()
        _error(PIPE_CLOSED)
        return EXIT_FAILED


def _main(argv: Sequence[str] | None) -> int:
    as_json = wants_json(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        return _fail(str(err), EXIT_INVALID, as_json)
    session = _session(args)
    refusal = refuse_non_root(session.paths)
    if refusal:
        return _fail(refusal.removeprefix("error: "), EXIT_FAILED, args.json)
    if args.group is None:
        if not _has_terminal():
            return _fail(NO_TERMINAL, EXIT_FAILED, args.json)
        from mxone_maintenance.utility.ui.app import run_menus  # urwid loads only for the menus
        return run_menus(session.for_menus())
    try:
        system = session.load_system()
        if getattr(args, "dry_run", None) is False:     # a subcommand that changes something, for real
            session.check_audit_log()
        return args.handler(session, args, system)
    except (RuleViolation, RequestError) as err:
        return _fail(str(err), EXIT_INVALID, args.json)
    except (Failed, RemoteError) as err:       # RemoteError: a server a command needed did not answer
        return _fail(str(err), EXIT_FAILED, args.json)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_FAILED, args.json, prefix="")
    except BrokenPipeError:
        raise                                   # main() says it in its own line, with stdout silenced
    except Exception as err:                    # a bug: one line for the technician, never a traceback
        return _fail(f"internal error ({type(err).__name__}: {err}); please report it with the command line; "
                     f"`mxone_maintenance cluster status` shows where the servers stand", EXIT_FAILED, args.json)
