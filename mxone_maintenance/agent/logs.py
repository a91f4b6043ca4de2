"""The agent's log on stderr. Under systemd (stderr is the journal) every line starts with its syslog
priority as sd-daemon(3) defines it, `<3>` error ... `<7>` debug, so `journalctl -p warning` shows the
alarms and errors; the journal adds the time itself. Elsewhere: time, level, message."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TextIO

PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (a custom level takes the next standard one up)."""
    return next((PRIORITIES[level] for level in sorted(PRIORITIES) if levelno <= level), 2)


class PriorityFormatter(logging.Formatter):
    """Each line of a record (a traceback too) prefixed with `<N>`: the journal reads it per line."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def is_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether `stream` is the journal: $JOURNAL_STREAM names its device and inode (systemd.exec(5));
    a program started from the service with its stderr elsewhere inherits the variable, not the match."""
    try:
        device, inode = (int(part) for part in environ["JOURNAL_STREAM"].split(":"))
        found = os.fstat(stream.fileno())
    except (KeyError, ValueError, OSError, AttributeError):
        return False
    return (found.st_dev, found.st_ino) == (device, inode)


def say_error(message: str, stream: TextIO, environ: Mapping[str, str] = os.environ) -> None:
    """The one `error: ...` line of a command that cannot go on, as an error in the journal too."""
    prefix = f"<{PRIORITIES[logging.ERROR]}>" if is_journal(stream, environ) else ""
    print(f"{prefix}error: {message}", file=stream)


def log_to(stream: TextIO, environ: Mapping[str, str] = os.environ, level: int = logging.INFO) -> None:
    """The root logger writes to `stream`, in the journal's form when it is the journal (as
    logging.basicConfig: nothing changes if the root logger has a handler already)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PriorityFormatter("%(levelname)s %(message)s") if is_journal(stream, environ)
                         else logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
