"""The system file as the menus see it: read again only when it changed on disk."""
from __future__ import annotations

from pathlib import Path

from mxone_maintenance.utility.ops.inventory import SystemFileError, load_system
from mxone_maintenance.utility.ui.availability import SystemOrError


class SystemSource:
    """Called, gives the system, or the one short line why it cannot be read.

    The line fits a menu box (the file named by its base name, e.g. "System file system.yaml: no such
    file"); `detail` keeps the full message with the whole path for the notice shown at start."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key: object = object()
        self._value: SystemOrError = ""
        self.detail = ""

    def __call__(self) -> SystemOrError:
        try:
            stat = self.path.stat()
            key: object = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError:
            key = None
        if key != self._key:
            try:
                self._value = load_system(self.path)
            except SystemFileError as err:
                self.detail = f"System file: {err}"
                self._value = f"System file {str(err).replace(str(self.path), self.path.name, 1)}"
            self._key = key
        return self._value
