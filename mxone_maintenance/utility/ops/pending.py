"""What a dead server still has to get: its part of a change made without it that could not wait (the
regular of a LIM removed while it was down still holds the cluster's files, its base address, and a
network configuration that boots with the base). Kept beside system.yaml (`system.yaml.pending`,
JSON), shown by status, done by `cluster finish` when the server answers. It blocks no other change.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from ipaddress import IPv4Interface
from pathlib import Path
from typing import TYPE_CHECKING

from mxone_maintenance.core import config
from mxone_maintenance.core.model import ClusterLim, System

if TYPE_CHECKING:       # the planning code loads when a plan is made, not for `cluster status`
    from mxone_maintenance.utility.ops.plan import Plan

VERSION = 1


class PendingError(Exception):
    """The pending file cannot be read or written: one line naming it."""


@dataclass(frozen=True)
class PendingLeave:
    """A regular that left `cluster` while it did not answer."""
    server: str
    address: str        # where it is reached: its own address (its LIM's alias)
    cluster: str
    lim: int
    base: str
    alias: str
    interface: str
    since: float

    def line(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since))
        return (f"{self.server} left cluster {self.cluster} while it did not answer ({when}): it still has the "
                f"cluster's files and boots with {self.base}; when it is back, run `cluster finish`")


def pending_path(system_file: Path) -> Path:
    return system_file.with_name(system_file.name + ".pending")


def read_pending(system_file: Path) -> list[PendingLeave]:
    path = pending_path(system_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}")
        return [PendingLeave(**{**entry, "lim": int(entry["lim"]), "since": float(entry["since"])})
                for entry in data["leaving"]]
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        why = " ".join(str(err).split())
        raise PendingError(f"the pending file {path} is damaged ({why}); look at it, then remove it by hand") from None


def write_pending(system_file: Path, entries: list[PendingLeave]) -> None:
    path = pending_path(system_file)
    try:
        if not entries:
            path.unlink(missing_ok=True)
            return
        config.write_atomic(path, json.dumps({"version": VERSION, "leaving": [asdict(e) for e in entries]},
                                             indent=1), mode=0o600)
    except OSError as err:
        raise PendingError(f"cannot write the pending file {path}: {err.strerror}") from None


def leaves_of(plan: Plan) -> list[PendingLeave]:
    """The plan's servers that must be down (ServerPlan.must_be_down), as pending leaves."""
    out = []
    for server in plan.servers:
        cluster = plan.before.cluster_of_server(server.server) if server.must_be_down else None
        item = next((i for i in cluster.lims if i.server == server.server), None) if cluster else None
        if item is not None:
            out.append(PendingLeave(server.server, server.address, cluster.name, item.lim, str(item.base),
                                    str(item.alias), cluster.interface, time.time()))
    return out


def still_pending(entries: list[PendingLeave], system: System) -> list[PendingLeave]:
    """A server that is in a cluster again (added back since) has nothing left to leave."""
    return [e for e in entries if system.cluster_of_server(e.server) is None]


def plan_pending(entries: list[PendingLeave], system: System) -> Plan:
    from mxone_maintenance.utility.ops import cluster as cluster_ops   # the planning code: not for status
    from mxone_maintenance.utility.ops.plan import CleanStaged, Plan, ServerPlan
    """What each pending server still gets: the leaving steps of a delete."""
    servers = []
    for e in still_pending(entries, system):
        item = ClusterLim(lim=e.lim, server=e.server, base=IPv4Interface(e.base), alias=IPv4Interface(e.alias))
        steps = (CleanStaged(),) + cluster_ops.leaving_steps_on(item, e.interface)
        servers.append(ServerPlan(e.server, e.address, steps))
    names = ", ".join(s.server for s in servers)
    return Plan(action="cluster finish", title=f"finish leaving the cluster on {names or 'no server'}",
                before=system, after=system, servers=tuple(servers),
                checks=("every server answers over SSH with its pinned host key",))
