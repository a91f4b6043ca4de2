"""Our status to the peers, and the whole cluster as we hear it (core/contracts/cluster_view.py).

`publish` runs after each cycle: the status goes out (agent/status_datagram.py) when what it says
changed, at most every MIN_GAP_S, and every REFRESH_S anyway; our heartbeats announce the digest of
the one sent last. `view` runs on the control thread: it reads only the published status (a snapshot)
and the channel's book, never the loop's state.
"""
from __future__ import annotations

import math
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
from mxone_maintenance.core.contracts.agent_status import AgentStatus
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
        if now - self.sent_at < MIN_GAP_S:      # before building anything: this runs every cycle
            return False
        current = steady(status)
        changed = current != self.last
        if not changed and now - self.sent_at < REFRESH_S:
            return False
        if changed:       # the digest is only ever compared with our own: repr is as good as JSON, and cheaper
            self.last, self.digest = current, digest_of(repr(current).encode())
        targets = [str(base.ip) for name in config.member_names
                   if name != node and (base := config.base_of(name)) is not None]
        send(encode_status(shared(status).to_json(), self.digest, self.wall(), key), targets)
        self.sent_at = now
        return True


def view(config: Cluster, published: AgentStatus, book: StatusBook | None, wall_now: float) -> dict[str, Any]:
    """The control socket's `cluster` reply (core/contracts/cluster_view.py) as the published status and
    the book say, `wall_now` being the time of asking. The peers' statuses go out as they came, checked
    only for whose they are: the asker reads each one field by field (it must anyway), so they are not
    decoded twice."""
    since_published = max(0.0, wall_now - published.now)
    heard = {p.name: p.heard_ago for p in published.peers}
    members = []
    for name in config.member_names:
        if name == published.node:
            members.append({**_member(name, 0.0), "status_age": round(since_published, 3), "current": True,
                            "status": published.to_json()})
            continue
        ago = heard.get(name)
        ago = None if ago is None else round(ago + since_published, 3)
        members.append(_peer(name, ago, config, book, wall_now))
    return {"ok": True, "node": published.node, "cluster": config.name, "generation": config.generation,
            "detect_s": config.detect_s, "members": members}


def _member(name: str, heard_ago: float | None, status_age: float | None = None, note: str = "") -> dict[str, Any]:
    return {"server": name, "heard_ago": heard_ago, "status_age": status_age, "current": False, "status": None,
            "note": note}


def _peer(name: str, heard_ago: float | None, config: Cluster, book: StatusBook | None,
          wall_now: float) -> dict[str, Any]:
    if heard_ago is None:
        return _member(name, None, note="not heard since this agent started")
    if heard_ago > config.detect_s:
        return _member(name, heard_ago, note=f"silent for {heard_ago:.1f} s")
    received, current = book.latest(name) if book is not None else (None, False)
    if received is None:
        return _member(name, heard_ago, note="no status shared yet")
    age = round(max(0.0, book.monotonic() - received.received), 3)   # our clock: the sender's may be off
    try:
        status = received.status_json()
    except BadStatus as exc:
        return _member(name, heard_ago, age, f"its shared status is unreadable: {exc}")
    if status.get("node") != name or status.get("cluster") != config.name:
        return _member(name, heard_ago, age, f"its shared status names {status.get('node')!r} of cluster "
                                             f"{status.get('cluster')!r}")
    return {**_member(name, heard_ago, age), "current": current, "status": _aged(status, age)}


def _aged(value: dict, age: float) -> dict:
    """The sync ages as they are now, not as they were when the status was sent."""
    sync = value.get("sync")
    if isinstance(sync, list):
        value["sync"] = [{**e, "age_s": e["age_s"] + age} if isinstance(e, dict) and _finite(e.get("age_s"))
                         else e for e in sync]
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) or type(value) is int and abs(value) < 1e15
