"""This server's xdata folders during a sync: one sync of a LIM at a time, a new version checked and
renamed into place only when complete, what a killed sync left repaired, old versions pruned. A version
is hidden before it is replaced or deleted, so a half-written or half-deleted one never carries a valid
name."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.contracts.xdata import Version
from mxone_maintenance.core.paths import VAR, Paths

OLD_PREFIX = ".old-"                # a version being replaced by a new copy of the same name
PRUNE_PREFIX = ".prune-"            # a version being removed: hidden first, so it never looks valid


@contextlib.contextmanager
def lim_lock(paths: Paths, lim: int) -> Iterator[None]:
    """One sync of a LIM at a time on this server (a periodic and an ordered one may overlap)."""
    lock_dir = paths.agent_state_dir
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"sync-lim{lim}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def remove_tree(path: Path) -> None:
    """Hide, then delete: a half-deleted version never carries a valid xdata name."""
    hidden = path.with_name(f"{PRUNE_PREFIX}{path.name}")
    path.rename(hidden)
    shutil.rmtree(hidden)


def clean_leftovers(folder: Path) -> None:
    """What a killed sync left: partial transfers go, a version caught mid-replacement comes back."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(OLD_PREFIX):
            original = entry.with_name(entry.name.removeprefix(OLD_PREFIX))
            if not original.exists():
                entry.rename(original)
                continue
        if entry.name.startswith((xdata.PARTIAL_PREFIX, OLD_PREFIX, PRUNE_PREFIX)):
            shutil.rmtree(entry, ignore_errors=True)


def unsafe_entries(folder: Path) -> list[str]:
    """What a pulled version must not hold, relative to it: anything but files, folders and symlinks,
    set-id or sticky bits, a symlink that is absolute or climbs out of the version. rsync was told to
    leave these behind (transport.PULL_OPTIONS); finding one means it did not, and nothing is kept."""
    found: list[str] = []
    for top, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(top) / name
            relative = path.relative_to(folder)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                if _link_escapes(relative, os.readlink(path)):
                    found.append(f"{relative} -> {os.readlink(path)}")
            elif not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                found.append(f"{relative} (not a file)")
            elif info.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
                found.append(f"{relative} (mode {stat.S_IMODE(info.st_mode):04o})")
    return sorted(found)


def _link_escapes(where: Path, target: str) -> bool:
    if target.startswith("/"):
        return True
    depth = len(where.parts) - 1                  # folders between the version and the link
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return True
    return False


def move_into_place(partial: Path, final: Path) -> None:
    os.sync()  # the new copy is on disk before it counts (and before an older one may be pruned)
    if final.exists():
        old = final.with_name(f"{OLD_PREFIX}{final.name}")
        final.rename(old)
        partial.rename(final)
        shutil.rmtree(old)
    else:
        partial.rename(final)


def _remove_all(folder: Path, doomed: list[Version]) -> list[Version]:
    for version in doomed:
        remove_tree(folder / version.name)
    return doomed


def prune_standby_copies(paths: Paths, lim: int, regular_has: list[Version]) -> list[Version]:
    folder = paths.real(VAR / xdata.standby_folder(lim))
    return _remove_all(folder, xdata.versions_to_prune(xdata.versions_in(folder, lim), regular_has))


def prune_regular_versions(paths: Paths, lim: int, pulled: Iterable[Version] = ()) -> list[Version]:
    """After a regular pulled the standby's newer data: MX-ONE's own rule, the newest three stay, and
    the regular's own newest version (one not in `pulled`) stays whatever the standby's stamps say."""
    folder = paths.real(VAR / xdata.regular_folder())
    return _remove_all(folder, xdata.regular_versions_to_prune(xdata.versions_in(folder, lim), pulled))


def transfer_progress(folder: Path, lim: int) -> tuple[str, int] | None:
    """A pull of LIM `lim` under way into `folder`: the version's name and the bytes already there (the
    partial folder and rsync's temporary files in it); None when none is."""
    prefix = xdata.PARTIAL_PREFIX + xdata.VERSION_PREFIX + f"{lim}_"
    partial = next((entry for entry in _entries(folder) if entry.name.startswith(prefix)), None)
    if partial is None:
        return None
    size = 0
    for root, _dirs, files in os.walk(partial):
        for name in files:
            with contextlib.suppress(OSError):          # rsync renames its temporary files as it goes
                size += os.lstat(os.path.join(root, name)).st_size
    return partial.name.removeprefix(xdata.PARTIAL_PREFIX), size


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as found:
            return list(found)
    except OSError:
        return []
