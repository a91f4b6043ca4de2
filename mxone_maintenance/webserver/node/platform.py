"""webserver.yaml: how this server runs PM/SNM's parts (/etc/opt/eri_sn/webserver.yaml, optional; the
defaults are an MX-ONE server's systemd units). The lab writes one naming its own systemctl.

    control: [systemctl]              # <control> start|stop|restart|reload|is-active|enable|disable|is-enabled UNIT
    units: {redundancy: keepalived, database: postgresql, webserver: mxone-snm}
    keepalived_conf: /etc/keepalived/keepalived.conf
    postgresql: {bin: /usr/lib/postgresql15/bin, data: /var/lib/pgsql/data, port: 5432,
                 socket: /run/postgresql, user: postgres}
    snm_version: [argv]               # prints the installed SNM's version; fails: SNM is not installed
    pm_version: [argv]                # the same for a co-existing PM (optional)
    install_snm: [argv]               # what "install SNM" runs when the standby has none (optional)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mxone_maintenance.core.config import FileError
from mxone_maintenance.core.config import schema as s
from mxone_maintenance.core.config.loader import Map, parse_yaml, read_text

PLATFORM_FILE = Path("/etc/opt/eri_sn/webserver.yaml")


class PlatformError(Exception):
    """webserver.yaml cannot be used; one line `FILE:LINE: KEY: problem`."""


@dataclass(frozen=True)
class Postgres:
    bin: str = "/usr/lib/postgresql15/bin"
    data: str = "/var/lib/pgsql/data"
    port: int = 5432
    socket: str = "/run/postgresql"
    user: str = "postgres"

    def tool(self, name: str) -> str:
        return f"{self.bin}/{name}"

    @property
    def home(self) -> str:
        """Where the replication password file lives: beside the data folder, never inside it (a base
        backup copies the data folder)."""
        return str(Path(self.data).parent)

    @property
    def passfile(self) -> str:
        return f"{self.home}/.pgpass"


@dataclass(frozen=True)
class Platform:
    control: tuple[str, ...] = ("systemctl",)
    redundancy_unit: str = "keepalived"
    database_unit: str = "postgresql"
    webserver_unit: str = "mxone-snm"
    keepalived_conf: str = "/etc/keepalived/keepalived.conf"
    postgres: Postgres = Postgres()
    snm_version: tuple[str, ...] = ("cat", "/opt/eri_sn/snm/VERSION")
    pm_version: tuple[str, ...] = ()
    install_snm: tuple[str, ...] = ()

    def unit(self, verb: str, unit: str) -> list[str]:
        return [*self.control, verb, unit]


def _argv(value: Any, where: s.Where) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
        raise where.error("must be a list of strings", value)
    return tuple(str(item) for item in value)


def _path(value: Any, where: s.Where) -> str:
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value or "'" in value:
        raise where.error("must be an absolute path", value)
    return value.rstrip("/") or "/"


def _unit(value: Any, where: s.Where) -> str:
    if not isinstance(value, str) or not value or not all(c.isalnum() or c in "-_.@" for c in value):
        raise where.error("must be a unit name", value)
    return value


def _sub(top: Map, root: s.Where, key: str, allowed: set[str]) -> tuple[Map, s.Where]:
    at = s.at(top, root, key)
    value = top.get(key)
    if value is None:
        empty = Map()
        empty.line, empty.key_lines = at.line, {}
        return empty, at
    s.fields(s.mapping(value, at), at, set(), allowed)
    return value, at


def platform_from_data(data: Any, file: str) -> Platform:
    if data is None:
        return Platform()
    top, root = s.top(data, file)
    s.fields(top, root, set(), {"control", "units", "keepalived_conf", "postgresql", "snm_version",
                                "pm_version", "install_snm"})
    units, units_at = _sub(top, root, "units", {"redundancy", "database", "webserver"})
    pg, pg_at = _sub(top, root, "postgresql", {"bin", "data", "port", "socket", "user"})
    d, dp = Platform(), Postgres()
    return Platform(
        control=s.get(top, root, "control", _argv, default=d.control),
        redundancy_unit=s.get(units, units_at, "redundancy", _unit, default=d.redundancy_unit),
        database_unit=s.get(units, units_at, "database", _unit, default=d.database_unit),
        webserver_unit=s.get(units, units_at, "webserver", _unit, default=d.webserver_unit),
        keepalived_conf=s.get(top, root, "keepalived_conf", _path, default=d.keepalived_conf),
        postgres=Postgres(bin=s.get(pg, pg_at, "bin", _path, default=dp.bin),
                          data=s.get(pg, pg_at, "data", _path, default=dp.data),
                          port=s.get(pg, pg_at, "port", s.whole(1, 65535), default=dp.port),
                          socket=s.get(pg, pg_at, "socket", _path, default=dp.socket),
                          user=s.get(pg, pg_at, "user", s.name, default=dp.user)),
        snm_version=s.get(top, root, "snm_version", _argv, default=d.snm_version),
        pm_version=s.get(top, root, "pm_version", _argv, default=()),
        install_snm=s.get(top, root, "install_snm", _argv, default=()))


def load_platform(path: Path = PLATFORM_FILE) -> Platform:
    try:
        text = read_text(path)
    except FileError as exc:
        if not os.path.lexists(path):
            return Platform()
        raise PlatformError(str(exc)) from None
    try:
        return platform_from_data(parse_yaml(text, str(path)), str(path))
    except FileError as exc:
        raise PlatformError(str(exc)) from None
