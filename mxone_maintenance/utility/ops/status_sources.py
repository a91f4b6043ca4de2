"""Where `cluster status` gets each member's status: from the agent on this server first, over SSH for
what it cannot tell.

The agent on LIM 1's server (where the technician sits) hears every member of its cluster: their
heartbeats, and the statuses they share (core/contracts/cluster_view.py). One local socket call gives
the whole cluster in milliseconds, each member with the age of what is known of it, and a dead member
costs no wait: it is named silent, with how long. SSH is used only for what that agent cannot tell:
- a cluster this server's agent is not in (a system of several clusters), or every cluster when the
  agent does not answer (stopped, not installed, not yet in a cluster);
- a member it hears but whose shared status it lacks or holds only an old one of (it just started, a
  datagram was lost, an older agent): that member is alive, so asking it costs no dead-server wait.
What only SSH ever tells (and status does not ask): that a server's sshd answers with its pinned host
key and what its files say; the checks before a change ask those.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mxone_maintenance.core.contracts.agent_status import AgentStatus, StatusError
from mxone_maintenance.core.contracts.cluster_view import ClusterView, MemberView
from mxone_maintenance.core.contracts.control_client import ControlError, ask
from mxone_maintenance.core.model import Cluster

LOCAL_TIMEOUT_S = 1.0      # the local agent answers from memory: a slower one is treated as absent
FRESH_ENOUGH_S = 1.0       # a shared status not yet announced by a heartbeat is used this young (in flight)


@dataclass(frozen=True)
class ServerReport:
    """One agent's answer, or why there is none; `via` names the agent that relayed it ("" asked over
    SSH just now) and `age_s` how old the information is (None: just now)."""
    server: str
    reachable: bool
    agent: AgentStatus | None = None
    error: str = ""
    via: str = ""
    age_s: float | None = None

    def running(self) -> set[int]:
        """The LIMs this server runs by its own agent's word (its own view of where each LIM runs; an agent
        that does not say: the LIMs it places on itself)."""
        if self.agent is None:
            return set()
        if self.agent.running is not None:
            return set(self.agent.running)
        return {item.lim for item in self.agent.lims if item.where == self.server}

    def blocked(self) -> set[int]:
        return set(self.agent.blocked) if self.agent is not None else set()

    def lim(self, number: int):
        return self.agent.lim(number) if self.agent is not None else None


def local_view(socket: Path | None) -> ClusterView | str:
    """The cluster as this server's agent hears it, or why there is none (one line)."""
    if socket is None:
        return "no local agent"
    try:
        return ClusterView.from_json(ask(socket, {"cmd": "cluster"}, timeout=LOCAL_TIMEOUT_S))
    except (ControlError, StatusError) as exc:
        return str(exc)


def from_view(cluster: Cluster, view: ClusterView) -> tuple[dict[str, ServerReport], list[str]]:
    """The members the view tells about, and the names of those to ask over SSH."""
    reports: dict[str, ServerReport] = {}
    ask_over_ssh = []
    for name in cluster.member_names:
        member = view.member(name)
        report = _report(name, member, view) if member is not None else None
        if report is None:
            ask_over_ssh.append(name)
        else:
            reports[name] = report
    return reports, ask_over_ssh


def _report(name: str, member: MemberView, view: ClusterView) -> ServerReport | None:
    if member.silent(view.detect_s):
        heard = (f"silent for {member.heard_ago:.1f} s" if member.heard_ago is not None
                 else "not heard since its agent started")
        return ServerReport(name, False, error=f"{heard} (as {view.node}'s agent hears it)", via=view.node,
                            age_s=member.heard_ago)
    usable = member.status is not None and (member.current or (member.status_age or 0.0) <= FRESH_ENOUGH_S)
    if not usable:
        return None
    age = member.heard_ago if member.current else member.status_age
    return ServerReport(name, True, member.status, via=view.node, age_s=age)
