"""redundancy.yaml: PM/SNM redundancy as set on one server of the pair (/etc/opt/eri_sn/redundancy.yaml).
Written by the node side when webserver_config sets the pair up; read by keepalived's notify and track
scripts on that server and, over SSH, by webserver_config (to find what is set, and in which order
reconfigure and remove may go).

    schema: 1
    role: master              # master: LIM 1's server, preferred; standby: the cluster's standby
    cluster: c1
    node: lim1
    base: 10.77.0.111/24      # this server's cluster base: never moves, so VRRP and replication use it
    peer: {name: sb1, base: 10.77.0.20/24}
    virtual_ip: 10.77.0.50/24
    interface: eth0
    vrid: 50                  # VRRP router id (the virtual IP's last byte)
    replication_user: replicator
    fallback: automatic       # automatic: the master takes PM/SNM back (preempt); manual: on order
    generation: 1             # +1 on every reconfigure of the master; the standby follows it
    before: {database_enabled: true, database_active: true, webserver_enabled: true,
             webserver_active: true, saved_data: null}   # what remove restores
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from ipaddress import IPv4Interface
from typing import Any, Literal

from mxone_maintenance.core.config import FileError
from mxone_maintenance.core.config import schema as s
from mxone_maintenance.core.config.dumper import dump_yaml
from mxone_maintenance.core.config.loader import parse_yaml

Role = Literal["master", "standby"]
HEADER = "# PM/SNM redundancy of this server, written by webserver_config; do not edit\n"


class PairFileError(Exception):
    """redundancy.yaml cannot be used; str() is one line `FILE:LINE: KEY: problem`."""


@dataclass(frozen=True)
class Before:
    """The units' state before setup, so that remove leaves the server as it was."""
    database_enabled: bool = True
    database_active: bool = True
    webserver_enabled: bool = True
    webserver_active: bool = True
    saved_data: str | None = None      # the standby's own database folder, moved aside for the copy


@dataclass(frozen=True)
class PairSettings:
    role: Role
    cluster: str
    node: str
    base: IPv4Interface
    peer_name: str
    peer_base: IPv4Interface
    virtual_ip: IPv4Interface
    interface: str
    replication_user: str
    fallback: Literal["automatic", "manual"]
    generation: int = 1
    before: Before = field(default_factory=Before)

    @property
    def vrid(self) -> int:
        """keepalived's virtual_router_id: the virtual IP's last byte (0 is no router id: 255 then)."""
        return int(self.virtual_ip.ip) % 256 or 255

    @property
    def preferred(self) -> bool:
        return self.role == "master"

    def with_changes(self, **changes: Any) -> PairSettings:
        return replace(self, **changes)


def pair_text(settings: PairSettings) -> str:
    data: dict[str, Any] = {
        "schema": 1, "role": settings.role, "cluster": settings.cluster, "node": settings.node,
        "base": str(settings.base), "peer": {"name": settings.peer_name, "base": str(settings.peer_base)},
        "virtual_ip": str(settings.virtual_ip), "interface": settings.interface, "vrid": settings.vrid,
        "replication_user": settings.replication_user, "fallback": settings.fallback,
        "generation": settings.generation, "before": asdict(settings.before)}
    return dump_yaml(data, HEADER)


def _flag(value: Any, where: s.Where) -> bool:
    if not isinstance(value, bool):
        raise where.error("must be true or false", value)
    return value


def _folder(value: Any, where: s.Where) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.startswith("/")):
        raise where.error("must be an absolute folder or null", value)
    return value


def _role_name(value: Any, where: s.Where) -> str:
    if not isinstance(value, str) or not value.replace("_", "a").isalnum() or not value[:1].isalpha() \
            or len(value) > 63 or value != value.lower():
        raise where.error("must be a PostgreSQL role name (a-z, 0-9, _; starting with a letter)", value)
    return value


def _before(top: Any, root: s.Where) -> Before:
    data, at = s.mapping(top.get("before"), s.at(top, root, "before")), s.at(top, root, "before")
    s.fields(data, at, set(), {"database_enabled", "database_active", "webserver_enabled", "webserver_active",
                               "saved_data"})
    return Before(**{key: s.get(data, at, key, _flag, default=True)
                     for key in ("database_enabled", "database_active", "webserver_enabled", "webserver_active")},
                  saved_data=s.get(data, at, "saved_data", _folder))


def parse_pair(text: str, file: str) -> PairSettings:
    try:
        top, root = s.top(parse_yaml(text, file), file)
        s.fields(top, root, {"schema", "role", "cluster", "node", "base", "peer", "virtual_ip", "interface",
                             "replication_user", "fallback", "generation", "before"}, {"vrid"})
        s.get(top, root, "schema", s.whole(1, 1))
        peer, peer_at = s.mapping(top["peer"], s.at(top, root, "peer")), s.at(top, root, "peer")
        s.fields(peer, peer_at, {"name", "base"}, set())
        settings = PairSettings(
            role=s.get(top, root, "role", s.choice("master", "standby")),
            cluster=s.get(top, root, "cluster", s.name), node=s.get(top, root, "node", s.name),
            base=s.get(top, root, "base", s.address),
            peer_name=s.get(peer, peer_at, "name", s.name), peer_base=s.get(peer, peer_at, "base", s.address),
            virtual_ip=s.get(top, root, "virtual_ip", s.address),
            interface=s.get(top, root, "interface", s.interface_name),
            replication_user=s.get(top, root, "replication_user", _role_name),
            fallback=s.get(top, root, "fallback", s.choice("automatic", "manual")),
            generation=s.get(top, root, "generation", s.whole(1, 2**31)),
            before=_before(top, root))
    except FileError as exc:
        raise PairFileError(str(exc)) from None
    return settings


def role_name_problem(value: str) -> str | None:
    """Why `value` cannot be the replication role's name (None: it can)."""
    try:
        _role_name(value, s.Where("", 0, ""))
    except FileError:
        return f"a replication user name is a-z, 0-9 and _, starting with a letter, at most 63 (got {value!r})"
    return None
