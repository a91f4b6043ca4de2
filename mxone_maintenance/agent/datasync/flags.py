"""What a heartbeat tells of the data: every agent lists its xdata folders every few seconds and puts
`xdata=<lim>:<stamp>` for the newest version of each LIM in its heartbeat flags, so a data backup on one
side reaches the other within seconds."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from mxone_maintenance.core.contracts import xdata

XDATA_FLAG = "xdata"


def xdata_flags(stamps: Mapping[int, str]) -> tuple[str, ...]:
    """Heartbeat flags naming the newest version held of each LIM: `xdata=<lim>:<stamp>`."""
    return tuple(f"{XDATA_FLAG}={lim}:{stamp}" for lim, stamp in sorted(stamps.items()))


def parse_xdata_flags(flags: Iterable[str]) -> dict[int, str]:
    stamps: dict[int, str] = {}
    for flag in flags:
        name, _, value = flag.partition("=")
        lim, _, stamp = value.partition(":")
        if name == XDATA_FLAG and lim.isdecimal() and xdata.is_stamp(stamp):
            stamps[int(lim)] = stamp
    return stamps
