"""What the scheduler's parts pass each other about one LIM's data sync with one peer."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Why a sync starts (shown in status and logs as the value)."""
    FIRST = "first"                  # the peer is heard for the first time since we (or the pairing) started
    PEER_BACKUP = "peer-backup"      # the peer advertises a newer version than ours
    DAILY = "daily"                  # DAILY_S after the last good sync
    ORDER = "order"                  # `mxone-cluster-agent sync`
    RETRY = "retry"                  # after a failure, with a growing delay


@dataclass(frozen=True, order=True)
class Pair:
    """One LIM's data, kept in step between this node and `peer`."""
    lim: int
    peer: str


@dataclass(frozen=True)
class Job:
    lim: int
    peer: str
    reason: Reason


@dataclass(frozen=True)
class LastSync:
    """How the last sync of a pair ended."""
    at: float                # monotonic, when it ended
    wall: float              # wall clock, when it ended
    ok: bool
    reason: str
    direction: str = "none"
    version: str | None = None
    transferred: bool = False
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    reloaded: bool | None = None     # preloaded passive side: None = no reload needed


@dataclass(frozen=True)
class PairState:
    """What due_syncs needs to know of one pair, at one moment."""
    pair: Pair
    peer_alive: bool
    peer_skew: float | None = None       # peer clock minus ours (None: not known yet)
    peer_stamp: str | None = None        # newest version stamp the peer advertises for this LIM
    local_stamp: str | None = None       # newest version stamp we hold of this LIM
    seen_stamp: str | None = None        # the peer's advertised stamp when our last sync started
    last: LastSync | None = None
    failures: int = 0                    # failures in a row
    busy: bool = False
    ordered: bool = False
