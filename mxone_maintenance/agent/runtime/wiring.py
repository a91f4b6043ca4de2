"""What runs on the config in use: the heartbeat channel, kept across reloads with the same port, cluster
name and own base address (the counters survive; the peers' replay windows survive even a new channel
or a restart, in the agent state dir), the effects, rebuilt when the cluster interface changes, and the
data sync, rebuilt with every config.

A heartbeat socket that cannot be opened (the base address not up yet, the port taken) is alarmed with
the error and tried again every cycle (`upkeep`); until it opens the agent hears nobody, so it decides
nothing and sends nothing."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.replay_guard import STATE_FILE
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.ports import Effects, HeartbeatPort, MakeChannel, MakeEffects, MakeSync
from mxone_maintenance.core.model import Cluster

log = logging.getLogger("mxone-cluster-agent")
REPLAY_SAVE_S = 5.0     # the replay windows are saved this often (and at once when a peer's run changes)


class Wiring:
    def __init__(self, node: str, make_effects: MakeEffects, make_channel: MakeChannel,
                 make_sync: MakeSync | None, alarms: AlarmBook, clock: Callable[[], float],
                 started: float, state_dir: Path | None = None) -> None:
        self.node, self.alarms, self.clock = node, alarms, clock
        self.make_effects, self.make_channel, self.make_sync = make_effects, make_channel, make_sync
        self.state_dir = state_dir               # where the replay windows are kept (None: in memory only)
        self.config: Cluster | None = None
        self.key = b""
        self.note = "no cluster config"          # why there is none, for status
        self.effects: Effects | None = None
        self.channel: HeartbeatPort | None = None
        self.listening_since = started           # a new channel hears nobody yet
        self.own_mac: str | None = None          # our interface's, announced in heartbeats
        self.saved_at = clock()

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
        if old is None or self._socket_of(old) != self._socket_of(config) or self.channel is None:
            self.close_channel()
            self.key = key
            self._open_channel(config)
        else:
            self._rekey(key, config)
        rebuilt = old is None or old.interface != config.interface or self.effects is None
        if rebuilt:
            self.effects = effects = self.make_effects(config, self.node)
            self.own_mac = self.alarms.attempt(effects.neighbours.own_mac, "effect:mac", "MAC") or None
        if self.make_sync is not None:
            self.effects.sync = self.make_sync(config, self.node)
        self.config = config
        self._admit(config)
        self._check_membership(config)
        return rebuilt

    def upkeep(self) -> None:
        """Every cycle: open the heartbeat socket if it could not be opened yet, alarm the peers whose
        heartbeats are refused for their clock, save the replay windows when due."""
        config = self.config
        if config is None:
            return
        if self.channel is None:
            self._open_channel(config)
            if self.channel is not None:
                self._admit(config)
        if self.channel is not None:
            self._watch_clocks(config, self.channel)
            self._save_windows(self.channel)

    def drop(self, note: str) -> None:
        self.close_channel()
        self.alarms.clear(alarm_keys.HEARTBEAT_SOCKET)
        self._clear_clock_alarms(keep=set())
        self.config, self.note = None, note

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def _socket_of(self, config: Cluster) -> tuple:
        """What the socket is bound to and checks: a change needs a new channel."""
        return config.port, config.name, config.base_of(self.node)

    def _open_channel(self, config: Cluster) -> None:
        try:
            channel = self.make_channel(config, self.key)
        except OSError as exc:
            base = config.base_of(self.node)
            where = f"{base.ip if base else '0.0.0.0'}:{config.port}"
            self.alarms.raise_(alarm_keys.HEARTBEAT_SOCKET,
                               f"Cannot open the heartbeat socket UDP {where}: {exc.strerror or exc} (tried "
                               f"again every cycle; until then this server hears no peer and sends nothing)")
            return
        self.alarms.clear(alarm_keys.HEARTBEAT_SOCKET)
        self.channel, self.listening_since = channel, self.clock()
        keep = getattr(channel, "keep_replay_state", None)
        if keep is not None and self.state_dir is not None:
            keep(self.state_dir / STATE_FILE)

    def _admit(self, config: Cluster) -> None:
        """Only the members' base addresses get past the channel (before the HMAC is computed)."""
        admit = getattr(self.channel, "admit", None)
        if admit is not None:
            admit({str(base.ip): name for name in config.member_names
                   if name != self.node and (base := config.base_of(name)) is not None})

    def _watch_clocks(self, config: Cluster, channel: HeartbeatPort) -> None:
        refused = getattr(channel, "clock_refused", None)
        found = refused(max(1.0, 3 * config.heartbeat_s)) if refused is not None else {}
        limit = getattr(channel, "max_skew_s", None) or 0.0
        members = set(config.member_names) - {self.node}
        for name, skew in found.items():
            if name in members:
                self.alarms.raise_(alarm_keys.heartbeat_clock(name),
                                   f"Heartbeats of {name} refused: its clock differs from ours by more than "
                                   f"{limit:.0f} s (by {abs(skew):.0f} s when it began)")
        self._clear_clock_alarms(keep=set(found) & members)

    def _clear_clock_alarms(self, keep: set[str]) -> None:
        for key in [k for k in self.alarms.active if k.startswith(alarm_keys.HEARTBEAT_CLOCK_PREFIX)]:
            if key.removeprefix(alarm_keys.HEARTBEAT_CLOCK_PREFIX) not in keep:
                self.alarms.clear(key)

    def _save_windows(self, channel: HeartbeatPort) -> None:
        save = getattr(channel, "save_replay_state", None)
        if save is None:
            return
        now = self.clock()
        periodic = now - self.saved_at >= REPLAY_SAVE_S
        save(periodic)
        if periodic:
            self.saved_at = now

    def _rekey(self, key: bytes, config: Cluster) -> None:
        self.key = key
        if hasattr(self.channel, "rekey"):
            self.channel.rekey(key, config.name)

    def _check_membership(self, config: Cluster) -> None:
        if self.node not in config.member_names:
            self.alarms.raise_(alarm_keys.NOT_MEMBER, f"This server ({self.node}) is not a member of cluster "
                                                      f"{config.name}: idle")
        else:
            self.alarms.clear(alarm_keys.NOT_MEMBER)
