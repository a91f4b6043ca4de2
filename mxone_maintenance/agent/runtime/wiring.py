"""What runs on the config in use: the heartbeat channel, kept across reloads with the same port and
cluster name (the peers' replay windows and the counters survive), the effects, rebuilt when the
cluster interface changes, and the data sync, rebuilt with every config."""
from __future__ import annotations

import logging
from collections.abc import Callable

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.ports import Effects, HeartbeatPort, MakeChannel, MakeEffects, MakeSync
from mxone_maintenance.core.model import Cluster

log = logging.getLogger("mxone-cluster-agent")


class Wiring:
    def __init__(self, node: str, make_effects: MakeEffects, make_channel: MakeChannel,
                 make_sync: MakeSync | None, alarms: AlarmBook, clock: Callable[[], float],
                 started: float) -> None:
        self.node, self.alarms, self.clock = node, alarms, clock
        self.make_effects, self.make_channel, self.make_sync = make_effects, make_channel, make_sync
        self.config: Cluster | None = None
        self.note = "no cluster config"          # why there is none, for status
        self.effects: Effects | None = None
        self.channel: HeartbeatPort | None = None
        self.listening_since = started           # a new channel hears nobody yet
        self.own_mac: str | None = None          # our interface's, announced in heartbeats

    @property
    def ready(self) -> bool:
        return self.config is not None and self.channel is not None and self.effects is not None

    def use(self, config: Cluster, key: bytes) -> bool:
        """Run on `config` from now on; True if the effects were built anew (their state is unknown)."""
        old = self.config
        if old is not None and config == old and self.channel is not None:
            self._rekey(key, config)
            return False
        log.info("cluster %s generation %d (%s fallback, %s failover, D %g s, heartbeat %g s)",
                 config.name, config.generation, config.fallback, config.failover, config.detect_s,
                 config.heartbeat_s)
        if old is None or (old.port, old.name) != (config.port, config.name) or self.channel is None:
            self.close_channel()
            self.channel = self.make_channel(config, key)
            self.listening_since = self.clock()
        else:
            self._rekey(key, config)
        rebuilt = old is None or old.interface != config.interface or self.effects is None
        if rebuilt:
            self.effects = effects = self.make_effects(config, self.node)
            self.own_mac = self.alarms.attempt(effects.neighbours.own_mac, "effect:mac", "MAC") or None
        if self.make_sync is not None:
            self.effects.sync = self.make_sync(config, self.node)
        self.config = config
        self._check_membership(config)
        return rebuilt

    def drop(self, note: str) -> None:
        self.close_channel()
        self.config, self.note = None, note

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def _rekey(self, key: bytes, config: Cluster) -> None:
        if hasattr(self.channel, "rekey"):
            self.channel.rekey(key, config.name)

    def _check_membership(self, config: Cluster) -> None:
        if self.node not in config.member_names:
            self.alarms.raise_(alarm_keys.NOT_MEMBER, f"This server ({self.node}) is not a member of cluster "
                                                      f"{config.name}: idle")
        else:
            self.alarms.clear(alarm_keys.NOT_MEMBER)
