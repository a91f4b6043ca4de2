"""system.yaml, the system inventory: its schema (servers, and the clusters as in cluster.yaml), load
and dump."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mxone_maintenance.core.config import schema as s
from mxone_maintenance.core.config.cluster_file import cluster_at, cluster_to_data
from mxone_maintenance.core.config.dumper import dump_yaml
from mxone_maintenance.core.config.loader import Map, parse_yaml, read_text
from mxone_maintenance.core.model import Cluster, Server, System

HEADER = "# MX-ONE system inventory. Written by mxone_maintenance; do not edit by hand.\n"


def _server(data: Map, where: s.Where) -> Server:
    s.fields(data, where, {"name", "address"}, {"role", "lim"})
    name = s.get(data, where, "name", s.name)
    address = s.get(data, where, "address", s.server_address)
    role = s.get(data, where, "role", s.choice("lim", "standby", "free"), default="lim")
    lim = s.get(data, where, "lim", s.whole(1, 99))
    if role == "lim" and lim is None:
        raise s.at(data, where, "lim").error("missing: a LIM server needs its LIM number (or role: standby | free)",
                                             show_value=False)
    if role != "lim" and lim is not None:
        raise s.at(data, where, "lim").error(f"a {role} server has no LIM", lim)
    return Server(name=name, address=address, role=role, lim=lim)


def _members_known(cluster: Cluster, data: Map, where: s.Where, known: set[str]) -> None:
    """A cluster names only servers of the list, and has a LIM: every plan builds on both."""
    if not cluster.lims:
        raise s.at(data, where, "lims").error("a cluster needs at least one LIM", show_value=False)
    standby_where = s.at(data, where, "standby")
    if cluster.standby.server not in known:
        raise s.at(data["standby"], standby_where, "server").error("not a server in servers",
                                                                 cluster.standby.server)
    for (item, item_where), lim in zip(s.items(data, where, "lims"), cluster.lims, strict=True):
        if lim.server not in known:
            raise s.at(item, item_where, "server").error("not a server in servers", lim.server)


def system_from_data(data: Any, file: str) -> System:
    top, root = s.top(data, file)
    s.fields(top, root, {"schema"}, {"servers", "clusters"})
    s.get(top, root, "schema", s.whole(s.SCHEMA_VERSION, s.SCHEMA_VERSION))
    servers = [(_server(item, where), item, where) for item, where in s.items(top, root, "servers")]
    s.unique([(server.name, s.at(m, w, "name")) for server, m, w in servers], "server name")
    s.unique([(server.address.ip, s.at(m, w, "address")) for server, m, w in servers], "server address")
    s.unique([(server.lim, s.at(m, w, "lim")) for server, m, w in servers if server.lim is not None], "LIM number")
    clusters = [(cluster_at(item, where, s.server_address), item, where)
                for item, where in s.items(top, root, "clusters")]
    s.unique([(c.name, s.at(m, w, "cluster")) for c, m, w in clusters], "cluster name")
    known = {server.name for server, _, _ in servers}
    for cluster, item, where in clusters:
        _members_known(cluster, item, where, known)
    return System(servers=tuple(server for server, _, _ in servers), clusters=tuple(c for c, _, _ in clusters))


def server_to_data(server: Server) -> dict:
    data: dict[str, Any] = {"name": server.name, "address": str(server.address)}
    if server.role == "lim":
        data["lim"] = server.lim
    else:
        data["role"] = server.role
    return data


def system_to_data(system: System) -> dict:
    return {"schema": system.schema,
            "servers": [server_to_data(server) for server in system.servers],
            "clusters": [cluster_to_data(c) for c in system.clusters]}


def dump_system(system: System) -> str:
    return dump_yaml(system_to_data(system), HEADER)


def parse_system(text: str, file: str = "system.yaml") -> System:
    return system_from_data(parse_yaml(text, file), file)


def load_system(path: Path) -> System:
    """The system file; a symbolic link is refused (named, never read): the file is replaced, not
    written through, when it changes, and a link to another file would print that file in its error."""
    return parse_system(read_text(path, follow_link=False), str(path))
