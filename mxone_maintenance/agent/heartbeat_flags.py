"""What a heartbeat says besides its fields, as `name=value` strings: the flags the agent's loop reads."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AgentFlags:
    """The flags the agent's loop uses: the manual fallback orders it holds (`fallback=<LIM>`), its
    interface MAC (`mac=<MAC>`, so ARP answers tell a cluster server from a foreign host) and, from a
    standby, the LIMs it lacks backups of (`unready=<LIM>`: its regulars keep "Standby server is out of
    order"). `parse` ignores the others (the data sync reads its own `xdata=`) and any it cannot read."""
    fallback: frozenset[int] = frozenset()
    mac: str | None = None
    unready: frozenset[int] = frozenset()

    def encode(self) -> tuple[str, ...]:
        return (tuple(f"fallback={n}" for n in sorted(self.fallback)) + ((f"mac={self.mac}",) if self.mac else ())
                + tuple(f"unready={n}" for n in sorted(self.unready)))

    @classmethod
    def parse(cls, flags: Sequence[str]) -> AgentFlags:
        fallback, mac, unready = set(), None, set()
        for flag in flags:
            name, _, value = flag.partition("=")
            if name in ("fallback", "unready") and _is_lim_number(value):
                (fallback if name == "fallback" else unready).add(int(value))
            elif name == "mac" and value:
                mac = value
        return cls(frozenset(fallback), mac, frozenset(unready))


def _is_lim_number(text: str) -> bool:
    """ASCII digits only, and not thousands: int() takes any Unicode decimal digit ("٣") and refuses
    more than 4300 digits."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()
