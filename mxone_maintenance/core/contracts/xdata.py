"""Exchange-data (xdata) versions and the pure decisions of the data sync (DESIGN §3, §6).

A version is a folder `xdata_<lim>_<YYYYmmddHHMMSS>`. A regular server keeps its own under
/var/opt/eri_sn/xdata/ (MX-ONE keeps the newest three); the standby keeps its copies of LIM N under
/var/opt/eri_sn/standby/lim<N>/ (two of each regular), and while it runs LIM N its own data backups land in
its xdata/ like on any server. Which way data goes is decided by the reload files' modification times.

Listing touches the file system; everything else here is pure and tested with hypothesis.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from mxone_maintenance.core.paths import STANDBY_DATA_DIR, VAR, XDATA_DIR, Paths

Direction = Literal["to-standby", "to-regular", "none", "hold"]
Role = Literal["regular", "standby"]

VERSION_PREFIX = "xdata_"
STAMP_PATTERN = re.compile(r"\d{14}")  # YYYYmmddHHMMSS, as MX-ONE names a data backup
VERSION_NAME = re.compile(rf"^{VERSION_PREFIX}(\d+)_({STAMP_PATTERN.pattern})$")
PARTIAL_PREFIX = ".partial-"        # an rsync in progress: hidden, so no xdata_* glob ever sees it
STANDBY_KEEP = 2                    # DESIGN §6: the standby keeps two backups of each regular
REGULAR_KEEP = 3                    # MX-ONE keeps the newest three versions in xdata/
MAX_CLOCK_SKEW_S = 2.0              # beyond this, mtimes of two servers cannot be compared
FUTURE_STAMP_S = 24 * 3600.0        # a version stamped further ahead of our clock is refused (time zones
                                    # and a wrong clock fit in a day; a stamp of 2999 does not)


@dataclass(frozen=True, order=True)
class Version:
    """One xdata version; ordered by LIM, then by its time stamp (oldest first)."""
    lim: int
    stamp: str

    @property
    def name(self) -> str:
        return f"{VERSION_PREFIX}{self.lim}_{self.stamp}"


@dataclass(frozen=True)
class Held:
    """A version some server holds: where (folder relative to /var/opt/eri_sn) and its reload mtime."""
    version: Version
    folder: str                     # "xdata" or "standby/lim<N>"
    mtime: int                      # newest modification time of its files, whole seconds

    @property
    def relative_path(self) -> str:
        return f"{self.folder}/{self.version.name}"


def parse_version(name: str) -> Version | None:
    match = VERSION_NAME.match(name)
    return Version(int(match.group(1)), match.group(2)) if match else None


def is_stamp(text: str) -> bool:
    return STAMP_PATTERN.fullmatch(text) is not None


def version_glob(lim: int) -> str:
    """Every version of LIM `lim` as a glob (rsync filter rules, shell)."""
    return f"{VERSION_PREFIX}{lim}_*"


def partial_name(version: Version) -> str:
    return f"{PARTIAL_PREFIX}{version.name}"


def regular_folder() -> str:
    return str(PurePosixPath(XDATA_DIR).relative_to(VAR))


def standby_folder(lim: int) -> str:
    return str((PurePosixPath(STANDBY_DATA_DIR) / f"lim{lim}").relative_to(VAR))


def filter_rules(wanted: Iterable[tuple[str, int]]) -> list[str]:
    """rsync include rules for the versions of each (folder, LIM) and the folders above them, in order
    and once each; the caller adds `--exclude=*` after them (the listing, and what the key serves)."""
    rules: list[str] = []
    for folder, lim in wanted:
        parents = PurePosixPath(folder).parts
        rules += [f"--include=/{'/'.join(parents[:i])}/" for i in range(1, len(parents) + 1)]
        rules.append(f"--include=/{folder}/{version_glob(lim)}/***")
    return list(dict.fromkeys(rules))


def folders_of(role: Role, lim: int) -> list[str]:
    """Where a server of this role holds data of LIM `lim`: the standby also has its own xdata/ (it ran
    the LIM and made data backups there, row 23)."""
    return [regular_folder()] if role == "regular" else [standby_folder(lim), regular_folder()]


# --- listing (reads the file system) -------------------------------------------------------------------

def versions_in(folder: Path, lim: int | None = None) -> list[Version]:
    """Version folders directly in `folder`, oldest first; partial transfers and other names ignored."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    found = [parse_version(e.name) for e in entries if e.is_dir(follow_symlinks=False)]
    return sorted(v for v in found if v is not None and (lim is None or v.lim == lim))


def reload_mtime(folder: Path) -> int:
    """The newest modification time of the version's files (whole seconds, as rsync lists them);
    the folder's own time when it holds no file."""
    newest = os.stat(folder).st_mtime
    files = [Path(top) / name for top, _dirs, names in os.walk(folder) for name in names]
    if files:
        newest = max(os.stat(f, follow_symlinks=False).st_mtime for f in files)
    return int(newest)


def newest_stamp_held(paths: Paths, role: Role, lim: int) -> str | None:
    """The time stamp of the newest version of LIM `lim` this server holds in any of its folders
    (one listdir per folder: cheap enough to poll every few seconds)."""
    found = [v for folder in folders_of(role, lim) for v in versions_in(paths.real(VAR / folder), lim)]
    return max(found).stamp if found else None


def local_holdings(paths: Paths, role: Role, lim: int) -> list[Held]:
    """Every version of LIM `lim` this server holds, with reload mtimes, oldest first."""
    held = []
    for folder in folders_of(role, lim):
        base = paths.real(VAR / folder)
        held += [Held(v, folder, reload_mtime(base / v.name)) for v in versions_in(base, lim)]
    return sorted(held, key=lambda h: h.version)


# --- pure decisions ------------------------------------------------------------------------------------

def stamp_limit(now: float, ahead_s: float = FUTURE_STAMP_S) -> str:
    """The newest stamp this server accepts from a peer at wall time `now` (stamps are local time)."""
    return time.strftime("%Y%m%d%H%M%S", time.localtime(now + ahead_s))


def split_future(held: Iterable[Held], now: float, ahead_s: float = FUTURE_STAMP_S) -> tuple[list[Held], list[Held]]:
    """(accepted, refused): a version stamped more than `ahead_s` after `now` was not made by a data
    backup of this era; it must neither win the direction nor push real versions out by name."""
    limit = stamp_limit(now, ahead_s)
    accepted, refused = [], []
    for item in held:
        (refused if item.version.stamp > limit else accepted).append(item)
    return accepted, refused


def newest(held: Iterable[Held]) -> Held | None:
    """The newest version by time stamp (a version held in two folders: the first one given wins)."""
    best: Held | None = None
    for item in held:
        if best is None or item.version > best.version:
            best = item
    return best


def sync_direction(regular_mtime: float | None, standby_mtime: float | None, clock_skew_s: float,
                   regular_version: Version | None = None, standby_version: Version | None = None) -> Direction:
    """Which way the newest data must go, by the reload files' newest mtimes on each side (None: that
    side holds no version). Clocks further apart than MAX_CLOCK_SKEW_S make the times meaningless:
    hold and let the caller alarm rather than overwrite newer data with older. Equal mtimes (whole
    seconds: two backups within a second) are told apart by the versions' time stamps when given."""
    if abs(clock_skew_s) > MAX_CLOCK_SKEW_S:
        return "hold"
    if regular_mtime is None and standby_mtime is None:
        return "none"
    if standby_mtime is None or (regular_mtime is not None and regular_mtime > standby_mtime):
        return "to-standby"
    if regular_mtime is None or standby_mtime > regular_mtime:
        return "to-regular"
    if regular_version is not None and standby_version is not None and regular_version != standby_version:
        return "to-standby" if regular_version > standby_version else "to-regular"
    return "none"


def unsynced(here: Iterable[Version], elsewhere: Iterable[Version]) -> set[Version]:
    """Versions only here and newer than anything the other server has: the only copy of that data.
    (A version only here but older than the other's newest is superseded data, not a lost one.)"""
    there = set(elsewhere)
    newest_there = max(there, default=None)
    return {v for v in here if v not in there and (newest_there is None or v > newest_there)}


def versions_to_prune(here: Sequence[Version], elsewhere: Iterable[Version], keep: int = STANDBY_KEEP) -> list[Version]:
    """Oldest versions beyond the newest `keep`, oldest first, never one that is the only copy of data
    not yet on the other server. Since such versions are always the newest ones, what stays is the
    newest max(keep, len(unsynced)) versions."""
    ordered = sorted(set(here))
    kept = set(ordered[-keep:] if keep > 0 else []) | unsynced(ordered, elsewhere)
    return [v for v in ordered if v not in kept]


def regular_versions_to_prune(here: Sequence[Version], pulled: Iterable[Version],
                              keep: int = REGULAR_KEEP) -> list[Version]:
    """On a regular after a pull: MX-ONE's rule (the newest `keep` stay), oldest first, but never the
    newest version the regular made itself (one it did not pull): pulled data, however new its stamps,
    cannot push the regular's own last backup out."""
    ordered = sorted(set(here))
    taken = set(pulled)
    own = [v for v in ordered if v not in taken]
    kept = set(ordered[-keep:] if keep > 0 else []) | set(own[-1:])
    return [v for v in ordered if v not in kept]
