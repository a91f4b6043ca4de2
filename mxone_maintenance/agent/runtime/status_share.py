"""Our status to the peers, and the whole cluster as we hear it (core/contracts/cluster_view.py).

`publish` runs after each cycle: the status goes out (agent/status_datagram.py) when what it says
changed, at most every MIN_GAP_S, and every REFRESH_S anyway; our heartbeats announce the digest of
the one sent last. `view` runs on the control thread: it reads only the published status (a snapshot)
and the channel's book, never the loop's state.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mxone_maintenance.agent.status_datagram import (
    REFRESH_S,
    BadStatus,
    StatusBook,
    digest_flag,
    digest_of,
    encode_status,
)
from mxone_maintenance.core.contracts.agent_status import AgentStatus, StatusError
from mxone_maintenance.core.contracts.cluster_view import ClusterView, MemberView
from mxone_maintenance.core.model import Cluster

MIN_GAP_S = 0.05      # a status changing every cycle (a takeover's steps) goes out at most this often


def shared(status: AgentStatus) -> AgentStatus:
    """What a peer needs of our status: not our view of the others' ages, nor our counters."""
    return replace(status, peers=(), counters={})


def steady(status: AgentStatus) -> AgentStatus:
    """The status without the values that change with time alone: what a change is judged by."""
    return replace(shared(status), now=0.0, up_s=0.0,
                   sync=tuple(replace(e, age_s=None, clock_skew_s=None) for e in status.sync),
                   sync_checks=tuple(replace(c, ago=0.0) for c in status.sync_checks))


class StatusShare:
    def __init__(self, wall: Callable[[], float]) -> None:
        self.wall = wall
        self.digest: int | None = None
        self.last: AgentStatus | None = None      # steady() of what was sent last
        self.sent_at = float("-inf")

    def flags(self) -> tuple[str, ...]:
        return (digest_flag(self.digest),) if self.digest is not None else ()

    def publish(self, status: AgentStatus, config: Cluster, node: str, channel: Any, now: float) -> bool:
        """Send our status to every peer if due; True if sent."""
        send, key = getattr(channel, "send_status", None), getattr(channel, "key", None)
        if send is None or not key:
            return False
        current = steady(status)
        changed = current != self.last
        if now - self.sent_at < (MIN_GAP_S if changed else REFRESH_S):
            return False
        if changed:
            canonical = json.dumps(current.to_json(), sort_keys=True, separators=(",", ":")).encode()
            self.last, self.digest = current, digest_of(canonical)
        targets = [str(base.ip) for name in config.member_names
                   if name != node and (base := config.base_of(name)) is not None]
        send(encode_status(shared(status).to_json(), self.digest, self.wall(), key), targets)
        self.sent_at = now
        return True


def view(config: Cluster, published: AgentStatus, book: StatusBook | None, wall_now: float) -> ClusterView:
    """The cluster as the published status and the book say, `wall_now` being the time of asking."""
    since_published = max(0.0, wall_now - published.now)
    heard = {p.name: p.heard_ago for p in published.peers}
    members = []
    for name in config.member_names:
        if name == published.node:
            members.append(MemberView(name, 0.0, round(since_published, 3), True, published))
            continue
        ago = heard.get(name)
        ago = None if ago is None else round(ago + since_published, 3)
        members.append(_member(name, ago, config, book, wall_now))
    return ClusterView(published.node, config.name, config.generation, config.detect_s, tuple(members))


def _member(name: str, heard_ago: float | None, config: Cluster, book: StatusBook | None,
            wall_now: float) -> MemberView:
    if heard_ago is None:
        return MemberView(name, None, note="not heard since this agent started")
    if heard_ago > config.detect_s:
        return MemberView(name, heard_ago, note=f"silent for {heard_ago:.1f} s")
    received, current = book.latest(name) if book is not None else (None, False)
    if received is None:
        return MemberView(name, heard_ago, note="no status shared yet")
    age = max(0.0, wall_now - received.sent_wall)
    try:
        status = AgentStatus.from_json(_aged(received.status_json(), age))
    except (BadStatus, StatusError, OverflowError) as exc:
        return MemberView(name, heard_ago, round(age, 3), note=f"its shared status is unreadable: {exc}")
    if status.node != name or status.cluster != config.name:
        return MemberView(name, heard_ago, round(age, 3), note=f"its shared status names {status.node!r} "
                                                                 f"of cluster {status.cluster!r}")
    return MemberView(name, heard_ago, round(age, 3), current, status)


def _aged(value: dict, age: float) -> dict:
    """The sync ages as they are now, not as they were when the status was sent."""
    sync = value.get("sync")
    if isinstance(sync, list):
        value["sync"] = [{**e, "age_s": round(e["age_s"] + age, 1)}
                         if isinstance(e, dict) and isinstance(e.get("age_s"), (int, float))
                         and not isinstance(e.get("age_s"), bool) else e for e in sync]
    return value
