"""The system file as the shells read it: the command line and the menus load system.yaml through here,
never through the file layer itself."""
from __future__ import annotations

from pathlib import Path

from mxone_maintenance.core import config
from mxone_maintenance.core.model import System


class SystemFileError(Exception):
    """system.yaml cannot be used; str() is one line naming the file (its whole path), line and key."""


def load_system(path: Path) -> System:
    try:
        return config.load_system(Path(path))
    except config.FileError as err:
        raise SystemFileError(str(err)) from None
