"""The cluster agent's events: what each agent records in its history file, sends to the notify command,
as SNMP traps and as metrics, and what `cluster history` merges (agent/events/, utility/ops/history.py).

One event is one JSON line (`event_line`), ASCII only (json escapes the rest), so a file of them is read
line by line; `parse_event_line` turns any line (any bytes) into an Event or None, never raising.

Severity, as MX-ONE's alarm severities (and X.733's perceivedSeverity, which SNMP managers show):
    0  cleared / information   (X.733 cleared)    nothing needs doing: a LIM back home, an agent started
    1  warning                 (X.733 warning)    redundancy reduced on purpose: maintenance mode, a yield
    2  minor                   (X.733 minor)      a fault that does not stop a LIM yet (an alarm raised)
    3  major                   (X.733 major)      a LIM runs on the standby, or its Service Node is unhealthy
    4  critical                (X.733 critical)   a LIM is served nowhere (chosen by the caller)

The alarm code of each kind (ALARM_CODE) is in a block of its own, 4100..4109, as an MX-ONE alarm code
names one kind of fault; the SNMP trap carries it (agent/events/traps.py), and so does each line.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

MAX_TEXT = 1000          # characters of text and cause kept in a line (a line stays well under 4 KiB)
MAX_SERVER = 64
MAX_LINE = 16 * 1024     # a longer line is damaged (no line written by event_line is this long)


class EventKind(str, Enum):
    TAKEOVER = "takeover"              # this server took a LIM over (alias added, Service Node started)
    RELEASE = "release"                # this server let a LIM go (alias removed, Service Node stopped)
    FALLBACK = "fallback"              # a LIM went back from the standby to its regular server
    YIELD = "yield"                    # split brain: this server gave way to the other holder of an alias
    HEALTH = "health"                  # a Service Node's health check failed, or passes again
    PAUSE = "pause"                    # maintenance mode on: the agent takes nothing over
    RESUME = "resume"                  # maintenance mode off
    ALARM_RAISED = "alarm_raised"
    ALARM_CLEARED = "alarm_cleared"
    AGENT_STARTED = "agent_started"


ALARM_CODE: dict[EventKind, int] = {
    EventKind.AGENT_STARTED: 4100, EventKind.TAKEOVER: 4101, EventKind.RELEASE: 4102,
    EventKind.FALLBACK: 4103, EventKind.YIELD: 4104, EventKind.HEALTH: 4105, EventKind.PAUSE: 4106,
    EventKind.RESUME: 4107, EventKind.ALARM_RAISED: 4108, EventKind.ALARM_CLEARED: 4109,
}

DEFAULT_SEVERITY: dict[EventKind, int] = {
    EventKind.AGENT_STARTED: 0, EventKind.TAKEOVER: 3, EventKind.RELEASE: 0, EventKind.FALLBACK: 0,
    EventKind.YIELD: 1, EventKind.HEALTH: 3, EventKind.PAUSE: 1, EventKind.RESUME: 0,
    EventKind.ALARM_RAISED: 2, EventKind.ALARM_CLEARED: 0,
}

SEVERITY_NAMES = ("cleared", "warning", "minor", "major", "critical")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char.isprintable():
        return char
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else
                                f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")


def one_line(text: Any, limit: int = MAX_TEXT) -> str:
    """`text` as one printable line: a newline is shown as \\n, any other character that is not printable
    (control characters, line separators, unassigned code points) as \\xNN / \\uNNNN; cut at `limit`
    characters (with "...")."""
    text = str(text)
    if not text.isprintable():
        text = "".join(map(_escaped, text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class Event:
    """One thing that happened on one server. Text, cause and server are made one line when built."""
    at: float                   # wall clock, seconds since the epoch
    server: str                 # the server whose agent recorded it
    kind: EventKind
    lim: int | None
    severity: int               # 0..4, see the module's docstring
    text: str                   # one line for people: "LIM 2 taken over from lim2"
    cause: str = ""             # why, one line: "lim2 silent for 3.0 s"
    generation: int = 0         # the cluster.yaml generation the agent ran

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "text", one_line(self.text))
        object.__setattr__(self, "cause", one_line(self.cause))
        object.__setattr__(self, "server", one_line(self.server, MAX_SERVER))
        if not 0 <= self.severity <= 4:
            raise ValueError(f"severity must be from 0 to 4 (got {self.severity})")

    @property
    def code(self) -> int:
        """The MX-ONE-style alarm code of its kind (ALARM_CODE)."""
        return ALARM_CODE[self.kind]

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "server": self.server, "kind": self.kind.value, "lim": self.lim,
                "severity": self.severity, "code": self.code, "text": self.text, "cause": self.cause,
                "generation": self.generation}


def new_event(kind: EventKind, server: str, text: str, *, lim: int | None = None, cause: str = "",
              generation: int = 0, severity: int | None = None, at: float | None = None) -> Event:
    """An event now, with its kind's default severity unless one is given."""
    return Event(at=time.time() if at is None else at, server=server, kind=kind, lim=lim,
                 severity=DEFAULT_SEVERITY[kind] if severity is None else severity, text=text, cause=cause,
                 generation=generation)


def event_line(event: Event) -> str:
    """The event as one JSON line (ASCII, no newline inside; the caller adds the line end)."""
    return json.dumps(event.to_json(), ensure_ascii=True, separators=(",", ":"))


def _whole(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(value)
    return value


def event_from_json(data: Any) -> Event | None:
    """An event from its JSON object (event_line's, or a control reply's); None when it is none."""
    try:
        if not isinstance(data, dict):
            return None
        at, lim = data["at"], data.get("lim")
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at) or at < 0:
            return None
        strings = [data.get(key, "") for key in ("server", "text", "cause")]
        if not all(isinstance(item, str) for item in strings) or not isinstance(data.get("kind"), str):
            return None
        return Event(at=float(at), server=strings[0], kind=EventKind(data["kind"]),
                     lim=None if lim is None else _whole(lim, 0, 10**6),
                     severity=_whole(data.get("severity"), 0, 4), text=strings[1], cause=strings[2],
                     generation=_whole(data.get("generation", 0), 0, 2**63))
    except Exception:  # noqa: BLE001 - a damaged object is no event, whatever is wrong with it
        return None


def parse_event_line(line: str | bytes) -> Event | None:
    """One history line -> its event, or None for a damaged one. Never raises."""
    try:
        if len(line) > MAX_LINE:
            return None
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        return event_from_json(json.loads(text))
    except Exception:  # noqa: BLE001 - not UTF-8, not JSON, too deep, digits over the limit
        return None


def parse_events(*chunks: bytes, since: float | None = None) -> list[Event]:
    """The events in the bytes of history files (the older file first), damaged lines skipped, at or after
    `since`, in time order (equal times keep their order in the files)."""
    events = []
    for chunk in chunks:
        for line in chunk.split(b"\n"):
            event = parse_event_line(line) if line.strip() else None
            if event is not None and (since is None or event.at >= since):
                events.append(event)
    events.sort(key=lambda event: event.at)
    return events


def event_text(event: Event) -> str:
    """One line for people: time, server, LIM, kind, text, cause, generation."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
    lim = f"LIM {event.lim}" if event.lim is not None else "-"
    cause = f" (cause: {event.cause})" if event.cause else ""
    return f"{when}  {event.server:<10} {lim:<7} {event.kind.value:<13} {event.text}{cause} " \
           f"[generation {event.generation}]"


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """--since: a relative time back from now (`90s`, `10m`, `2h`, `1d`) or an ISO date and time
    (`2026-12-01T10:00`, `2026-12-01 10:00:00`, `2026-12-01`; local time unless it names a zone).
    Raises ValueError with one line naming the value."""
    now = time.time() if now is None else now
    found = _RELATIVE.match(text)
    if found:
        return now - float(found.group(1)) * _UNITS[found.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"--since must be a time such as 10m, 2h, 1d or 2026-12-01T10:00 (got {text!r})") from None
