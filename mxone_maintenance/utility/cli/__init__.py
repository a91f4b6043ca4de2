"""The command line of DESIGN §4: argparse subcommands -> operations (parser, commands, apply_flow,
session; the entry point is `main`).

Exit codes: 0 done, 1 the operation failed (a server, a file), 2 invalid request or a broken rule.
Every changing subcommand shows its plan first; `--dry-run` stops there, `--yes` skips the prompt.
Without a subcommand the menus open.
"""
from __future__ import annotations

from mxone_maintenance.utility.cli.main import main
from mxone_maintenance.utility.cli.session import Session

__all__ = ["Session", "main"]
