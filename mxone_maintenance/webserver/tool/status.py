"""CheckStatus: both servers asked at once; per server whether keepalived (Redundancy) runs, the SNM
version, who holds the virtual IP, the database's role and replication lag. A server that does not
answer is named, never waited on beyond the connect limit."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mxone_maintenance.webserver.tool.apply import read_facts
from mxone_maintenance.webserver.tool.node_client import NodeClient, NodeFailed
from mxone_maintenance.webserver.tool.pair import Pair
from mxone_maintenance.webserver.tool.server_facts import ServerFacts


@dataclass(frozen=True)
class Answered:
    facts: dict[str, ServerFacts]
    silent: dict[str, str]           # server -> why it did not answer


def gather(clients: dict[str, NodeClient]) -> Answered:
    def one(client: NodeClient) -> ServerFacts | str:
        try:
            return read_facts(client)
        except (NodeFailed, ValueError) as exc:
            return str(exc)
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        results = dict(zip(clients, pool.map(one, clients.values())))
    return Answered({n: r for n, r in results.items() if isinstance(r, ServerFacts)},
                    {n: r for n, r in results.items() if isinstance(r, str)})


def _lag(found: ServerFacts) -> str:
    lag = found.database.lag
    return "-" if lag is None else f"{lag} B"


def status_rows(pair: Pair, answered: Answered) -> list[dict[str, Any]]:
    rows = []
    for role, name in (("master", pair.master), ("standby", pair.standby)):
        found = answered.facts.get(name)
        if found is None:
            rows.append({"server": name, "role": role, "answered": False, "problem": answered.silent.get(name, "")})
            continue
        rows.append({"server": name, "role": role, "answered": True, "redundancy": found.keepalived,
                     "keepalived_state": found.keepalived_state, "snm_version": found.snm_version,
                     "pm_version": found.pm_version, "holds_virtual_ip": found.holds_virtual_ip,
                     "webserver": found.webserver, "database": found.database.described,
                     "database_role": found.database.role, "lag_bytes": found.database.lag,
                     "set": found.pair is not None, "generation": found.pair.generation if found.pair else None,
                     "fallback": found.pair.fallback if found.pair else None})
    return rows


def status_document(pair: Pair, answered: Answered) -> dict[str, Any]:
    settings = next((f.pair for f in answered.facts.values() if f.pair), None)
    return {"cluster": pair.cluster, "master": pair.master, "standby": pair.standby,
            "set": settings is not None, "virtual_ip": str(settings.virtual_ip) if settings else None,
            "replication_user": settings.replication_user if settings else None,
            "fallback": settings.fallback if settings else None, "cluster_fallback": pair.fallback,
            "serving": next((n for n, f in answered.facts.items() if f.serves), None),
            "servers": status_rows(pair, answered)}


def status_lines(pair: Pair, answered: Answered) -> list[str]:
    doc = status_document(pair, answered)
    if not doc["set"]:
        head = f"PM/SNM redundancy is not set up (master {pair.master}, standby {pair.standby}, cluster {pair.cluster})"
    else:
        differs = "" if doc["fallback"] == pair.fallback else \
            f" -- differs from the cluster's {pair.fallback}: Reconfigure Fallback"
        head = (f"PM/SNM redundancy of cluster {pair.cluster}: virtual IP {doc['virtual_ip']}, fallback "
                f"{doc['fallback']}{differs}; served by {doc['serving'] or 'nobody'}")
    lines = [head, f"{'server':<10} {'role':<8} {'redundancy':<12} {'SNM':<18} {'virtual IP':<11} "
                   f"{'database':<32} lag"]
    for row in doc["servers"]:
        if not row["answered"]:
            lines.append(f"{row['server']:<10} {row['role']:<8} does not answer: {row['problem']}")
            continue
        redundancy = (row["keepalived_state"] or "running").lower() if row["redundancy"] else "not running"
        lines.append(f"{row['server']:<10} {row['role']:<8} {redundancy:<12} {(row['snm_version'] or 'not installed'):<18} "
                     f"{'held' if row['holds_virtual_ip'] else '-':<11} {row['database']:<32} "
                     f"{'-' if row['lag_bytes'] is None else str(row['lag_bytes']) + ' B'}")
    return lines
