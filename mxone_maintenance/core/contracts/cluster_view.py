"""The whole cluster as one member's agent hears it: the control socket's `{"cmd": "cluster"}` reply.

The utility's `cluster status` asks the agent on its own server (LIM 1's) instead of every member over
SSH: that agent hears every member's heartbeats and holds the status each one shares (agent/
status_datagram.py). For each member: how long ago it was last heard, and its status with its age and
whether it is the one its latest heartbeat announced (`current`). A member not heard within the
cluster's detection time is silent: its last status is not given (a view must not show a dead server's
LIMs as running). JSON: `{"ok": true, "node", "cluster", "generation", "detect_s", "members":
[MemberView]}`, read with `from_json`, checked field by field like AgentStatus; a member's status that
does not read is that member's problem only (its status None, the reason in its note), so one peer of
another version does not cost the view of the others.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mxone_maintenance.core.contracts import wire
from mxone_maintenance.core.contracts.agent_status import AgentStatus, StatusError


@dataclass(frozen=True)
class MemberView:
    server: str
    heard_ago: float | None          # seconds since its last heartbeat; 0 for the answering agent itself
    status_age: float | None = None  # seconds since the status below was sent (by its sender's clock)
    current: bool = False            # the status is the one its latest heartbeat announced
    status: AgentStatus | None = None
    note: str = ""                   # why there is no status ("never heard", "no status shared yet", ...)

    def silent(self, detect_s: float) -> bool:
        return self.heard_ago is None or self.heard_ago > detect_s


@dataclass(frozen=True)
class ClusterView:
    node: str
    cluster: str
    generation: int
    detect_s: float
    members: tuple[MemberView, ...]

    def to_json(self) -> dict[str, Any]:
        return {"ok": True, **wire.encode(self)}

    @classmethod
    def from_json(cls, value: Any) -> ClusterView:
        if isinstance(value, dict) and value.get("ok") is False:
            error = value.get("error")
            raise StatusError(f"the agent answered an error: {error[:200] if isinstance(error, str) else '?'}")
        if not isinstance(value, dict) or value.get("ok") is not True or not isinstance(value.get("members"), list):
            raise StatusError('cluster view: not an object with "ok": true and "members"')
        members = tuple(_member(item, f"cluster view.members[{i}]") for i, item in enumerate(value["members"]))
        try:
            return wire.decode(cls, {**value, "members": []}, "cluster view")._with(members)
        except wire.WireError as exc:
            raise StatusError(str(exc)) from None

    def _with(self, members: tuple[MemberView, ...]) -> ClusterView:
        return ClusterView(self.node, self.cluster, self.generation, self.detect_s, members)

    def member(self, name: str) -> MemberView | None:
        return next((m for m in self.members if m.server == name), None)


def _member(value: Any, where: str) -> MemberView:
    if not isinstance(value, dict):
        raise StatusError(f"{where}: not an object")
    try:
        member = wire.decode(MemberView, {**value, "status": None}, where)
    except wire.WireError as exc:
        raise StatusError(str(exc)) from None
    status = value.get("status")
    if status is None:
        return member
    try:
        return replace(member, status=AgentStatus.from_json({**status, "ok": True} if isinstance(status, dict)
                                                            else status))
    except StatusError as exc:
        return replace(member, current=False, note=f"its shared status does not read: {exc}")
