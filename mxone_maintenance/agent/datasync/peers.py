"""Who syncs with whom (row 23): the standby each LIM of the cluster with its regular server, a regular
its own LIMs with the standby. The side that may receive always runs the sync (always pulled), and the
standby hands a LIM back only once its regular holds the standby's newest data. A regular takes the
standby's data of a LIM only if it saw the standby run that LIM (records.py)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from mxone_maintenance.agent.datasync import records
from mxone_maintenance.agent.datasync.lim_sync import sync_lim
from mxone_maintenance.agent.datasync.outcome import NotYetSynced, SyncError, SyncResult
from mxone_maintenance.agent.datasync.transport import Peer, SyncSettings
from mxone_maintenance.agent.datasync.values import Pair
from mxone_maintenance.core.contracts.xdata import Role
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import Paths


def role_of(config: Cluster, node: str) -> Role:
    return "standby" if node == config.standby.server else "regular"


def pairs_of(config: Cluster, node: str) -> tuple[Pair, ...]:
    """The standby pairs with every LIM's regular; a regular with the standby for its own LIMs."""
    if role_of(config, node) == "standby":
        return tuple(Pair(item.lim, item.server) for item in config.lims)
    return tuple(Pair(item.lim, config.standby.server) for item in config.lims if item.server == node)


def regular_is_current(paths: Paths, lim: int, regular: Peer, settings: SyncSettings | None = None,
                       clock_skew_s: float = 0.0) -> SyncResult:
    """On the standby: does the regular hold this standby's newest data of the LIM (it pulls it itself)?
    ok=False (direction "to-regular") while it does not."""
    result = sync_lim(paths, "standby", lim, regular, settings, clock_skew_s, dry_run=True)
    if result.ok and result.direction == "to-regular":
        return replace(result, ok=False, error=f"{regular.label} has not yet pulled the "
                                               f"standby's newer data ({result.version})")
    return result


@dataclass
class ClusterSync:
    """The daemon's DataSync for one cluster config. The standby pulls each regular's new data; a regular
    pulls its LIM's newer data back from the standby (row 23). `clock_skew(peer_name)` gives the peer's
    clock minus ours as the heartbeats show it."""
    paths: Paths
    config: Cluster
    node: str
    settings: SyncSettings | None = None
    clock_skew: Callable[[str], float] = field(default=lambda _peer: 0.0)
    wall: Callable[[], float] = time.time

    def peer(self, server: str) -> Peer:
        base = self.config.base_of(server)
        if base is None:
            raise SyncError(f"{server} is not a member of cluster {self.config.name}")
        return Peer(str(base.ip), server)

    @property
    def role(self) -> Role:
        return role_of(self.config, self.node)

    def sync_lim(self, lim: int) -> SyncResult:
        """Sync one LIM with the right peer for this node's role."""
        item = self.config.lim(lim)
        if item is None:
            raise SyncError(f"LIM {lim} is not in cluster {self.config.name}")
        server = item.server if self.role == "standby" else self.config.standby.server
        settings = self.own_settings()
        if self.role == "regular":      # the standby's data only after the standby ran the LIM
            settings = replace(settings, pull_gate=records.standby_gate(self.paths, lim, server, self.wall))
        return sync_lim(self.paths, self.role, lim, self.peer(server), settings, self.clock_skew(server))

    def own_settings(self) -> SyncSettings:
        """The settings, connecting from this node's base address (not the alias the kernel may pick)."""
        settings = self.settings or SyncSettings.for_paths(self.paths)
        base = self.config.base_of(self.node)
        return replace(settings, bind_address=str(base.ip)) if base is not None else settings

    def sync_all(self) -> list[SyncResult]:
        return [self.sync_lim(pair.lim) for pair in pairs_of(self.config, self.node)]

    def sync_now(self) -> None:
        """DataSync.sync_now: every LIM of this node; raises SyncError naming the ones that failed."""
        failed = [r for r in self.sync_all() if not r.ok]
        if failed:
            raise SyncError("; ".join(f"LIM {r.lim}: {r.error}" for r in failed))

    def push(self, lim: int, server: str) -> None:
        """DataSync.push on the standby before handing LIM back: nothing can be pushed (the key is
        read-only), so check that `server` has pulled our newer data; raise NotYetSynced until it has."""
        result = regular_is_current(self.paths, lim, self.peer(server), self.own_settings(),
                                    self.clock_skew(server))
        if not result.ok:
            error = NotYetSynced if result.direction == "to-regular" else SyncError
            raise error(result.error or "unknown")
