"""The agent's status, as its control socket answers `{"cmd": "status"}` and `mxone-cluster-agent
status --json` prints it: built by the agent, read by `mxone-cluster-agent status` and by the utility's
`cluster status` (over SSH, so from another host: `from_json` checks every value and raises StatusError
for anything malformed). The utility of one version reads the agent of the same version.

The JSON object: `{"ok": true, "node", "now" (wall clock), "cluster", "generation", "config" ("ok" or why
there is none), "fallback", "failover", "lims": [LimStatus], "running", "blocked" (what this server itself
serves, and holds blocked as a preloaded passive side), "peers", "alarms", "fallback_orders", "sync"
(docs/INTERFACES.md), "sync_checks" (the row-23 checks before a hand-back), "counters" (heartbeats),
"up_s", "links" (the cluster interface's links when it is a bond: [LinkStatus]; optional, an older
agent sends none)}`. A LIM's entry has its LimState (`kind` and parameters) and, derived from them, the words
(`state`).
"""
from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mxone_maintenance.core.contracts import wire
from mxone_maintenance.core.contracts.lim_state import LimState, LimStatus, Listening, NotServed, lim_words

__all__ = ["AgentStatus", "AlarmStatus", "LimState", "LimStatus", "LinkStatus", "Listening", "NotServed", "PeerStatus",
           "StatusError", "SyncCheck", "SyncEntry", "lim_words"]


class StatusError(ValueError):
    """What came is not an agent's status; str() is one line saying where it is wrong."""


@dataclass(frozen=True)
class PeerStatus:
    """A peer as this agent hears it (seconds since its last heartbeat and since its heard period began)."""
    name: str
    generation: int
    heard_ago: float | None = None
    heard_for: float | None = None
    running: tuple[int, ...] = ()
    blocked: tuple[int, ...] = ()


@dataclass(frozen=True)
class AlarmStatus:
    """An active or recently cleared alarm; times are the agent's wall clock."""
    key: str
    text: str
    raised: float
    cleared: float | None = None

    @property
    def active(self) -> bool:
        return self.cleared is None

    def wire_extra(self) -> dict[str, bool]:
        return {"active": self.active}


@dataclass(frozen=True)
class LinkStatus:
    """One link of the cluster interface's bond (network redundancy): its name and whether it works."""
    name: str
    up: bool


@dataclass(frozen=True)
class SyncCheck:
    """The last check that a regular holds our newest data before a hand-back (row 23)."""
    lim: int
    peer: str
    ok: bool
    ago: float
    error: str = ""


@dataclass(frozen=True)
class SyncEntry:
    """One LIM's data sync with its peer (docs/INTERFACES.md, "Data sync in the agent")."""
    lim: int
    peer: str
    state: str = "idle"
    last: float | None = None
    ok: bool | None = None
    age_s: float | None = None
    direction: str | None = None
    version: str | None = None
    reason: str | None = None
    transferred: bool = False
    bytes: int = 0
    error: str | None = None
    reloaded: bool | None = None
    clock_skew_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class AgentStatus:
    """What one agent sees; an agent without a (usable) cluster config has `cluster` None and says why in
    `config`. `running` None: the agent did not say what it serves (read `where` from `lims`)."""
    node: str
    now: float = 0.0
    cluster: str | None = None
    generation: int | None = None
    config: str = "no cluster config"
    fallback: str | None = None
    failover: str | None = None
    lims: tuple[LimStatus, ...] = ()
    running: tuple[int, ...] | None = ()
    blocked: tuple[int, ...] = ()
    peers: tuple[PeerStatus, ...] = ()
    alarms: tuple[AlarmStatus, ...] = ()
    fallback_orders: tuple[int, ...] = ()
    sync: tuple[SyncEntry, ...] = ()
    sync_checks: tuple[SyncCheck, ...] = ()
    counters: Mapping[str, int] = field(default_factory=dict)
    up_s: float = 0.0
    links: tuple[LinkStatus, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON object (as dicts and lists), with the control socket's `"ok": true` first."""
        return {"ok": True, **wire.encode(self)}

    @classmethod
    def from_json(cls, value: Any) -> AgentStatus:
        """A decoded JSON value as a status; raises StatusError for anything else (an error reply too)."""
        if isinstance(value, dict) and value.get("ok") is False:
            raise StatusError(f"the agent answered an error: {_one_line(value.get('error'))}")
        if not isinstance(value, dict) or value.get("ok") is not True:
            raise StatusError('agent status: not an object with "ok": true')
        try:
            return wire.decode(cls, {**ADDED_LATER, **value}, "agent status")
        except wire.WireError as exc:
            raise StatusError(str(exc)) from None

    @classmethod
    def loads(cls, text: str | bytes) -> AgentStatus:
        """The status in JSON text (what `mxone-cluster-agent status --json` printed)."""
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:   # not UTF-8, not JSON, NaN, nested too deep
            raise StatusError(f"agent status: not JSON ({str(exc)[:80]})") from None
        return cls.from_json(value)

    def lim(self, number: int) -> LimStatus | None:
        return next((item for item in self.lims if item.lim == number), None)


# Fields an older agent's status does not have yet, with what their absence means.
ADDED_LATER: dict[str, Any] = {"links": []}


def _one_line(value: Any) -> str:
    return value[:200] if isinstance(value, str) else reprlib.repr(value)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")
