"""The agent's event history: one JSON line per event (core/contracts/events.py) appended to
`/var/opt/eri_sn/agent/events.jsonl` (Paths.events_file, under --root), kept across restarts.

Bounded: once the file passes MAX_BYTES (1 MiB) it is renamed to `events.jsonl.1` (the one older
generation kept, the one before it dropped) and a new file begun, so both together stay under about
2 MiB. Each line is one write(2) on an O_APPEND descriptor (no fsync: an event lost in a power cut is
no reason to wait for the disk in the agent's loop). `read()` reads both files in time order and skips
damaged lines (a line cut by a crash, a disk error); the utility reads the same two files over SFTP.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from mxone_maintenance.core.contracts.events import Event, event_line, parse_events

log = logging.getLogger("mxone-cluster-agent")

MAX_BYTES = 1024 * 1024
OLD_SUFFIX = ".1"
READ_TRIES = 3


def old_file(path: Path) -> Path:
    return path.with_name(path.name + OLD_SUFFIX)


class EventLog:
    """Appends events to `path` (rotated at `max_bytes`); reads them back."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path, self.max_bytes = Path(path), max_bytes
        self._fd: int | None = None
        self._size = 0
        self._lock = threading.Lock()

    def append(self, event: Event) -> None:
        """Write one line; raises OSError (the sink logs it)."""
        data = (event_line(event) + "\n").encode("ascii")
        with self._lock:
            fd = self._open()
            os.write(fd, data)
            self._size += len(data)
            if self._size >= self.max_bytes:
                self._rotate()

    def _open(self) -> int:
        if self._fd is not None and not self._replaced():
            return self._fd
        self._close_fd()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o640)
        size = os.fstat(fd).st_size
        if size and not self._ends_with_newline(fd, size):
            os.write(fd, b"\n")      # a line cut by a crash: the next one starts on a line of its own
            size += 1
        self._fd, self._size = fd, size
        return fd

    def _replaced(self) -> bool:
        """The file was renamed or removed behind our back (logrotate, a technician): reopen it."""
        try:
            return os.stat(self.path).st_ino != os.fstat(self._fd).st_ino
        except OSError:
            return True

    def _ends_with_newline(self, fd: int, size: int) -> bool:
        with open(self.path, "rb") as reader:
            reader.seek(size - 1)
            return reader.read(1) == b"\n"

    def _rotate(self) -> None:
        self._close_fd()
        os.replace(self.path, old_file(self.path))
        log.info("event history %s passed %d bytes: kept as %s", self.path, self.max_bytes,
                 old_file(self.path).name)

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    def read(self, since: float | None = None) -> list[Event]:
        """The events of both files at or after `since`, oldest first. A rotation while reading is
        noticed (the current file changed under us) and the read done again."""
        for _ in range(READ_TRIES):
            before = _inode(self.path)
            chunks = (_read(old_file(self.path)), _read(self.path))
            if _inode(self.path) == before:
                break
        return parse_events(*chunks, since=since)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(4 * MAX_BYTES)   # bounded even if someone made the file huge
    except FileNotFoundError:
        return b""
