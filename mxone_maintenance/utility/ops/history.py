"""`cluster history`: every member's event history, merged in time order (DESIGN §4).

Each member's agent keeps its events in /var/opt/eri_sn/agent/events.jsonl and, once that passed
1 MiB, the older ones in events.jsonl.1 (agent/events/history.py). Both files are read over SFTP, in
parallel, so a member whose agent is down still shows its history; a member that does not answer
over SSH is named at the end. The merge is pure (`merge_history`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from mxone_maintenance.core.contracts.events import Event, event_text, parse_events
from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import EVENTS_FILE
from mxone_maintenance.utility.ops.cluster import find_cluster
from mxone_maintenance.utility.remote.fleet import Fleet, Outcome
from mxone_maintenance.utility.remote.ssh import Connection, Host, SshSettings

OLD_FILE = f"{EVENTS_FILE}.1"


@dataclass(frozen=True)
class MemberHistory:
    server: str
    answered: bool
    events: int = 0          # how many of the merged events are this member's
    error: str = ""


@dataclass(frozen=True)
class HistoryReport:
    events: tuple[Event, ...]
    members: tuple[MemberHistory, ...]

    @property
    def complete(self) -> bool:
        return all(member.answered for member in self.members)

    @property
    def not_answering(self) -> tuple[MemberHistory, ...]:
        return tuple(member for member in self.members if not member.answered)

    def to_json(self) -> dict:
        return {"complete": self.complete, "events": [event.to_json() for event in self.events],
                "servers": [member.__dict__ for member in self.members]}


def read_history(conn: Connection) -> bytes:
    """The member's events file and the older one before it, as one chunk of lines (the older first)."""
    old, new = conn.read_file(OLD_FILE) or b"", conn.read_file(str(EVENTS_FILE)) or b""
    return old + b"\n" + new


def merge_history(outcomes: dict[str, Outcome[bytes]], since: float | None = None) -> HistoryReport:
    """The members' files -> one list of events in time order (equal times: by server, then file order)."""
    per_member = {name: parse_events(outcome.value or b"", since=since) if outcome.ok else []
                  for name, outcome in outcomes.items()}
    order = {name: index for index, name in enumerate(outcomes)}
    events = sorted(((e, name) for name, found in per_member.items() for e in found),
                    key=lambda pair: (pair[0].at, order[pair[1]]))
    members = tuple(MemberHistory(name, o.ok, len(per_member[name]), o.error) for name, o in outcomes.items())
    return HistoryReport(tuple(e for e, _ in events), members)


def _hosts(system: System, cluster_name: str | None) -> list[Host]:
    clusters = [find_cluster(system, cluster_name)] if cluster_name is not None else list(system.clusters)
    names = list(dict.fromkeys(name for cluster in clusters for name in cluster.member_names))
    return [Host(name, str(system.management_address(name).ip)) for name in names]


def collect_history(system: System, settings: SshSettings, cluster_name: str | None = None,
                    since: float | None = None) -> HistoryReport:
    """Read every member's history at once (of one cluster, or of all)."""
    hosts = _hosts(system, cluster_name)
    if not hosts:
        return HistoryReport((), ())
    with Fleet(hosts, settings) as fleet:
        outcomes = fleet.each(read_history)
    return merge_history(outcomes, since)


def _without_name(server: str, error: str) -> str:
    head, sep, rest = error.partition(": ")
    return rest if sep and head.split(" ")[0] == server else error


def history_text(report: HistoryReport, since: float | None = None) -> str:
    """One line per event, then which members did not answer."""
    if not report.members:
        return "No clusters in the system."
    lines = [event_text(event) for event in report.events]
    if not lines:
        after = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" if since else ""
        lines.append(f"No events{after}.")
    for member in report.not_answering:
        lines.append(f"NOT ANSWERING: {member.server}: {_without_name(member.server, member.error)} "
                     f"(its events are missing above)")
    return "\n".join(lines)
