"""What the runtime needs of the world, injected (real ones in agent/main.py, fakes in the tests): the
effects on this server, the data sync with its peers, the heartbeat channel, and the factories that
build them for a config."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mxone_maintenance.agent.config_offer import ConfigOffer
from mxone_maintenance.agent.effects import Addresses, Firewall, Neighbours, Service
from mxone_maintenance.agent.heartbeat_wire import Heartbeat
from mxone_maintenance.core.model import Cluster


class DataSync(Protocol):
    """Data sync between standby and regulars (main.ClusterDataSync). Each raises on failure.
    push: on the standby before handing `lim` back, make sure `server` holds our newest data (row 23;
    NotYetSynced while it has not pulled it yet). pull: on a regular, fetch the standby's newer data
    of `lim`."""
    def push(self, lim: int, server: str) -> None: ...
    def pull(self, lim: int, server: str) -> None: ...


class NullSync:
    """No data sync wired (tests, and until the first config): every check passes."""

    def push(self, lim: int, server: str) -> None:
        return None

    def pull(self, lim: int, server: str) -> None:
        return None


class HeartbeatPort(Protocol):
    """What the runtime needs of heartbeat.HeartbeatChannel."""
    counters: Any
    def send(self, hb: Heartbeat, addresses: list[str]) -> None: ...
    def receive_all(self) -> list[tuple[Heartbeat, str]]: ...
    def send_offer(self, offer: ConfigOffer, address: str) -> None: ...
    def take_offers(self) -> list[ConfigOffer]: ...
    def close(self) -> None: ...


@dataclass
class Effects:
    addresses: Addresses
    neighbours: Neighbours
    firewall: Firewall
    service: Service
    sync: DataSync = field(default_factory=NullSync)


MakeEffects = Callable[[Cluster, str], Effects]
MakeChannel = Callable[[Cluster, bytes], HeartbeatPort]
MakeSync = Callable[[Cluster, str], DataSync]
