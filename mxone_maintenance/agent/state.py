"""The agent's decision inputs and outputs as immutable values (pure, no I/O).

One cycle of the agent: the runtime takes a snapshot of the world as `Observations`, the pure
`decide()` turns it into a `Decision` (actions, new memory, per-LIM status as a LimStatus from
core/contracts), the runtime applies the actions and feeds the memory back next cycle. All times are
monotonic seconds of the observing node.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Union

from mxone_maintenance.core.contracts.lim_state import LimStatus

# A heartbeat that comes later than this many heartbeat periods after the previous one starts a new
# "heard" period: one lost datagram is no gap, two in a row are (the fallback hold time restarts).
HEARD_GAP_PERIODS = 2.5


@dataclass(frozen=True)
class PeerView:
    """What this node knows of one peer, from the peer's last valid heartbeat."""
    name: str
    last_heard: float | None = None      # when its last valid heartbeat arrived
    heard_since: float | None = None     # start of the current uninterrupted heard period
    running: frozenset[int] = frozenset()   # LIMs whose alias it holds (service started)
    blocked: frozenset[int] = frozenset()   # preloaded: LIMs whose alias its firewall blocks
    releasing: frozenset[int] = frozenset() # LIMs it has just handed back
    fallback_orders: frozenset[int] = frozenset()  # manual fallback orders it was given
    mac: str | None = None               # its interface MAC (to tell cluster from foreign ARP)
    generation: int = 0
    unready: frozenset[int] = frozenset()   # a standby: LIMs it lacks backups of (not ready for them)
    sick: frozenset[int] = frozenset()      # LIMs whose Service Node failed its health check there

    @property
    def active(self) -> frozenset[int]:
        """LIMs it actually serves: alias held and not blocked."""
        return self.running - self.blocked


def heard(peer: PeerView, now: float, heartbeat_s: float, *, running=(), blocked=(), releasing=(),
          fallback_orders=(), mac: str | None = None, generation: int = 0, unready=(), sick=()) -> PeerView:
    """The peer's view after a valid heartbeat arrived at `now` (keeps or restarts the heard period)."""
    gap = peer.last_heard is None or now - peer.last_heard > HEARD_GAP_PERIODS * heartbeat_s
    return replace(peer, last_heard=now, heard_since=now if gap else peer.heard_since,
                   running=frozenset(running), blocked=frozenset(blocked), releasing=frozenset(releasing),
                   fallback_orders=frozenset(fallback_orders), mac=mac or peer.mac, generation=generation,
                   unready=frozenset(unready), sick=frozenset(sick))


@dataclass(frozen=True)
class AliasProbe:
    """Result of an ARP probe for a LIM's alias: who answered (`mac`) and, if a cluster server, which."""
    lim: int
    at: float
    mac: str | None = None
    server: str | None = None

    @property
    def kind(self) -> str:
        if self.mac is None:
            return "none"
        return "cluster" if self.server is not None else "foreign"


@dataclass(frozen=True)
class Memory:
    """What decide() needs to remember between cycles, carried explicitly by the runtime."""
    target: int | None = None                    # standby: the LIM it is taking or runs
    released: tuple[tuple[int, float], ...] = ()    # (lim, when) handed back, announced as releasing
    announced: tuple[tuple[int, float], ...] = ()   # (lim, when) last gratuitous ARP
    takeovers: tuple[tuple[int, float], ...] = ()   # standby: (lim, when) it took a LIM from a failed regular
    damped: frozenset[int] = frozenset()            # standby: LIMs whose automatic fallback flapping made manual

    def released_at(self, lim: int) -> float | None:
        return next((at for number, at in self.released if number == lim), None)

    def announced_at(self, lim: int) -> float | None:
        return next((at for number, at in self.announced if number == lim), None)

    @property
    def releasing(self) -> frozenset[int]:
        return frozenset(number for number, _ in self.released)


@dataclass(frozen=True)
class Observations:
    """A snapshot of everything this node knows at one moment."""
    node: str
    started_at: float                              # when this agent started
    peers: tuple[PeerView, ...] = ()
    running: frozenset[int] = frozenset()          # LIMs whose alias is on my interface
    blocked: frozenset[int] = frozenset()          # preloaded: LIMs whose alias my firewall blocks
    probes: tuple[AliasProbe, ...] = ()            # latest probe result per LIM
    fallback_orders: frozenset[int] = frozenset()  # manual fallback orders given to this agent
    alarms: frozenset[str] = frozenset()           # keys of active alarms decide() owns
    memory: Memory = field(default_factory=Memory)
    link_down: bool = False                        # no carrier on the cluster interface (cable out)
    link_back_at: float | None = None              # when the carrier last came back while we ran
    sick: frozenset[int] = frozenset()             # LIMs whose Service Node failed its health check here
    paused: bool = False                           # maintenance mode: keep serving, decide nothing

    def peer(self, name: str) -> PeerView:
        found = self._peers_by_name.get(name)
        return found if found is not None else PeerView(name)

    @cached_property
    def _peers_by_name(self) -> dict[str, PeerView]:
        """decide() asks for peers by name ~60 times a cycle with ten peers: a dict, not a scan each time."""
        return {peer.name: peer for peer in reversed(self.peers)}     # the first of a name wins, as before

    def probe(self, lim: int) -> AliasProbe | None:
        return next((p for p in self.probes if p.lim == lim), None)

    @property
    def active(self) -> frozenset[int]:
        return self.running - self.blocked


# --- actions -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeAlias:
    """ARP-probe the LIM's alias; the result comes back as an AliasProbe next cycle."""
    lim: int


@dataclass(frozen=True)
class TakeAlias:
    """Add the alias, send gratuitous ARP at once (unless `announce` is False: preloaded passive
    side, whose ARP the firewall drops anyway), start the LIM's service."""
    lim: int
    announce: bool = True


@dataclass(frozen=True)
class ReleaseAlias:
    """Stop the LIM's service and remove its alias. `reason` is for the log and the tests."""
    lim: int
    reason: str = ""


@dataclass(frozen=True)
class Announce:
    """Gratuitous ARP for the alias (after a takeover, and periodically while serving)."""
    lim: int


@dataclass(frozen=True)
class Block:
    """Preloaded: drop the alias in the kernel (ARP and IP): this side becomes passive."""
    lim: int
    reason: str = ""


@dataclass(frozen=True)
class Unblock:
    """Preloaded: let the alias through (follow with Announce): this side becomes active."""
    lim: int


@dataclass(frozen=True)
class SyncData:
    """Row 23, the LIM's newer data goes from the standby to the regular before the regular starts it.
    On the standby (before ReleaseAlias/Block): make sure `server` holds our newest data; the runtime
    stops the cycle's remaining actions until it does. On the regular (while the standby serves its
    LIM and a fallback may come): fetch the standby's newer data; runs in the background."""
    lim: int
    server: str


@dataclass(frozen=True)
class RaiseAlarm:
    key: str
    text: str


@dataclass(frozen=True)
class ClearAlarm:
    key: str


Action = Union[ProbeAlias, TakeAlias, ReleaseAlias, Announce, Block, Unblock, SyncData, RaiseAlarm,
               ClearAlarm]


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...] = ()
    memory: Memory = field(default_factory=Memory)
    status: tuple[LimStatus, ...] = ()
    completed_orders: frozenset[int] = frozenset()  # fallback orders done (or moot): drop them

    def of(self, kind: type) -> tuple:
        return tuple(a for a in self.actions if isinstance(a, kind))

