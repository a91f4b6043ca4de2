"""One change at a time: a lock beside system.yaml, held from the last look at the inventory until it
is written, and a check that the inventory is still the one the plan was made from.

Two technicians (or two terminals of one) each plan from their own read of system.yaml; without this,
both print "Done" and one change is lost. The lock file says who holds it, so the second run can say
who and since when. flock is released by the kernel when the holder dies (a killed run never leaves a
stale lock behind).
"""
from __future__ import annotations

import fcntl
import getpass
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mxone_maintenance.core import config
from mxone_maintenance.core.model import System


class ChangeRefused(Exception):
    """Another change runs, or the inventory moved under the plan: one line, nothing was changed."""


def lock_path(system_file: Path) -> Path:
    return system_file.with_name(system_file.name + ".lock")


def _holder_text(raw: str) -> str:
    try:
        holder = json.loads(raw)
        since = time.strftime("%H:%M:%S", time.localtime(float(holder["since"])))
        return f"{holder['action']} by {holder['user']} (pid {int(holder['pid'])}) since {since}"
    except (ValueError, KeyError, TypeError):
        return "a run that has not said who it is yet"


@contextmanager
def one_change(system_file: Path, action: str) -> Iterator[None]:
    """Hold the change lock for `action`, or refuse with who holds it."""
    path = lock_path(system_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise ChangeRefused(f"cannot open the change lock {path}: {err.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_text(os.pread(fd, 4096, 0).decode(errors="replace"))
            raise ChangeRefused(f"another change is running: {holder}") from None
        me = {"pid": os.getpid(), "user": technician(), "since": time.time(), "action": action}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)        # releases the lock


def technician() -> str:
    """Who runs the change: the technician behind sudo."""
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):           # a uid without a passwd entry
        return f"uid {os.getuid()}"


def check_unchanged(system_file: Path, planned_from: tuple[System, ...]) -> None:
    """The inventory must still be one the plan was made from (another change may have landed)."""
    try:
        now = config.load_system(system_file)
    except config.FileError as err:
        raise ChangeRefused(str(err)) from None
    if now not in planned_from:
        raise ChangeRefused(f"{system_file} changed since this plan was made (another change?); "
                            "look at it again and plan anew")
