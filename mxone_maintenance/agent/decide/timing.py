"""decide()'s times, all derived from the config (DESIGN §6: D, H and the heartbeat period)."""
from __future__ import annotations

from mxone_maintenance.core.model import Cluster

ARP_RETRY_S = 1.0   # Linux retries an unanswered ARP request after retrans_time_ms, 1 s by default


def hold_time(config: Cluster) -> float:
    """H: how long a returned regular must be heard without a gap before automatic fallback, so a
    flapping server does not bounce its LIM. A `hold_s` config field wins if the model has one."""
    configured = getattr(config, "hold_s", None)
    return float(configured) if configured is not None else max(3 * config.heartbeat_s, 2.0)


SILENCE_ALARM_MIN_S = 2.0


def silence_alarm_time(config: Cluster) -> float:
    """How long a peer must be silent before an alarm about its silence: "Standby server is out of order"
    on a regular, and on the standby "Alias ... is still answered by ..." (a takeover its probe refused):
    D, but at least SILENCE_ALARM_MIN_S. At the fastest settings a few lost heartbeats make D (measured,
    20 % of heartbeats lost: the standby alarm raised and cleared 72 times in 2 minutes, the alias alarm
    5 times in 20 s); neither alarm changes what the agent does, so they may wait until the silence
    means something."""
    return max(config.detect_s, SILENCE_ALARM_MIN_S)


def settle_time(config: Cluster) -> float:
    """A node that just started listens this long before taking an alias (row 24)."""
    return 2 * config.heartbeat_s


def relisten_time(config: Cluster) -> float:
    """After a gap (our carrier back, a peer heard again) listen this long before acting on what we
    do not hear: the start-up listening time plus the network's own ARP retry, which can hold the
    first heartbeats either way back for a second after a cut (seen in the lab; chaos seed 6)."""
    return settle_time(config) + ARP_RETRY_S


def probe_fresh_time(config: Cluster) -> float:
    """An ARP probe result older than this is not trusted for a takeover."""
    return max(2 * config.heartbeat_s, 0.5)


def reprobe_time(config: Cluster) -> float:
    """After an answered probe, probe again this often (rows 14, 15)."""
    return max(config.heartbeat_s, 1.0)


def probe_timeout(config: Cluster) -> float:
    """An unanswered ARP probe takes this long (an answer on a LAN comes in well under a millisecond)."""
    return min(0.3, max(0.05, config.heartbeat_s))


def probe_tries(config: Cluster) -> int:
    """ARP requests per probe, spread over its timeout (one every 10 ms or so, 3 to 10): the probe is all
    that stands between a few lost heartbeats and a false takeover, so one lost request or reply on a
    lossy or busy link must not make a live server's alias look free (measured: with 20 % of ARP lost,
    two requests let 2-3 false takeovers a minute through at the fastest settings)."""
    return max(3, min(10, int(round(probe_timeout(config) / 0.01))))


def preprobe_lead(config: Cluster) -> float:
    """The standby probes a silent regular's alias this long before D, so the answer (none, when the
    server is dead) is in and fresh at D and the takeover does not wait a probe timeout. At the fastest
    settings D/4 is shorter than the probe itself; the lead is then the probe's time plus 20 ms."""
    return min(0.4, max(config.detect_s / 4, probe_timeout(config) + 0.02), probe_fresh_time(config) / 2)


def announce_period(config: Cluster) -> float:
    """Repeat the gratuitous ARP this often after a takeover (caches that missed the first one)."""
    return max(10 * config.heartbeat_s, 5.0)


def release_memory_time(config: Cluster) -> float:
    """How long a handed-back LIM is announced as releasing if its regular does not take it."""
    return config.detect_s + settle_time(config)
