"""What the menus need from the shell that opens them (the command line fills it)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops.access import SshSettings


@dataclass(frozen=True)
class MenuSession:
    paths: Paths
    system_file: Path
    ssh_settings: Callable[[], SshSettings]     # called only in a worker, when a server is to be asked
