"""decide()'s actions carried out through the effects, in order. An effect that fails raises its alarm
and the cycle goes on; only a data check that does not pass (row 23) stops the remaining actions, so a
LIM is never released before its regular holds the newest data."""
from __future__ import annotations

import logging
from collections.abc import Callable

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent import state as st
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.handback import HandBack
from mxone_maintenance.agent.runtime.journal import describe
from mxone_maintenance.agent.runtime.ports import Effects
from mxone_maintenance.agent.runtime.probing import Probing
from mxone_maintenance.agent.runtime.senses import Senses
from mxone_maintenance.agent.runtime.services import Services
from mxone_maintenance.core.model import Cluster, ClusterLim

log = logging.getLogger("mxone-cluster-agent")


class Hands:
    """Applies one cycle's actions; `collect_probes` reads a probe's answer (inline in tests: at once)."""

    def __init__(self, node: str, alarms: AlarmBook, probing: Probing, services: Services, handback: HandBack,
                 senses: Senses, collect_probes: Callable[[], None]) -> None:
        self.node, self.alarms, self.probing, self.services = node, alarms, probing, services
        self.handback, self.senses, self.collect_probes = handback, senses, collect_probes

    def apply(self, config: Cluster, effects: Effects, decision: st.Decision) -> None:
        for action in decision.actions:
            if not self.apply_one(config, effects, action):
                log.warning("skipped the rest of this cycle's actions after: %s", describe(action))
                break

    def apply_one(self, config: Cluster, effects: Effects, action: st.Action) -> bool:
        """Carry out one action; False stops the cycle (a failed data push must not release)."""
        if isinstance(action, st.RaiseAlarm):
            self.alarms.raise_(action.key, action.text)
        elif isinstance(action, st.ClearAlarm):
            self.alarms.clear(action.key)
        elif isinstance(action, st.SyncData):
            standby = self.node == config.standby.server
            return self.handback.synced(action, standby, effects.sync, self.alarms)
        elif (lim := config.lim(action.lim)) is not None:
            self._on_alias(lim, effects, action)
        return True

    def _on_alias(self, lim: ClusterLim, e: Effects, action: st.Action) -> None:
        alias, key = lim.alias, alarm_keys.effect(lim.lim)
        attempt = self.alarms.attempt
        if isinstance(action, st.ProbeAlias):
            self.probing.submit(lim.lim, lambda: e.neighbours.probe(alias.ip))
            self.collect_probes()
        elif isinstance(action, st.TakeAlias):
            if attempt(lambda: e.addresses.add(alias), key, f"add alias {alias}") is not False:
                if action.announce:
                    attempt(lambda: e.neighbours.announce(alias.ip), key, f"announce {alias.ip}")
                self.services.start(lim.lim, alias.ip, e.service)
            self.probing.took(lim.lim)
        elif isinstance(action, st.ReleaseAlias):
            attempt(lambda: e.addresses.remove(alias), key, f"remove alias {alias}")
            self.services.stop(lim.lim, alias.ip, e.service)
        elif isinstance(action, st.Announce):
            attempt(lambda: e.neighbours.announce(alias.ip), key, f"announce {alias.ip}")
        elif isinstance(action, st.Block):
            attempt(lambda: e.firewall.block(alias.ip), key, f"block {alias.ip}")
            self.senses.forget_blocked()
        elif isinstance(action, st.Unblock):
            attempt(lambda: e.firewall.unblock(alias.ip), key, f"unblock {alias.ip}")
            self.senses.forget_blocked()
            self.probing.took(lim.lim)

    def let_go_of_removed(self, old: Cluster | None, new: Cluster, effects: Effects) -> None:
        """A LIM that left the configuration (remove-lim of a dead regular while this standby ran it):
        its alias and Service Node go. The LIM's own server keeps its own address."""
        if old is None:
            return
        gone = [lim for lim in old.lims if new.lim(lim.lim) is None and lim.server != self.node]
        held = self.senses.held(effects) if gone else set()
        for lim in gone:
            if lim.alias in held:
                log.warning("LIM %d is no longer in cluster %s: releasing %s", lim.lim, new.name, lim.alias)
                self._on_alias(lim, effects, st.ReleaseAlias(lim.lim))

