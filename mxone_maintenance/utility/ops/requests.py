"""What a technician asks for: one frozen dataclass per action, and the parsing of typed-in values.
A value is echoed in a message escaped and short (config.shown), never as typed.

The command line and the menus both build these, so a value is parsed (and rejected) the same way
wherever it is entered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface

from mxone_maintenance.core.config import name_problem as name_rule_problem
from mxone_maintenance.core.config import parse_server_interface, shown
from mxone_maintenance.core.rules import refusal
from mxone_maintenance.utility.ops.request_error import RequestError


@dataclass(frozen=True)
class LimSpec:
    """`N:NEW_BASE[:PRIORITY]`: a LIM to put in a cluster with its new base address."""
    lim: int
    base: str                 # as typed; a bare address takes the prefix of the server's address
    priority: int | None = None


def parse_int(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise RequestError(f"{what} must be a whole number (got {shown(text)})") from None
    if not low <= value <= high:
        raise RequestError(f"{what} must be from {low} to {high} (got {value})")
    return value


def parse_seconds(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise RequestError(f"{what} must be a number of seconds (got {shown(text)})") from None
    if not low <= value <= high:
        raise RequestError(f"{what} must be from {low:g} to {high:g} seconds (got {value:g})")
    return value


def name_problem(text: str, what: str) -> str | None:
    """Why `text` cannot be a server or cluster name (the files would not load it back), or None."""
    problem = name_rule_problem(text)
    return None if problem is None else f"{what} {problem} (got {shown(text)})"


def parse_name(text: str, what: str) -> str:
    """A typed-in name: required, and as the files accept it."""
    value = str(text).strip()
    if not value:
        raise RequestError(f"type the {what}")
    problem = name_problem(value, what)
    if problem:
        raise RequestError(problem)
    return value


def parse_lim_spec(text: str) -> LimSpec:
    parts = str(text).strip().split(":")
    if len(parts) not in (2, 3) or not parts[1]:
        raise RequestError(f"a LIM is given as N:NEW_BASE[:PRIORITY], e.g. 1:10.77.0.111 (got {shown(text)})")
    lim = parse_int(parts[0], "LIM number", 1, 99)
    priority = parse_int(parts[2], f"priority of LIM {lim}", 0, 999) if len(parts) == 3 else None
    return LimSpec(lim=lim, base=parts[1], priority=priority)


def parse_priority_assignment(text: str) -> tuple[int, int]:
    """`N=P` for cluster change --priority."""
    lim_text, sep, priority_text = str(text).partition("=")
    if not sep:
        raise RequestError(f"a priority is given as N=P, e.g. 2=1 (got {shown(text)})")
    lim = parse_int(lim_text, "LIM number", 1, 99)
    return lim, parse_int(priority_text, f"priority of LIM {lim}", 0, 999)


def resolve_base(text: str, like: IPv4Interface) -> IPv4Interface:
    """A new base address; a bare address takes the prefix length of `like` (the server's address)."""
    candidate = text if "/" in text else f"{text}/{like.network.prefixlen}"
    try:
        return parse_server_interface(candidate)
    except ValueError as err:
        problem = str(err)
        if "/" not in text and "prefix length" in problem:     # the prefix was not asked for: do not ask for it
            problem = "must be an IPv4 address like 10.77.0.111 (/PREFIX optional)"
        raise RequestError(f"new base address {problem} (got {shown(text)})") from None


def parse_address(text: str, what: str = "address") -> IPv4Interface:
    try:
        return parse_server_interface(str(text).strip())
    except ValueError as err:
        raise RequestError(f"{what} {err} (got {shown(text)})") from None


@dataclass(frozen=True)
class CreateCluster:
    name: str
    standby: str
    lims: tuple[LimSpec, ...]
    fallback: str = "automatic"
    detect_s: float | None = None
    heartbeat_s: float | None = None
    hold_s: float | None = None


@dataclass(frozen=True)
class ChangeCluster:
    name: str
    fallback: str | None = None
    priorities: tuple[tuple[int, int], ...] = ()
    detect_s: float | None = None
    hold_s: float | None = None

    def __post_init__(self) -> None:
        """A LIM given two priorities breaks a rule: which one was meant cannot be known (plan_change
        would take the last one silently)."""
        given: dict[int, int] = {}
        for lim, priority in self.priorities:
            if lim in given:
                raise refusal("priority-twice", f"the priority of LIM {lim} is given twice ({lim}={given[lim]} "
                                                f"and {lim}={priority}); give each LIM once")
            given[lim] = priority


@dataclass(frozen=True)
class PreloadCluster:
    name: str


@dataclass(frozen=True)
class AddLim:
    name: str
    lim: LimSpec


@dataclass(frozen=True)
class RemoveLim:
    name: str
    lim: int
    allow_down: frozenset[str] = frozenset()   # --allow-down: a dead regular whose LIM may stop


@dataclass(frozen=True)
class DeleteCluster:
    name: str


@dataclass(frozen=True)
class LockLim:
    lim: int
    to: str                    # regular | standby


@dataclass(frozen=True)
class UnlockLim:
    lim: int


@dataclass(frozen=True)
class AddServer:
    name: str
    address: str
    lim: int | None = None


@dataclass(frozen=True)
class RemoveServer:
    name: str


@dataclass(frozen=True)
class AddStandby:
    server: str


@dataclass(frozen=True)
class RemoveStandby:
    server: str


@dataclass(frozen=True)
class RuntimeFacts:
    """What the agents report, needed by a few rules (e.g. nothing may run on the standby when a LIM is
    removed). `known` is False when nobody asked (a dry run): those rules are then checked at apply."""
    on_standby: frozenset[int] = field(default_factory=frozenset)
    known: bool = False
    moving: frozenset[int] = field(default_factory=frozenset)    # LIMs some member reports on the move
