"""What a regular remembers between syncs, in small files under /var/opt/eri_sn/agent (they outlive an
agent restart; lost, they fail safe):

  standby-ran-lim<N>   when this regular last saw the standby serve LIM N (its heartbeats: the alias held
                       and not blocked). Only then is the standby's data of LIM N taken: the data of a
                       LIM the standby never ran is a copy of ours, and a newer one is not data, it is a
                       standby that lies (issue 15). RAN_GRACE_S after it stopped, a pull still finishing
                       the hand-back (row 23) is taken; later not.
  pulled-lim<N>        the versions of LIM N this regular pulled from the standby, one name a line: the
                       others are its own, and its own newest is never pruned nor replaced by a pull.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mxone_maintenance.core.config import write_atomic
from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.contracts.xdata import Version
from mxone_maintenance.core.paths import Paths

RAN_GRACE_S = 600.0        # a pull toward the regular up to this long after the standby stopped the LIM
REFRESH_S = 10.0           # while the standby serves the LIM, its record is rewritten this often at most


def ran_path(paths: Paths, lim: int) -> Path:
    return paths.agent_state_dir / f"standby-ran-lim{lim}"


def pulled_path(paths: Paths, lim: int) -> Path:
    return paths.agent_state_dir / f"pulled-lim{lim}"


# --- the standby ran the LIM ---------------------------------------------------------------------------

def note_standby_ran(paths: Paths, lim: int, wall: float) -> None:
    write_atomic(ran_path(paths, lim), f"{wall:.3f}\n")


def standby_ran_at(paths: Paths, lim: int) -> float | None:
    """The wall time this regular last saw the standby serve LIM `lim` (None: never, or unreadable)."""
    try:
        return float(ran_path(paths, lim).read_text().strip())
    except (OSError, ValueError):
        return None


def pull_refusal(ran_at: float | None, now: float, standby: str, lim: int,
                 grace_s: float = RAN_GRACE_S) -> str | None:
    """Why a regular must not take the standby's data of LIM `lim` now (None: it may)."""
    if ran_at is None:
        return f"{standby} has never been seen running LIM {lim}: its data is not taken"
    if now - ran_at > grace_s:
        return (f"{standby} was last seen running LIM {lim} {(now - ran_at) / 60:.0f} min ago "
                f"(more than {grace_s / 60:.0f} min): its data is not taken")
    return None


def standby_gate(paths: Paths, lim: int, standby: str,
                 wall: Callable[[], float] = time.time) -> Callable[[], str | None]:
    """SyncSettings.pull_gate for a regular's sync of LIM `lim`: read when the pull is about to start."""
    return lambda: pull_refusal(standby_ran_at(paths, lim), wall(), standby, lim)


class RanNotes:
    """The scheduler's side: note each cycle which of our LIMs the standby serves, writing the record
    when it is new or REFRESH_S old (not every cycle: cycles come ten times a second)."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.written: dict[int, float] = {}

    def seen(self, lim: int, wall: float) -> None:
        if wall - self.written.get(lim, float("-inf")) < REFRESH_S:
            return
        try:
            note_standby_ran(self.paths, lim, wall)
        except OSError:
            return                       # tried again next cycle; meanwhile the older record counts
        self.written[lim] = wall


# --- what this regular pulled --------------------------------------------------------------------------

def pulled_versions(paths: Paths, lim: int) -> set[Version]:
    try:
        text = pulled_path(paths, lim).read_text()
    except OSError:
        return set()
    found = (xdata.parse_version(line.strip()) for line in text.splitlines())
    return {v for v in found if v is not None and v.lim == lim}


def write_pulled(paths: Paths, lim: int, versions: Iterable[Version]) -> None:
    write_atomic(pulled_path(paths, lim), "".join(f"{v.name}\n" for v in sorted(set(versions))))
