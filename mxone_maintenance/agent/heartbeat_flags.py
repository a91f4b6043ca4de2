"""What a heartbeat says besides its fields, as `name=value` strings: the flags the agent's loop reads."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class AgentFlags:
    """The flags the agent's loop uses: the manual fallback orders it holds (`fallback=<LIM>`), its
    interface MAC (`mac=<MAC>`, so ARP answers tell a cluster server from a foreign host) and, from a
    standby, the LIMs it lacks backups of (`unready=<LIM>`: its regulars keep "Standby server is out of
    order"), the LIMs whose Service Node failed its health check here (`sick=<LIM>`: the standby takes
    them as from a failed regular) and the maintenance-mode order it follows (`pause=<stamp>:<until>`,
    wall-clock seconds; a resume is an order with until 0: the newest stamp wins everywhere). `parse`
    ignores the others (the data sync reads its own `xdata=`) and any it cannot read."""
    fallback: frozenset[int] = frozenset()
    mac: str | None = None
    unready: frozenset[int] = frozenset()
    sick: frozenset[int] = frozenset()
    pause: tuple[float, float] | None = None

    def encode(self) -> tuple[str, ...]:
        return (tuple(f"fallback={n}" for n in sorted(self.fallback)) + ((f"mac={self.mac}",) if self.mac else ())
                + tuple(f"unready={n}" for n in sorted(self.unready))
                + tuple(f"sick={n}" for n in sorted(self.sick))
                + ((f"pause={self.pause[0]:.3f}:{self.pause[1]:.0f}",) if self.pause else ()))

    @classmethod
    def parse(cls, flags: Sequence[str]) -> AgentFlags:
        sets: dict[str, set[int]] = {"fallback": set(), "unready": set(), "sick": set()}
        mac, pause = None, None
        for flag in flags:
            name, _, value = flag.partition("=")
            if name in sets and _is_lim_number(value):
                sets[name].add(int(value))
            elif name == "mac" and value:
                mac = value
            elif name == "pause":
                pause = _pause(value) or pause
        return cls(frozenset(sets["fallback"]), mac, frozenset(sets["unready"]), frozenset(sets["sick"]), pause)


@lru_cache(maxsize=256)
def parse_flags(flags: tuple[str, ...]) -> AgentFlags:
    """AgentFlags.parse, remembered: a peer sends the same flags heartbeat after heartbeat."""
    return AgentFlags.parse(flags)


def _pause(text: str) -> tuple[float, float] | None:
    """`<stamp>:<until>` as two finite, non-negative wall-clock times (None: not that)."""
    stamp, sep, until = text.partition(":")
    try:
        values = (float(stamp), float(until)) if sep and len(text) <= 40 else None
    except ValueError:
        return None
    if values is None or not all(0 <= v < 1e11 for v in values):
        return None
    return values


def _is_lim_number(text: str) -> bool:
    """ASCII digits only, and not thousands: int() takes any Unicode decimal digit ("٣") and refuses
    more than 4300 digits."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()
