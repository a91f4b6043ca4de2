"""cluster.yaml (and each cluster inside system.yaml): its schema, load and dump."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mxone_maintenance.core.config import schema as s
from mxone_maintenance.core.config.dumper import dump_yaml, number_out
from mxone_maintenance.core.config.loader import Map, parse_yaml, read_text
from mxone_maintenance.core.model import (
    DEFAULT_DETECT_S,
    DEFAULT_FLAP_RETURNS,
    DEFAULT_FLAP_WINDOW_S,
    DEFAULT_HEARTBEAT_S,
    DEFAULT_INTERFACE,
    DEFAULT_PORT,
    DEFAULT_PRIORITY,
    Cluster,
    ClusterLim,
    StandbyRef,
)

_REQUIRED = {"schema", "cluster", "generation", "standby", "lims"}
_OPTIONAL = {"fallback", "failover", "detect_s", "heartbeat_s", "port", "interface", "hold_s", "flap_returns",
             "flap_window_s"}
HEADER = "# MX-ONE cluster configuration. Written by mxone_maintenance; enforced by mxone-cluster-agent.\n"


def _standby(data: Any, where: s.Where, address: s.Check) -> StandbyRef:
    data = s.mapping(data, where)
    s.fields(data, where, {"server", "base"}, set())
    return StandbyRef(server=s.get(data, where, "server", s.name), base=s.get(data, where, "base", address))


def _cluster_lim(data: Map, where: s.Where, address: s.Check) -> ClusterLim:
    s.fields(data, where, {"lim", "server", "base", "alias"}, {"priority", "lock"})
    return ClusterLim(
        lim=s.get(data, where, "lim", s.whole(1, 99)),
        server=s.get(data, where, "server", s.name),
        base=s.get(data, where, "base", address),
        alias=s.get(data, where, "alias", address),
        priority=s.get(data, where, "priority", s.whole(0, 999), default=DEFAULT_PRIORITY),
        lock=s.get(data, where, "lock", s.choice(None, "regular", "standby")),
    )


def cluster_at(data: Map, where: s.Where, address: s.Check = s.address) -> Cluster:
    """One cluster mapping, wherever it stands (its own file, or an item of system.yaml's clusters, which
    checks its addresses with s.server_address)."""
    s.fields(data, where, _REQUIRED, _OPTIONAL)
    s.get(data, where, "schema", s.whole(s.SCHEMA_VERSION, s.SCHEMA_VERSION))
    failover = s.get(data, where, "failover", s.choice("normal", "preloaded"), default="normal")
    lims = [(_cluster_lim(item, w, address), item, w) for item, w in s.items(data, where, "lims")]
    s.unique([(item.lim, s.at(m, w, "lim")) for item, m, w in lims], "LIM number")
    s.unique([(item.server, s.at(m, w, "server")) for item, m, w in lims], "server")
    return Cluster(
        name=s.get(data, where, "cluster", s.name),
        generation=s.get(data, where, "generation", s.whole(1, 2**53)),
        fallback=s.get(data, where, "fallback", s.choice("automatic", "manual"), default="automatic"),
        failover=failover,
        detect_s=s.get(data, where, "detect_s", s.number(0.3, 3600), default=DEFAULT_DETECT_S[failover]),
        heartbeat_s=s.get(data, where, "heartbeat_s", s.number(0.1, 60), default=DEFAULT_HEARTBEAT_S),
        port=s.get(data, where, "port", s.whole(1, 65535), default=DEFAULT_PORT),
        interface=s.get(data, where, "interface", s.interface_name, default=DEFAULT_INTERFACE),
        hold_s=s.get(data, where, "hold_s", s.number(0.1, 3600)),
        flap_returns=s.get(data, where, "flap_returns", s.whole(2, 100), default=DEFAULT_FLAP_RETURNS),
        flap_window_s=s.get(data, where, "flap_window_s", s.number(1, 86400), default=DEFAULT_FLAP_WINDOW_S),
        standby=s.get(data, where, "standby", lambda value, w: _standby(value, w, address)),
        lims=tuple(item for item, _, _ in lims),
    )


def cluster_from_data(data: Any, file: str) -> Cluster:
    return cluster_at(*s.top(data, file))


def _damping_to_data(cluster: Cluster) -> dict:
    """Written only where they differ from the defaults: files without them read as before."""
    data: dict = {}
    if cluster.hold_s is not None:
        data["hold_s"] = number_out(cluster.hold_s)
    if cluster.flap_returns != DEFAULT_FLAP_RETURNS:
        data["flap_returns"] = cluster.flap_returns
    if cluster.flap_window_s != DEFAULT_FLAP_WINDOW_S:
        data["flap_window_s"] = number_out(cluster.flap_window_s)
    return data


def cluster_to_data(cluster: Cluster) -> dict:
    return {
        "schema": cluster.schema,
        "cluster": cluster.name,
        "generation": cluster.generation,
        "fallback": cluster.fallback,
        "failover": cluster.failover,
        "detect_s": number_out(cluster.detect_s),
        "heartbeat_s": number_out(cluster.heartbeat_s),
        "port": cluster.port,
        "interface": cluster.interface,
        **_damping_to_data(cluster),
        "standby": {"server": cluster.standby.server, "base": str(cluster.standby.base)},
        "lims": [{"lim": item.lim, "server": item.server, "base": str(item.base), "alias": str(item.alias),
                  "priority": item.priority, "lock": item.lock} for item in cluster.lims],
    }


def dump_cluster(cluster: Cluster) -> str:
    return dump_yaml(cluster_to_data(cluster), HEADER)


def parse_cluster(text: str, file: str = "cluster.yaml") -> Cluster:
    return cluster_from_data(parse_yaml(text, file), file)


def load_cluster(path: Path) -> Cluster:
    return parse_cluster(read_text(path), str(path))
