"""Heartbeats in and out of the loop: what the peers' heartbeats tell (their PeerViews), and ours,
sent every heartbeat period and at once when what we say changed (a fast fallback)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

from mxone_maintenance.agent import state as st
from mxone_maintenance.agent.heartbeat_wire import Heartbeat
from mxone_maintenance.agent.heartbeat_flags import parse_flags
from mxone_maintenance.agent.runtime.ports import HeartbeatPort
from mxone_maintenance.core.model import Cluster

Heard = Callable[[str, float, tuple[str, ...]], None]   # (peer, its wall clock, its flags): the data sync's ear


# What a heartbeat can tell beside "still here" (its arrival time): a change in any is news. Compared
# field by field, not as two dataclasses.replace copies per heartbeat.
_TOLD = tuple(f.name for f in fields(st.PeerView) if f.name != "last_heard")


def receive(channel: HeartbeatPort, config: Cluster, node: str, peers: dict[str, st.PeerView], now: float,
            heard: Heard) -> bool:
    """Take in the heartbeats that arrived; True if one told something new (a peer heard for the
    first time or after a gap, or what it runs, blocks, releases or was ordered changed)."""
    members = set(config.member_names) - {node}
    news = False
    for hb, _source in channel.receive_all():
        if hb.node not in members:
            continue
        flags = parse_flags(hb.flags)
        heard(hb.node, hb.sent_wall, hb.flags)
        peer = peers.get(hb.node, st.PeerView(hb.node))
        peers[hb.node] = st.heard(peer, now, config.heartbeat_s, running=hb.running, blocked=hb.blocked,
                                  releasing=hb.releasing, fallback_orders=flags.fallback, mac=flags.mac,
                                  generation=hb.generation, unready=flags.unready, sick=flags.sick)
        news = news or any(getattr(peer, name) != getattr(peers[hb.node], name) for name in _TOLD)
    return news


@dataclass(frozen=True)
class OwnLims:
    """What this server says it runs: the aliases it holds, and of them the ones blocked (preloaded)."""
    held: tuple[int, ...] = ()
    blocked: tuple[int, ...] = ()

    @property
    def serving(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.held) - set(self.blocked)))

    @property
    def passive(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.held) & set(self.blocked)))


class HeartbeatOut:
    def __init__(self, node: str, wall: Callable[[], float], started: float) -> None:
        self.node, self.wall, self.started = node, wall, started
        self.seq = 0
        self.next_at = 0.0
        self.last_sent: tuple = ()
        self.own = OwnLims()

    def send(self, config: Cluster, channel: HeartbeatPort, own: OwnLims, releasing: Iterable[int],
             flags: tuple[str, ...], now: float) -> None:
        """Send when due, or at once when its content changed."""
        releasing = tuple(sorted(releasing))
        content = (own.held, own.blocked, releasing, flags, config.generation)
        self.own = own
        if now < self.next_at and content == self.last_sent:
            return
        hb = Heartbeat(cluster=config.name, node=self.node, generation=config.generation, seq=self.seq,
                       sent_wall=self.wall(), running=own.held, blocked=own.blocked, releasing=releasing,
                       up_since=round(now - self.started, 3), flags=flags)
        self.seq += 1
        targets = [str(config.base_of(name).ip) for name in config.member_names if name != self.node]
        channel.send(hb, targets)
        self.last_sent, self.next_at = content, now + config.heartbeat_s
