"""How one sync of one LIM ends: a SyncResult, or one of these errors (one line each)."""
from __future__ import annotations

from dataclasses import dataclass

from mxone_maintenance.core.contracts.xdata import Direction


class SyncError(Exception):
    """One line: why a listing or transfer failed."""


class NotYetSynced(SyncError):
    """The standby holds newer data of a LIM than its regular: it must not hand the LIM back yet."""


@dataclass(frozen=True)
class SyncResult:
    ok: bool
    lim: int
    direction: Direction
    version: str | None = None      # the version pulled (or that would be / is newest)
    bytes: int = 0                  # bytes received over the wire
    seconds: float = 0.0
    error: str | None = None
    transferred: bool = False       # False: nothing to pull here (none, or the peer must pull)

    def line(self) -> str:
        if not self.ok:
            return f"LIM {self.lim}: sync failed ({self.direction}): {self.error}"
        if not self.transferred:
            return f"LIM {self.lim}: {self.direction}, nothing pulled here ({self.version or 'no data'})"
        return (f"LIM {self.lim}: {self.direction} {self.version}: {self.bytes / 1e6:.1f} MB received "
                f"in {self.seconds:.2f} s")
