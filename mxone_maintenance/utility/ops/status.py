"""Cluster status as the agents report it: where every LIM runs, locks, preloaded state, peers, alarms.

The agent on this server answers for its whole cluster (status_sources.py: what it hears of every
member); the members it cannot tell about, and other clusters, are asked in parallel over SSH
(`mxone-cluster-agent status --json`, read as an AgentStatus: core/contracts/agent_status.py). A server
that does not answer, or answers no status, is shown as such, never guessed at. The merge is pure
(`merge_status`), so the menus' Show status and `cluster status` print the same thing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mxone_maintenance.core.contracts import wire
from mxone_maintenance.core.contracts.agent_status import AgentStatus, LimState
from mxone_maintenance.core.contracts.cluster_view import ClusterView
from mxone_maintenance.core.model import Cluster, System
from mxone_maintenance.utility.ops.status_sources import ServerReport, from_view, local_view
from mxone_maintenance.utility.remote.settings import SshSettings

if TYPE_CHECKING:   # the requests' 14 dataclasses cost `cluster status` ~10 ms to build; a change loads them
    from mxone_maintenance.utility.ops.requests import RuntimeFacts

STATUS_CONNECT_S = 2.5   # a server that does not connect within this is "not answering" in this report


@dataclass(frozen=True)
class LimRow:
    cluster: str
    lim: int
    regular: str
    runs_on: str               # server name, "nowhere", or "unknown"
    state: str
    lock: str
    preloaded: str             # "" or e.g. "passive on sb1 (blocked)"


@dataclass(frozen=True)
class Alarm:
    server: str
    text: str
    raised: str
    cleared: str = ""


@dataclass(frozen=True)
class SyncRow:
    """The last exchange-data sync of one LIM, as the standby's agent reports it."""
    lim: int
    when: str
    age_s: float | None
    ok: bool | None
    version: str
    state: str
    to: str = ""            # a regular pulling the standby's data (a fallback or a replaced server coming)

    def describe(self) -> str:
        if self.to:
            return f"LIM {self.lim} to {self.to}: {self.state}"
        if self.ok is None:
            return f"LIM {self.lim}: never synced ({self.state})"
        outcome = "ok" if self.ok else "FAILED"
        age = f"{self.age_s:.0f} s ago" if self.age_s is not None else "age unknown"
        return f"LIM {self.lim}: last sync {outcome} {self.when} ({age}), {self.version or 'no version'}"


@dataclass(frozen=True)
class ClusterReport:
    cluster: Cluster
    rows: tuple[LimRow, ...]
    servers: tuple[ServerReport, ...]
    alarms: tuple[Alarm, ...]
    syncs: tuple[SyncRow, ...] = ()
    disagreement: str = ""     # e.g. "system.yaml says generation 3; lim2 runs 9"; "" when all agree


def generation_disagreement(cluster: Cluster, reports: dict[str, ServerReport]) -> str:
    """Where an agent runs another generation than system.yaml (a backup restored, a member that has
    not caught up, an unfinished change)."""
    other = [f"{name} runs {r.agent.generation}" for name, r in reports.items()
             if r.agent is not None and r.agent.generation is not None and r.agent.generation != cluster.generation]
    return f"system.yaml says generation {cluster.generation}; {', '.join(other)}" if other else ""


@dataclass(frozen=True)
class StatusReport:
    clusters: tuple[ClusterReport, ...]

    @property
    def complete(self) -> bool:
        return all(s.reachable for c in self.clusters for s in c.servers)

    def to_json(self) -> dict:
        return {"complete": self.complete, "clusters": [{
            "cluster": c.cluster.name, "generation": c.cluster.generation, "failover": c.cluster.failover,
            "fallback": c.cluster.fallback,
            "lims": [row.__dict__ for row in c.rows],
            "servers": [{"server": s.server, "reachable": s.reachable, "error": s.error,
                         "peers": wire.encode(s.agent.peers) if s.agent is not None else [],
                         "generation": s.agent.generation if s.agent is not None else None,
                         "via": s.via or "ssh", "age_s": s.age_s,
                         "links": wire.encode(s.agent.links) if s.agent is not None else []}
                        for s in c.servers],
            "alarms": [a.__dict__ for a in c.alarms], "disagreement": c.disagreement,
            "sync": [row.__dict__ for row in c.syncs]} for c in self.clusters]}


def _where(lim: int, cluster: Cluster, reports: dict[str, ServerReport]) -> str:
    holders = [name for name, r in reports.items() if lim in r.running()]
    if holders:
        return "+".join(sorted(holders, key=cluster.member_names.index))
    if all(r.reachable for r in reports.values()):
        return "nowhere"
    return "unknown"


def _state(lim: int, regular: str, runs_on: str, reports: dict[str, ServerReport]) -> str:
    """The agents' own words first (they know about waiting for fallback and the like)."""
    where = "on regular" if runs_on == regular else "on standby"
    for name in (runs_on, regular, *reports):
        item = reports[name].lim(lim) if name in reports else None
        if item is not None:
            # an agent speaks of itself ("running here"): say which server that is
            return f"running {where}" if item.kind is LimState.RUNNING_HERE else item.state
    if runs_on == "nowhere":
        return "not served"
    if runs_on == "unknown":
        return "unknown (servers not answering)"
    return "running on regular" if runs_on == regular else "running on standby"


def _preloaded(cluster: Cluster, lim: int, reports: dict[str, ServerReport]) -> str:
    if cluster.failover != "preloaded":
        return ""
    passive = [name for name, r in reports.items() if lim in r.blocked()]
    return f"passive on {', '.join(passive)} (alias blocked)" if passive else "no passive side"


def _clock(value: float | None) -> str:
    """An agent's alarm time (seconds since the epoch) as the technician's local date and time."""
    if isinstance(value, (int, float)) and value > 0:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    return str(value or "")


def _without_name(server: str, error: str) -> str:
    """Errors from the remote layer start with "name (address): "; the alarm line names the server already."""
    head, sep, rest = error.partition(": ")
    return rest if sep and head.split(" ")[0] == server else error


def _alarms(reports: dict[str, ServerReport]) -> tuple[Alarm, ...]:
    alarms = [Alarm(name, a.text, _clock(a.raised), _clock(a.cleared))
              for name, r in reports.items() if r.agent is not None for a in r.agent.alarms]
    alarms += [Alarm(name, f"does not answer: {_without_name(name, r.error)}", time.strftime("%Y-%m-%d %H:%M:%S"))
               for name, r in reports.items() if not r.reachable]
    return tuple(alarms)


def _syncs(cluster: Cluster, reports: dict[str, ServerReport]) -> tuple[SyncRow, ...]:
    standby = reports.get(cluster.standby.server)
    entries = sorted(standby.agent.sync if standby and standby.agent is not None else (), key=lambda e: e.lim)
    rows = [SyncRow(e.lim, _clock(e.last), e.age_s, e.ok, e.version or "", e.state) for e in entries]
    for item in cluster.lims:          # a regular's own pull shows while it runs (what its fallback waits for)
        report = reports.get(item.server)
        for e in report.agent.sync if report is not None and report.agent is not None else ():
            if e.lim == item.lim and e.state.startswith("running"):
                rows.append(SyncRow(e.lim, _clock(e.last), e.age_s, e.ok, e.version or "", e.state, to=item.server))
    return tuple(rows)


def merge_status(cluster: Cluster, reports: dict[str, ServerReport]) -> ClusterReport:
    rows = []
    for item in cluster.lims:
        runs_on = _where(item.lim, cluster, reports)
        state = _state(item.lim, item.server, runs_on, reports)
        rows.append(LimRow(cluster.name, item.lim, item.server, runs_on, state, item.lock or "-",
                           _preloaded(cluster, item.lim, reports)))
    return ClusterReport(cluster, tuple(rows), tuple(reports[name] for name in cluster.member_names),
                         _alarms(reports), _syncs(cluster, reports), generation_disagreement(cluster, reports))


def _ask_agent(conn) -> AgentStatus:
    from mxone_maintenance.utility.ops.agent_command import agent_command
    return AgentStatus.loads(conn.run([agent_command(), "status", "--json"], timeout=10).stdout)


def for_status(settings: SshSettings) -> SshSettings:
    """The settings `cluster status` and the status screen use: a server that does not connect within
    STATUS_CONNECT_S is shown as not answering (a dead server must not hold the whole report). Checks
    before a change keep the full timeouts: a busy standby is not refused for being slow."""
    return replace(settings, connect_timeout=min(settings.connect_timeout, STATUS_CONNECT_S))


def _over_ssh(system: System, names: list[str], settings: SshSettings) -> dict[str, ServerReport]:
    """Ask these servers' agents at once (paramiko loads only when one has to be asked)."""
    if not names:
        return {}
    from mxone_maintenance.utility.remote.fleet import Fleet
    from mxone_maintenance.utility.remote.ssh import Host
    hosts = [Host(name, str(system.management_address(name).ip)) for name in names]
    with Fleet(hosts, settings) as fleet:
        outcomes = fleet.each(_ask_agent)
    return {name: ServerReport(name, o.ok, o.value, o.error) for name, o in outcomes.items()}


def collect_status(system: System, settings: SshSettings, cluster_name: str | None = None,
                   local: Path | None = None) -> StatusReport:
    """Every member's status: from the agent listening on `local` (this server's control socket) for
    its cluster, over SSH for the rest."""
    clusters = [c for c in system.clusters if cluster_name in (None, c.name)]
    view = local_view(local) if clusters and local is not None else None
    reports: dict[str, ServerReport] = {}
    ask: list[str] = []
    for c in clusters:
        if isinstance(view, ClusterView) and view.cluster == c.name:
            heard, missing = from_view(c, view)
            reports.update(heard)
            ask += missing
        else:
            ask += c.member_names
    reports.update(_over_ssh(system, ask, settings))
    return StatusReport(tuple(merge_status(c, {n: reports[n] for n in c.member_names}) for c in clusters))


MOVING = frozenset({LimState.STARTING_HANDED_OVER, LimState.STARTING_ALIAS_FREE, LimState.STARTING_PROBING,
                    LimState.STARTING_ALIAS_ANSWERED, LimState.TAKING_OVER_WAITING, LimState.TAKING_OVER_HANDED_OVER,
                    LimState.TAKING_OVER_ALIAS_FREE, LimState.TAKING_OVER_PROBING, LimState.TAKING_OVER_ALIAS_ANSWERED,
                    LimState.HANDED_BACK, LimState.TAKING_OVER_PASSIVE, LimState.STARTING_PASSIVE})


def runtime_facts(system: System, cluster_name: str, settings: SshSettings) -> RuntimeFacts:
    """Which LIMs of the cluster run on its standby, as the standby's agent says (required to answer),
    and which LIMs any member reports on the move (taking over, handed back, starting)."""
    report = collect_status(system, settings, cluster_name).clusters[0]
    standby = next(s for s in report.servers if s.server == report.cluster.standby.server)
    if not standby.reachable:
        from mxone_maintenance.utility.remote.ssh import RemoteError
        raise RemoteError(standby.server, f"cannot tell what runs on the standby: {standby.error}")
    moving = frozenset(item.lim for server in report.servers if server.agent is not None
                       for item in server.agent.lims if item.kind in MOVING)
    from mxone_maintenance.utility.ops.requests import RuntimeFacts
    return RuntimeFacts(on_standby=frozenset(standby.running()), known=True, moving=moving)


def link_lines(report: ClusterReport) -> list[str]:
    """One line per server whose cluster interface is a bond, e.g. "lim1 links: link1 up, link2 DOWN"."""
    bonded = [(s.server, getattr(s.agent, "links", ())) for s in report.servers if s.agent is not None]
    return [f"{server} links: " + ", ".join(f"{link.name} {'up' if link.up else 'DOWN'}" for link in links)
            for server, links in bonded if links]


def source_line(report: ClusterReport) -> str:
    """Where each member's information came from and how old it is, e.g. "Heard by lim1's agent: lim1
    now, sb1 0.1 s ago, lim2 silent for 9.2 s; asked over SSH: lim3"."""
    relayed = [s for s in report.servers if s.via]
    asked = [s.server for s in report.servers if not s.via]
    parts = []
    if relayed:
        parts.append(f"Heard by {relayed[0].via}'s agent: " + ", ".join(
            f"{s.server} {_age(s)}" for s in relayed))
    if asked:
        parts.append("asked over SSH: " + ", ".join(asked))
    return "; ".join(parts)


def _age(server: ServerReport) -> str:
    if not server.reachable:
        return f"silent for {server.age_s:.1f} s" if server.age_s is not None else "never heard"
    if server.age_s is None or server.age_s < 0.05:
        return "now"
    return f"{server.age_s:.1f} s ago"


def status_text(report: StatusReport) -> str:
    if not report.clusters:
        return "No clusters in the system."
    blocks = []
    for c in report.clusters:
        lines = [f"Cluster {c.cluster.name} (generation {c.cluster.generation}, {c.cluster.failover} failover, "
                 f"{c.cluster.fallback} fallback, standby {c.cluster.standby.server})",
                 f"  {'LIM':<5}{'regular':<10}{'runs on':<12}{'lock':<9}state"]
        for row in c.rows:
            extra = f"; {row.preloaded}" if row.preloaded else ""
            lines.append(f"  {row.lim:<5}{row.regular:<10}{row.runs_on:<12}{row.lock:<9}{row.state}{extra}")
        lines.append("  Servers: " + ", ".join(
            f"{s.server} {'answers' if s.reachable else 'NOT ANSWERING'}" for s in c.servers))
        lines.append(f"  {source_line(c)}")
        lines += [f"  {line}" for line in link_lines(c)]
        if c.disagreement:
            lines.append(f"  Configuration differs: {c.disagreement}")
        if c.syncs:
            lines.append("  Data sync (standby):")
            lines += [f"    {row.describe()}" for row in c.syncs]
        active = [a for a in c.alarms if not a.cleared]
        lines.append("  Alarms: " + ("none" if not active else ""))
        lines += [f"    {a.server}: {a.text} (since {a.raised})" for a in active]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
