"""The status the loop publishes after each cycle (core/contracts/agent_status.py); the control
thread answers with the last one, so it never reads the loop's state while a cycle changes it."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mxone_maintenance.agent import state as st
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.heartbeats import OwnLims
from mxone_maintenance.core.contracts.agent_status import AgentStatus, PeerStatus, SyncCheck, SyncEntry
from mxone_maintenance.core.model import Cluster


def peer_status(peer: st.PeerView, now: float) -> PeerStatus:
    return PeerStatus(peer.name, peer.generation,
                      heard_ago=None if peer.last_heard is None else round(now - peer.last_heard, 3),
                      heard_for=None if peer.heard_since is None else round(now - peer.heard_since, 3),
                      running=tuple(sorted(peer.running)), blocked=tuple(sorted(peer.blocked)))


def agent_status(node: str, config: Cluster | None, note: str, *, wall: float, now: float, up_s: float,
                 decision: st.Decision | None, own: OwnLims, peers: Iterable[st.PeerView], alarms: AlarmBook,
                 orders: Iterable[int], sync: Iterable[Mapping[str, Any]], sync_checks: tuple[SyncCheck, ...],
                 counters: Any) -> AgentStatus:
    """`now` is the loop's clock (ages), `wall` the time of day; `sync` the data sync's entries
    (datasync/words.py status_entry: plain values by SyncEntry's field names, so SyncEntry(**entry), not
    the checking wire.decode, which took a third of an idle cycle); `counters` the channel's heartbeat
    counters (None without a channel)."""
    if config is None:
        decision, own = None, OwnLims()
    return AgentStatus(
        node=node, now=wall,
        cluster=config.name if config else None,
        generation=config.generation if config else None,
        config="ok" if config else note,
        fallback=config.fallback if config else None,
        failover=config.failover if config else None,
        lims=decision.status if decision else (),
        running=own.serving, blocked=own.passive,
        peers=tuple(peer_status(p, now) for p in sorted(peers, key=lambda p: p.name)),
        alarms=alarms.as_status(),
        fallback_orders=tuple(sorted(orders)),
        sync=tuple(SyncEntry(**entry) for entry in sync),
        sync_checks=sync_checks,
        counters=dict(vars(counters)) if counters is not None else {},
        up_s=round(up_s, 3))
