"""The peers' clocks against ours. Each heartbeat carries the sender's wall clock; skew = its time minus
ours when it came in, the median of the last SKEW_SAMPLES (a late datagram or a slow cycle does not
count). Beyond MAX_CLOCK_SKEW_S the mtimes of two servers cannot be compared: data sync is held."""
from __future__ import annotations

from collections.abc import Sequence

from mxone_maintenance.core.contracts.xdata import MAX_CLOCK_SKEW_S

SKEW_SAMPLES = 15


def median_skew(samples: Sequence[float]) -> float | None:
    # By hand, not statistics.median: that module pulls in fractions and decimal (~0.9 MB in the daemon).
    if not samples:
        return None
    ordered = sorted(samples)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def clock_held(skew: float | None) -> bool:
    return skew is not None and abs(skew) > MAX_CLOCK_SKEW_S


def clock_alarm_text(server: str, skew: float) -> str:
    return (f"Clock of {server} differs by {abs(skew):.0f} s (more than {MAX_CLOCK_SKEW_S:.0f} s): "
            f"data sync held")
