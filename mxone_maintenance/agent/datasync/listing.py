"""What a peer holds of one LIM: one `rsync -r --list-only` of its folders, parsed into versions with
the newest mtime of their files (the reload files' mtimes decide the direction)."""
from __future__ import annotations

import calendar
import re
import time
from pathlib import PurePosixPath

from mxone_maintenance.agent.commands import NotRun
from mxone_maintenance.agent.datasync.outcome import SyncError
from mxone_maintenance.agent.datasync.transport import (
    Peer,
    SyncSettings,
    end_shared,
    list_argv,
    not_run_text,
    rsync_failure,
    run_rsync,
)
from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.contracts.xdata import Held, Version

LIST_LINE = re.compile(r"^(?P<mode>[-dlcbps][-rwxsStT]{9})\s+[\d,.]+\s+"
                       r"(?P<date>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\s(?P<path>.+)$")


def parse_listing(text: str, lim: int, folders: list[str]) -> list[Held]:
    """Versions of LIM `lim` in `rsync -r --list-only` output, with the newest mtime of their files."""
    newest_file: dict[tuple[str, Version], int] = {}
    dir_time: dict[tuple[str, Version], int] = {}
    for line in text.splitlines():
        match = LIST_LINE.match(line.strip())
        if not match:
            continue
        path = PurePosixPath(match["path"].removeprefix("./"))
        mtime = calendar.timegm(time.strptime(match["date"], "%Y/%m/%d %H:%M:%S"))
        for folder in folders:
            inside = _relative_to(path, PurePosixPath(folder))
            version = xdata.parse_version(inside.parts[0]) if inside and inside.parts else None
            if version is None or version.lim != lim:
                continue
            key = (folder, version)
            if len(inside.parts) == 1:
                dir_time[key] = mtime
            elif not match["mode"].startswith("d"):
                newest_file[key] = max(newest_file.get(key, 0), mtime)
    held = [Held(v, folder, newest_file.get((folder, v), t)) for (folder, v), t in dir_time.items()]
    return sorted(held, key=lambda h: h.version)


def _relative_to(path: PurePosixPath, folder: PurePosixPath) -> PurePosixPath | None:
    try:
        return path.relative_to(folder)
    except ValueError:
        return None


def list_peer(settings: SyncSettings, peer: Peer, lim: int, folders: list[str]) -> list[Held]:
    try:
        result = run_rsync(list_argv(settings, peer, lim, folders), settings.max_run_s)
    except NotRun as exc:
        end_shared(settings, peer)
        raise SyncError(f"cannot list {peer.label}: {not_run_text(exc, settings)}") from None
    if not result.ok:
        end_shared(settings, peer)
        raise SyncError(f"cannot list {peer.label}: {rsync_failure(result)}")
    return parse_listing(result.stdout, lim, folders)
