"""What every subcommand shares: the session (paths, output, whether to ask), exit codes, the errors
that end a command with one line."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mxone_maintenance.core.config import one_line
from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops.access import SshSettings, ssh_settings
from mxone_maintenance.utility.ops.inventory import SystemFileError, load_system
from mxone_maintenance.utility.ui.session import MenuSession

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Bad command-line words (exit 2); str() is the one line to print."""


class Failed(Exception):
    """The operation could not be done (exit 1); str() is the one line to print."""


def printable(text: str) -> str:
    """Text for the terminal: its lines kept, anything else that is not printable escaped (a value that
    came from a server or a file can never clear the screen or forge a line)."""
    return "\n".join(one_line(line) for line in text.split("\n"))


def audit_log_problem(log: Path) -> str | None:
    """Why a line could not be appended to the audit log (None: it can). Checked before a change: a
    change is never made that its audit line cannot follow. Creates nothing."""
    if log.exists() or log.is_symlink():
        if not log.is_file():
            return f"{log} is not a plain file"
        return None if os.access(log, os.W_OK) else f"{log} is not writable"
    folder = log.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    return None if os.access(folder, os.W_OK | os.X_OK) else f"{folder} is not writable"


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

    def check_audit_log(self) -> None:
        problem = audit_log_problem(self.paths.audit_log)
        if problem:
            raise Failed(f"cannot write the audit log: {problem}; nothing was changed")

    def say(self, text: str) -> None:
        print(printable(text), file=self.out, flush=True)

    def ssh_settings(self) -> SshSettings:
        return ssh_settings(self.accept_new_host_key)

    def for_menus(self) -> MenuSession:
        return MenuSession(paths=self.paths, system_file=self.system_file, ssh_settings=self.ssh_settings)

    def progress(self, server: str, message: str) -> None:
        """A line while a change is applied. An output that went away (a closed pipe) does not stop the
        change half-way: the line is lost, the change goes on, and the result's line fails instead."""
        try:
            print(printable(f"  {server}: {message}"), file=self.err if self.json else self.out, flush=True)
        except BrokenPipeError:
            pass
