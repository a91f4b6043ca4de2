"""The peers' clocks against ours. Each heartbeat carries the sender's wall clock; a sample is its time
minus ours when it was read. A datagram held up on the wire, in a stalled sender or in a receiver that
was not scheduled only ever makes its sample smaller, never larger, so the skew is the largest of the
last SKEW_SAMPLES: the least delayed one. (The median of 15 was fooled by the backlog a stalled agent
reads at once, and raised a false clock alarm; the newest of a backlog were sent just before the read,
so one of the last few is prompt. Few, so a clock stepped back is followed within a few heartbeats.)
Beyond MAX_CLOCK_SKEW_S the mtimes of two
servers cannot be compared: data sync is held."""
from __future__ import annotations

from collections.abc import Sequence

from mxone_maintenance.core.contracts.xdata import MAX_CLOCK_SKEW_S

SKEW_SAMPLES = 5


def clock_skew(samples: Sequence[float]) -> float | None:
    """The peer's clock minus ours, from the samples (None while there are none)."""
    return max(samples) if samples else None


def clock_held(skew: float | None) -> bool:
    return skew is not None and abs(skew) > MAX_CLOCK_SKEW_S


def clock_alarm_text(server: str, skew: float) -> str:
    return (f"Clock of {server} differs by {abs(skew):.0f} s (more than {MAX_CLOCK_SKEW_S:.0f} s): "
            f"data sync held")
