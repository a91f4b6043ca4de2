"""Parsers and option lists the forms share (pure): required values, and readable labels. The values
are checked by the command line's own parsers (ops/requests.py)."""
from __future__ import annotations

from mxone_maintenance.core.model import Cluster, Server, System
from mxone_maintenance.utility.ops.requests import RequestError, parse_int, parse_seconds, resolve_base


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
