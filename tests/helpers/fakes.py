"""The agent's effects in memory, recording every call, and a clock moved by hand: the daemon loop and
the data sync scheduler run with these, with no root and no sleeps. Each fake answers the Protocol of
the same name in mxone_maintenance/agent/effects/interfaces.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface

from mxone_maintenance.agent.effects import EffectError


class Clock:
    """A monotonic (or wall) clock that only moves when a test sets ``t``."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class FakeAddresses:
    """Addresses in memory; ``calls`` records ("add"|"remove", addr) in order."""
    addresses: set[IPv4Interface] = field(default_factory=set)
    calls: list[tuple[str, IPv4Interface]] = field(default_factory=list)
    cable_in: bool = True

    def carrier(self) -> bool:
        return self.cable_in

    def has(self, addr: IPv4Interface) -> bool:
        return IPv4Interface(addr) in self.addresses

    def add(self, addr: IPv4Interface) -> None:
        self.calls.append(("add", IPv4Interface(addr)))
        self.addresses.add(IPv4Interface(addr))

    def remove(self, addr: IPv4Interface) -> None:
        self.calls.append(("remove", IPv4Interface(addr)))
        self.addresses.discard(IPv4Interface(addr))

    def list(self) -> list[IPv4Interface]:
        return sorted(self.addresses)


@dataclass
class FakeNeighbours:
    """``answers`` maps an IP (text) to the MAC that answers a probe for it; the rest are free."""
    answers: dict[str, str] = field(default_factory=dict)
    mac: str = "02:00:00:00:00:aa"
    probes: list[str] = field(default_factory=list)
    announces: list[str] = field(default_factory=list)
    asked: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def probe(self, ip: IPv4Address | str) -> str | None:
        self.probes.append(str(ip))
        return self.answers.get(str(ip))

    def announce(self, ip: IPv4Address | str) -> None:
        self.announces.append(str(ip))

    def ask(self, sender: IPv4Address | str, targets: list[IPv4Address | str]) -> None:
        self.asked.append((str(sender), tuple(str(t) for t in targets)))

    def own_mac(self) -> str:
        return self.mac


@dataclass
class FakeFirewall:
    """Blocked aliases in memory; ``calls`` records ("block"|"unblock", alias) in order."""
    aliases: set[IPv4Address] = field(default_factory=set)
    calls: list[tuple[str, IPv4Address]] = field(default_factory=list)

    def block(self, alias: IPv4Address) -> None:
        self.calls.append(("block", IPv4Address(alias)))
        self.aliases.add(IPv4Address(alias))

    def unblock(self, alias: IPv4Address) -> None:
        self.calls.append(("unblock", IPv4Address(alias)))
        self.aliases.discard(IPv4Address(alias))

    def blocked(self) -> set[IPv4Address]:
        return set(self.aliases)


@dataclass
class FakeService:
    """Records ("start"|"stop", lim, alias); ``failing`` LIMs raise EffectError on start."""
    running: set[int] = field(default_factory=set)
    failing: set[int] = field(default_factory=set)
    calls: list[tuple[str, int, IPv4Address]] = field(default_factory=list)

    def start(self, lim: int, alias: IPv4Address) -> None:
        self.calls.append(("start", lim, alias))
        if lim in self.failing:
            raise EffectError(f"start LIM {lim}: fake failure")
        self.running.add(lim)

    def stop(self, lim: int, alias: IPv4Address) -> None:
        self.calls.append(("stop", lim, alias))
        self.running.discard(lim)
