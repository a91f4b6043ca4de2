"""The change journal on LIM 1: a change that is being committed, written before the first server
commits and removed when system.yaml says how it ended.

A run killed mid-change (SIGKILL, power, a closed terminal) leaves servers on different generations
and staged hidden files behind; the journal is how the next run knows, names the change and offers to
finish it or undo it (ops/recovery.py). It sits beside system.yaml (`system.yaml.journal`), 0600: it
holds the new cluster key of a create.
"""
from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from mxone_maintenance.core import config
from mxone_maintenance.core.model import System

VERSION = 1


class JournalError(Exception):
    """A journal that cannot be read or written: one line naming the file."""


@dataclass(frozen=True)
class Journal:
    action: str
    title: str
    user: str
    since: float
    before: System
    after: System
    secrets: dict[str, bytes] = field(default_factory=dict)

    def headline(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"{self.title} ({self.action}, started {when} by {self.user})"


def journal_path(system_file: Path) -> Path:
    return system_file.with_name(system_file.name + ".journal")


def _to_json(journal: Journal) -> str:
    return json.dumps({
        "version": VERSION, "action": journal.action, "title": journal.title, "user": journal.user,
        "since": journal.since, "before": config.dump_system(journal.before),
        "after": config.dump_system(journal.after),
        "secrets": {name: base64.b64encode(key).decode() for name, key in journal.secrets.items()},
    }, indent=1)


def write_journal(system_file: Path, journal: Journal) -> None:
    path = journal_path(system_file)
    try:
        config.write_atomic(path, _to_json(journal), mode=0o600)
    except OSError as err:
        raise JournalError(f"cannot write the change journal {path}: {err.strerror}") from None


def read_journal(system_file: Path) -> Journal | None:
    """The unfinished change, or None. A journal that cannot be parsed is an error, never ignored."""
    path = journal_path(system_file)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise JournalError(f"cannot read the change journal {path}: {getattr(err, 'strerror', err)}") from None
    try:
        data = json.loads(raw)
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}")
        return Journal(action=str(data["action"]), title=str(data["title"]), user=str(data["user"]),
                       since=_start_time(data["since"]),
                       before=config.parse_system(data["before"], f"{path} (before)"),
                       after=config.parse_system(data["after"], f"{path} (after)"),
                       secrets={str(k): base64.b64decode(v, validate=True) for k, v in data["secrets"].items()})
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError, config.FileError) as err:
        why = " ".join(str(err).split())
        raise JournalError(f"the change journal {path} is damaged ({why}); look at it, then remove it "
                           "by hand and check the servers with cluster status") from None


def _start_time(value: object) -> float:
    """Seconds since the epoch that a clock can show (time.localtime of it works)."""
    since = float(value)
    if not 0 <= since < 1e11:          # also refuses NaN and the infinities
        raise ValueError(f"start time {value!r}")
    return since


def clear_journal(system_file: Path) -> None:
    try:
        os.unlink(journal_path(system_file))
    except FileNotFoundError:
        pass
    except OSError as err:
        raise JournalError(f"cannot remove the change journal {journal_path(system_file)}: {err.strerror}") from None
