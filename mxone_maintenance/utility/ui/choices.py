"""Parsers and option lists the forms share (pure): names, required values, and readable labels."""
from __future__ import annotations

from mxone_maintenance.core.model import Cluster, Server, System
from mxone_maintenance.utility.ops.requests import RequestError, parse_int, parse_seconds, resolve_base

NAME_CHARS = "-_."


def parse_name(text: str, what: str) -> str:
    """A name as the system file accepts it (files.py): letters, digits, '-', '_' or '.'."""
    value = text.strip()
    if not value:
        raise RequestError(f"type the {what}")
    if not all(c.isalnum() or c in NAME_CHARS for c in value):
        raise RequestError(f"{what} must be letters, digits, '-', '_' or '.' (got {value!r})")
    return value


def base_parser(server: Server):
    def parse(text: str) -> str:
        value = text.strip()
        if not value:
            raise RequestError(f"type the new base address of LIM {server.lim}, e.g. 10.77.0.111")
        resolve_base(value, server.address)          # the same check (and message) as the command line
        return value
    return parse


def priority_parser(lim: int):
    def parse(text: str) -> int:
        return parse_int(text, f"priority of LIM {lim}", 0, 999)
    return parse


def seconds_parser(what: str, low: float, high: float):
    def parse(text: str) -> float:
        return parse_seconds(text, what, low, high)
    return parse


def lim_number(text: str) -> int:
    return parse_int(text, "LIM number", 1, 99)


def next_cluster_name(system: System) -> str:
    n = 1
    while system.cluster(f"c{n}") is not None:
        n += 1
    return f"c{n}"


def server_label(server: Server) -> str:
    what = f"LIM {server.lim} on {server.name}" if server.lim is not None else server.name
    return f"{what} ({server.address})"


def cluster_label(cluster: Cluster) -> str:
    lims = ", ".join(str(item.lim) for item in cluster.lims)
    return f"{cluster.name}: LIM {lims}, standby {cluster.standby.server}, {cluster.failover}"


def clustered_lim_options(system: System, only_locked: bool = False) -> list[tuple[int, str]]:
    options = []
    for cluster in system.clusters:
        for item in cluster.lims:
            if only_locked and not item.lock:
                continue
            lock = f", locked to {item.lock}" if item.lock else ""
            options.append((item.lim, f"LIM {item.lim} on {item.server} (cluster {cluster.name}{lock})"))
    return options


def servers_text(system: System, roles: tuple[str, ...] = ("lim", "standby", "free")) -> str:
    shown = [s for s in system.servers if s.role in roles]
    if not shown:
        return "No such servers in the system."
    lines = [f"{'server':<12}{'address':<20}{'role':<10}{'LIM':<5}cluster"]
    for s in shown:
        cluster = system.cluster_of_server(s.name)
        lim = str(s.lim) if s.lim is not None else "-"
        lines.append(f"{s.name:<12}{str(s.address):<20}{s.role:<10}{lim:<5}{cluster.name if cluster else '-'}")
    return "\n".join(lines)


def clusters_text(system: System) -> str:
    """List all clusters, in columns that fit 80: settings on their own line, one line per LIM."""
    if not system.clusters:
        return "No clusters in the system."
    blocks = []
    for c in system.clusters:
        lines = [f"Cluster {c.name} (generation {c.generation}): standby {c.standby.server}",
                 f"  failover {c.failover}, fallback {c.fallback}, detect {c.detect_s:g} s, "
                 f"heartbeat {c.heartbeat_s:g} s",
                 f"  {'LIM':<5}{'server':<12}{'base':<18}{'alias':<18}{'priority':<10}lock"]
        lines += [f"  {item.lim:<5}{item.server:<12}{str(item.base):<18}{str(item.alias):<18}{item.priority:<10}"
                  f"{item.lock or '-'}" for item in c.lims]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
