"""The failover alarms decide() raises, each as (key, text): one key per fault and place, so the cycle
that no longer sees the fault clears exactly that alarm (agent/alarm_keys.py has the runtime's)."""
from __future__ import annotations

from mxone_maintenance.agent.state import AliasProbe
from mxone_maintenance.core.contracts.lim_state import answerer_words
from mxone_maintenance.core.model import Cluster, ClusterLim

Alarm = tuple[str, str]

STANDBY_DOWN: Alarm = ("standby-down", "Standby server is out of order")


def lim_on_standby(lim: int) -> Alarm:
    return f"lim-on-standby:{lim}", f"LIM {lim} is running on standby server"


def link_down(config: Cluster) -> Alarm:
    return "link-down", f"No link on {config.interface}: this server is cut off from the cluster"


def split_brain(lim: int, node: str, standby: str) -> Alarm:
    return (f"split-brain:{lim}", f"LIM {lim} was active on {node} and on standby server {standby}: "
                                  f"released on {node}")


def not_served(lim: ClusterLim, why: str) -> Alarm:
    return f"not-served:{lim.lim}", f"LIM {lim.lim} is not served: server {lim.server} has failed ({why})"


def alias_conflict(lim: ClusterLim, probe: AliasProbe) -> Alarm:
    alias = lim.alias.ip
    if probe.server:
        text = f"Alias {alias} of LIM {lim.lim} is still answered by {probe.server} ({probe.mac})"
    else:
        text = f"Alias {alias} of LIM {lim.lim} is answered by {probe.mac}, which is no cluster server"
    return f"alias-conflict:{lim.lim}", text


def duplicate_alias(lim: ClusterLim, probe: AliasProbe) -> Alarm:
    return (f"duplicate-alias:{lim.lim}", f"Alias {lim.alias.ip} of LIM {lim.lim} is also answered by "
                                          f"{answerer_words(probe.server, probe.mac)} while this standby serves it")


def service_failed(lim: int, server: str) -> Alarm:
    return f"service-failed:{lim}", f"Service Node of LIM {lim} does not answer on {server}"


def flapping(lim: int, server: str, returns: int, window_s: float) -> Alarm:
    window = f"{window_s / 60:g} minutes" if window_s >= 60 else f"{window_s:g} s"
    return (f"flapping:{lim}", f"LIM {lim}: fallback made manual after {returns} failures of {server} in {window}")
