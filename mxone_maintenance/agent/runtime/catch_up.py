"""Members converge on the highest generation: a peer that is behind gets our cluster.yaml, and we take
a newer one offered by a member (never a lower one, never one that leaves us out or names another
cluster). What is taken is written to disk like the utility writes it, and the config watch loads it
on the next cycle, so a restart keeps it."""
from __future__ import annotations

import logging
from collections.abc import Callable

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent import state as st
from mxone_maintenance.agent.config_offer import ConfigOffer
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.ports import HeartbeatPort
from mxone_maintenance.core.config import FileError, parse_cluster, write_atomic
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import Paths

log = logging.getLogger("mxone-cluster-agent")
MIN_OFFER_INTERVAL_S = 1.0
DISAGREE_S = 30.0          # longer than any change takes: a member that stays on another generation is stuck


class CatchUp:
    def __init__(self, paths: Paths, node: str, clock: Callable[[], float]) -> None:
        self.paths, self.node, self.clock = paths, node, clock
        self.offered_at: dict[str, float] = {}
        self.differs_since: dict[str, float] = {}

    def offer(self, config: Cluster, channel: HeartbeatPort, peers: dict[str, st.PeerView], now: float) -> None:
        """Our cluster.yaml to every member whose heartbeats say it is behind (at most once a second each)."""
        interval = max(MIN_OFFER_INTERVAL_S, 2 * config.heartbeat_s)
        behind = [name for name, peer in peers.items()
                  if name in config.member_names and peer.last_heard is not None
                  and 0 < peer.generation < config.generation
                  and now - self.offered_at.get(name, float("-inf")) >= interval]
        if not behind:
            return
        text = self._own_text(config)
        if text is None:
            return
        for name in behind:
            self.offered_at[name] = now
            log.info("%s is on generation %d, offering it generation %d", name, peers[name].generation,
                     config.generation)
            channel.send_offer(ConfigOffer(config.name, self.node, config.generation, text),
                               str(config.base_of(name).ip))

    def watch_agreement(self, config: Cluster, peers: dict[str, st.PeerView], alarms: AlarmBook,
                        now: float) -> None:
        """An alarm for each heard member that has run another generation for longer than DISAGREE_S
        (a catch-up that cannot happen: another cluster key, a file it refuses, a peer that is ahead)."""
        for name in sorted(set(config.member_names) - {self.node}):
            peer = peers.get(name)
            differs = peer is not None and peer.last_heard is not None and 0 < peer.generation != config.generation
            if not differs:
                self.differs_since.pop(name, None)
                alarms.clear(alarm_keys.generation(name))
                continue
            since = self.differs_since.setdefault(name, now)
            if now - since >= DISAGREE_S:
                alarms.raise_(alarm_keys.generation(name),
                              f"Cluster members disagree on the configuration: {name} runs generation "
                              f"{peer.generation}, {self.node} generation {config.generation}")

    def adopt(self, config: Cluster, channel: HeartbeatPort) -> bool:
        """Write the newest acceptable offer to cluster.yaml; True when one was written."""
        offers = sorted((o for o in channel.take_offers() if o.generation > config.generation),
                        key=lambda o: o.generation, reverse=True)
        for offer in offers:
            newer = self._acceptable(config, offer)
            if newer is not None:
                write_atomic(self.paths.cluster_file, offer.text, mode=0o644)
                log.warning("cluster.yaml: generation %d taken from %s (had %d)", newer.generation, offer.node,
                            config.generation)
                return True
        return False

    def _acceptable(self, config: Cluster, offer: ConfigOffer) -> Cluster | None:
        if offer.node not in config.member_names:
            log.warning("ignored a config offer from %s: not a member of cluster %s", offer.node, config.name)
            return None
        try:
            newer = parse_cluster(offer.text, f"cluster.yaml offered by {offer.node}")
        except FileError as err:
            log.warning("ignored a config offer: %s", err)
            return None
        if (newer.name, newer.generation) != (config.name, offer.generation) or self.node not in newer.member_names:
            log.warning("ignored a config offer from %s: cluster %s generation %d does not fit", offer.node,
                        newer.name, newer.generation)
            return None
        return newer

    def _own_text(self, config: Cluster) -> str | None:
        """Our cluster.yaml as on disk, if it still is the generation we run."""
        try:
            text = self.paths.cluster_file.read_text()
            on_disk = parse_cluster(text)
        except (OSError, FileError):
            return None
        return text if on_disk.generation == config.generation else None
