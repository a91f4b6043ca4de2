"""What one server of the pair said about itself (node/facts.py), as the tool reads it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mxone_maintenance.core.config import one_line
from mxone_maintenance.webserver.shared.pair_file import PairFileError, PairSettings, parse_pair


@dataclass(frozen=True)
class Database:
    running: bool
    role: str | None                   # primary | standby | None (not answering)
    receiver: str | None = None        # a standby's WAL receiver: streaming, ...
    lag_bytes: int | None = None       # a standby: received but not yet replayed
    standbys: tuple[tuple[str, str, int], ...] = ()   # a primary: (name, state, lag in bytes)

    @property
    def streaming(self) -> bool:
        return self.role == "standby" and self.receiver == "streaming"

    @property
    def described(self) -> str:
        if not self.running:
            return "not running"
        if self.role == "primary":
            if not self.standbys:
                return "primary, no standby attached"
            return "primary, standby " + ", ".join(f"{name} {state}" for name, state, _ in self.standbys)
        return f"standby, {self.receiver or 'not receiving'}"

    @property
    def lag(self) -> int | None:
        if self.role == "primary":
            return max((lag for *_, lag in self.standbys), default=None)
        return self.lag_bytes


@dataclass(frozen=True)
class ServerFacts:
    name: str
    snm_version: str | None
    pm_version: str | None
    can_install_snm: bool
    manager_user: bool
    keepalived: bool
    webserver: bool
    database: Database
    pair: PairSettings | None
    holds_virtual_ip: bool
    keepalived_state: str | None

    @property
    def serves(self) -> bool:
        """PM/SNM is served here: the virtual IP, the web application and a primary database."""
        return self.holds_virtual_ip and self.webserver and self.database.role == "primary"


def _database(data: dict[str, Any]) -> Database:
    standbys = tuple((one_line(str(s.get("name", ""))), one_line(str(s.get("state", ""))), int(s.get("lag_bytes") or 0))
                     for s in data.get("standbys") or [])
    lag = data.get("lag_bytes")
    return Database(running=bool(data.get("running")), role=data.get("role"),
                    receiver=data.get("receiver"), lag_bytes=int(lag) if lag is not None else None, standbys=standbys)


def _text(value: Any) -> str | None:
    return one_line(str(value)) if value else None


def facts_from(name: str, data: dict[str, Any]) -> ServerFacts:
    try:
        pair = parse_pair(data["pair"], f"{name}:/etc/opt/eri_sn/redundancy.yaml") if data.get("pair") else None
    except PairFileError as exc:
        raise ValueError(str(exc)) from None
    return ServerFacts(name=name, snm_version=_text(data.get("snm_version")), pm_version=_text(data.get("pm_version")),
                       can_install_snm=bool(data.get("can_install_snm")), manager_user=bool(data.get("manager_user")),
                       keepalived=bool(data.get("keepalived")), webserver=bool(data.get("webserver")),
                       database=_database(data.get("database") or {}), pair=pair,
                       holds_virtual_ip=bool(data.get("holds_virtual_ip")),
                       keepalived_state=_text(data.get("keepalived_state")))
