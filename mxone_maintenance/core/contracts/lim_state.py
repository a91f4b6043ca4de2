"""What an agent says of one LIM: a LimState with its few parameters, and the words status shows.

decide() produces a LimStatus per LIM; `lim_words` is the one place its words come from, so the text
a technician reads (`mxone-cluster-agent status`, the utility's `cluster status`) stays the same
while programs read the enum. The states follow DESIGN §6 and SCENARIOS.md.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from string import Formatter


class LimState(Enum):
    RUNNING_HERE = "running-here"
    RUNNING_ON = "running-on"                        # servers: who serves it, as this node hears
    NOT_SEEN_RUNNING = "not-seen-running"
    LISTENING = "listening"                          # listening: why we cannot tell yet
    NOT_HEARD = "not-heard"                          # listening, servers: its regular
    LISTENING_FOR = "listening-for"                  # servers: its regular, not failed yet
    LOCKED_TO_STANDBY = "locked-to-standby"
    COMING_BACK = "coming-back"                      # the regular's view: locked to regular
    FALLBACK_ORDERED = "fallback-ordered"
    WAITING_MANUAL = "waiting-manual"
    WAITING_AUTOMATIC = "waiting-automatic"          # the regular's view of automatic fallback
    ON_STANDBY = "on-standby"
    ON_STANDBY_LOCKED = "on-standby-locked"
    ON_STANDBY_SPLIT_BRAIN = "on-standby-split-brain"  # servers: the regular that still serves it
    ON_STANDBY_HOLD = "on-standby-hold"              # the standby's view of automatic fallback
    STARTING_PASSIVE = "starting-passive"
    STARTING_HANDED_OVER = "starting-handed-over"
    STARTING_ALIAS_FREE = "starting-alias-free"
    STARTING_PROBING = "starting-probing"
    STARTING_ALIAS_ANSWERED = "starting-alias-answered"  # mac, servers: the cluster server, if one
    TAKING_OVER_PASSIVE = "taking-over-passive"
    TAKING_OVER_WAITING = "taking-over-waiting"      # servers: the regular that must release it
    TAKING_OVER_HANDED_OVER = "taking-over-handed-over"
    TAKING_OVER_ALIAS_FREE = "taking-over-alias-free"
    TAKING_OVER_PROBING = "taking-over-probing"
    TAKING_OVER_ALIAS_ANSWERED = "taking-over-alias-answered"  # mac, servers: as STARTING_...
    HANDED_BACK = "handed-back"                      # servers: the regular that is to start it
    NOT_RUNNING = "not-running"                      # servers: its regular, up
    NOT_SERVED = "not-served"                        # why (and other_lim)
    SERVICE_FAILED = "service-failed"                # the regular's view: its Service Node did not answer
    PAUSED = "paused"                                # maintenance mode; servers: who serves it, if anyone


class Listening(Enum):
    """Why a node cannot tell yet: it has not listened long enough since it started or got its cable back."""
    STARTING = "starting"
    CABLE_OUT = "cable-out"
    CABLE_BACK = "cable-back"


class NotServed(Enum):
    """Why the standby does not serve a failed regular's LIM."""
    LOCKED_TO_REGULAR = "locked-to-regular"
    LOWER_PRIORITY = "lower-priority"
    STANDBY_BUSY = "standby-busy"                    # other_lim: the LIM it runs instead
    STANDBY_NOT_READY = "standby-not-ready"


_WORDS = {
    LimState.RUNNING_HERE: "running here",
    LimState.RUNNING_ON: "running on {servers}",
    LimState.NOT_SEEN_RUNNING: "not seen running",
    LimState.LISTENING: "{listening}",
    LimState.NOT_HEARD: "unknown: {listening}, {servers} not heard",
    LimState.LISTENING_FOR: "unknown: listening for {servers}",
    LimState.LOCKED_TO_STANDBY: "locked to standby",
    LimState.COMING_BACK: "running on standby, coming back (locked to regular)",
    LimState.FALLBACK_ORDERED: "running on standby, fallback ordered",
    LimState.WAITING_MANUAL: "running on standby, waiting for manual fallback",
    LimState.WAITING_AUTOMATIC: "running on standby, automatic fallback after hold time",
    LimState.ON_STANDBY: "running on standby",
    LimState.ON_STANDBY_LOCKED: "running on standby (locked to standby)",
    LimState.ON_STANDBY_SPLIT_BRAIN: "running on standby, waiting for {servers} to release it (split brain)",
    LimState.ON_STANDBY_HOLD: "running on standby, fallback after hold time",
    LimState.STARTING_PASSIVE: "starting LIM (passive)",
    LimState.STARTING_HANDED_OVER: "starting LIM: alias handed over, taking it",
    LimState.STARTING_ALIAS_FREE: "starting LIM: alias free, taking it",
    LimState.STARTING_PROBING: "starting LIM: probing alias",
    LimState.STARTING_ALIAS_ANSWERED: "starting LIM: alias answered by {answerer}, waiting",
    LimState.TAKING_OVER_PASSIVE: "taking over: starting LIM (passive) first",
    LimState.TAKING_OVER_WAITING: "taking over: waiting for {servers} to release it",
    LimState.TAKING_OVER_HANDED_OVER: "taking over: alias handed over, taking it",
    LimState.TAKING_OVER_ALIAS_FREE: "taking over: alias free, taking it",
    LimState.TAKING_OVER_PROBING: "taking over: probing alias",
    LimState.TAKING_OVER_ALIAS_ANSWERED: "taking over: alias answered by {answerer}, waiting",
    LimState.HANDED_BACK: "handed back, waiting for {servers} to start it",
    LimState.NOT_RUNNING: "not running ({servers} is up)",
    LimState.NOT_SERVED: "not served ({why})",
    LimState.SERVICE_FAILED: "Service Node did not answer here: released to the standby",
    LimState.PAUSED: "PAUSED (maintenance mode): {paused_where}",
}

LISTENING_WORDS = {
    Listening.STARTING: "starting: listening to peers",
    Listening.CABLE_OUT: "cable out: no link on the cluster interface",
    Listening.CABLE_BACK: "cable back: listening to peers",
}

_WHY = {
    NotServed.LOCKED_TO_REGULAR: "locked to regular",
    NotServed.LOWER_PRIORITY: "lower priority",
    NotServed.STANDBY_BUSY: "standby runs LIM {other_lim}",
    NotServed.STANDBY_NOT_READY: "standby not ready",
}


@dataclass(frozen=True)
class LimStatus:
    """One line of status: where the LIM runs as this node sees it, in which state. `servers`, `mac`,
    `listening`, `why` and `other_lim` are the parameters its state names (see LimState)."""
    lim: int
    where: str | None
    kind: LimState
    servers: tuple[str, ...] = ()
    mac: str | None = None
    listening: Listening | None = None
    why: NotServed | None = None
    other_lim: int | None = None

    def __post_init__(self) -> None:
        missing = [name for name in _NEEDS[self.kind] if not _GIVEN[name](self)]
        if missing:
            raise ValueError(f"LIM {self.lim} {self.kind.value}: needs {', '.join(missing)}")

    @property
    def state(self) -> str:
        """The words status shows."""
        return lim_words(self)

    def wire_extra(self) -> dict[str, str]:
        return {"state": self.state}  # the words, for people and scripts reading the JSON


def why_words(why: NotServed, other_lim: int | None = None) -> str:
    return _WHY[why].format(other_lim=other_lim)


def answerer_words(server: str | None, mac: str | None) -> str:
    """Who answered an ARP probe for an alias: a cluster server (by its MAC), or a foreign MAC."""
    return f"{server} ({mac})" if server else f"foreign MAC {mac}"


_PARAMETERS: dict[str, Callable[[LimStatus], str]] = {
    "servers": lambda s: ", ".join(s.servers),
    "listening": lambda s: LISTENING_WORDS[s.listening],
    "why": lambda s: why_words(s.why, s.other_lim),
    "answerer": lambda s: answerer_words(s.servers[0] if s.servers else None, s.mac),
    "paused_where": lambda s: f"running on {', '.join(s.servers)}" if s.servers else "not running",
}
_GIVEN: dict[str, Callable[[LimStatus], bool]] = {
    "servers": lambda s: bool(s.servers),
    "listening": lambda s: s.listening is not None,
    "why": lambda s: s.why is not None and (s.why is not NotServed.STANDBY_BUSY or s.other_lim is not None),
    "answerer": lambda s: s.mac is not None and len(s.servers) <= 1,
    "paused_where": lambda s: True,
}
_NEEDS = {kind: tuple(name for _, name, _, _ in Formatter().parse(text) if name) for kind, text in _WORDS.items()}


def lim_words(status: LimStatus) -> str:
    """The words of a LIM's state, as status has always shown them."""
    return _WORDS[status.kind].format(**{name: _PARAMETERS[name](status) for name in _NEEDS[status.kind]})
