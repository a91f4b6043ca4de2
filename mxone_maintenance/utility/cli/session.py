"""What every subcommand shares: the session (paths, output, whether to ask), exit codes, the errors
that end a command with one line."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

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
