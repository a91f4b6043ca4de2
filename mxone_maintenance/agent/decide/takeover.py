"""Taking an alias nobody handed over: probe it with ARP first, and an answer blocks the takeover
(DESIGN §6 takeover, SCENARIOS rows 3, 14, 15); the standby's probes before D and while it serves."""
from __future__ import annotations

from dataclasses import dataclass

from mxone_maintenance.agent.decide import alarms
from mxone_maintenance.agent.decide.cycle import Cycle
from mxone_maintenance.agent.decide.timing import preprobe_lead, probe_fresh_time, reprobe_time, silence_alarm_time
from mxone_maintenance.agent.state import Announce, ProbeAlias
from mxone_maintenance.core.contracts.lim_state import LimState
from mxone_maintenance.core.model import ClusterLim


@dataclass(frozen=True)
class Steps:
    """The states one side shows on its way to an alias: a regular starting its LIM, the standby taking over."""
    handed_over: LimState
    free: LimState
    probing: LimState
    answered: LimState


STARTING = Steps(LimState.STARTING_HANDED_OVER, LimState.STARTING_ALIAS_FREE, LimState.STARTING_PROBING,
                 LimState.STARTING_ALIAS_ANSWERED)
TAKING_OVER = Steps(LimState.TAKING_OVER_HANDED_OVER, LimState.TAKING_OVER_ALIAS_FREE,
                    LimState.TAKING_OVER_PROBING, LimState.TAKING_OVER_ALIAS_ANSWERED)


def take_when_clear(cycle: Cycle, lim: ClusterLim, handed_over: bool, steps: Steps,
                    not_before: float | None = None, silent_peer: str | None = None) -> None:
    """Activate `lim` if its alias is free; else probe it, or wait and alarm while it is answered.
    An answer from before `not_before` (a pre-probe, while the regular was still alive) is asked again
    at once instead of after the re-probe time. With `silent_peer` (the standby's: the LIM's regular) the
    answered alias is alarmed only once that peer has been silent for silence_alarm_time."""
    if handed_over:
        cycle.activate(lim.lim)
        cycle.say(lim.lim, cycle.obs.node, steps.handed_over)
        return
    probe = cycle.obs.probe(lim.lim)
    age = cycle.now - probe.at if probe is not None else None
    if probe is not None and probe.kind == "none" and age <= probe_fresh_time(cycle.config):
        cycle.activate(lim.lim)
        cycle.say(lim.lim, cycle.obs.node, steps.free)
        return
    if probe is not None and not_before is not None and probe.at < not_before:
        cycle.do(ProbeAlias(lim.lim))
        cycle.say(lim.lim, None, steps.probing)
        return
    if probe is not None and probe.kind != "none":
        if silent_peer is None or cycle.silent_for(silent_peer, silence_alarm_time(cycle.config)):
            cycle.alarm(alarms.alias_conflict(lim, probe))
        if age >= reprobe_time(cycle.config):
            cycle.do(ProbeAlias(lim.lim))
        cycle.say(lim.lim, probe.server, steps.answered, servers=(probe.server,) if probe.server else (),
                  mac=probe.mac)
        return
    cycle.do(ProbeAlias(lim.lim))
    cycle.say(lim.lim, None, steps.probing)


def preprobe(cycle: Cycle, target: ClusterLim | None) -> None:
    """Probe the alias of a regular about to pass D whose LIM would then come here (saves a probe
    timeout of the failover); the result is only used if it is fresh when the regular has failed."""
    if not cycle.settled or cycle.preloaded:
        return
    lead = preprobe_lead(cycle.config)
    for lim in sorted(cycle.config.lims, key=lambda item: (item.priority, item.lim)):
        peer = cycle.peer(lim.server)
        if lim.lock == "regular" or lim.lim in cycle.obs.active or peer.last_heard is None:
            continue
        if target is not None and (target.lim in cycle.obs.active or target.lock == "standby"):
            if lim.priority >= target.priority:
                continue
        silent = cycle.now - peer.last_heard
        if not cycle.config.detect_s - lead <= silent < cycle.config.detect_s:
            continue
        probe = cycle.obs.probe(lim.lim)
        if probe is None or probe.at < peer.last_heard:
            cycle.do(ProbeAlias(lim.lim))
        return


def watch_duplicate(cycle: Cycle, lim: ClusterLim) -> None:
    """While serving a failed regular's LIM, probe the alias now and then: a regular that was hung
    (kernel and agent frozen) when we probed can wake with the alias still on its interface, and its
    agent may stay silent, so no split-brain rule will ever remove it. We keep the LIM (its regular
    counts as failed), raise an alarm and announce, so the telephones' ARP caches come back to us."""
    probe = cycle.obs.probe(lim.lim)
    if probe is None or cycle.now - probe.at >= reprobe_time(cycle.config):
        cycle.do(ProbeAlias(lim.lim))
    if probe is None or probe.kind == "none" or cycle.now - probe.at > 2 * reprobe_time(cycle.config):
        return
    cycle.alarm(alarms.duplicate_alias(lim, probe))
    if cycle.now - cycle.announced.get(lim.lim, float("-inf")) >= reprobe_time(cycle.config):
        cycle.do(Announce(lim.lim))
        cycle.announced[lim.lim] = cycle.now
