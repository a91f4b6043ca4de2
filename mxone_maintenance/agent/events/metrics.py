"""Prometheus metrics as a node-exporter textfile (agent.yaml `metrics: {textfile: PATH}`, e.g.
/var/lib/prometheus/node-exporter/mxone.prom; node-exporter's --collector.textfile.directory reads
every *.prom file there).

Why a textfile and not an HTTP endpoint of our own: a cluster host then has no new listening socket
(no new attack surface beside the heartbeat port and the root-only control socket, nothing to
firewall or authenticate), and node-exporter already runs on these hosts and is already scraped, so
no scrape job changes. Written atomically (a temp file in the same folder, then rename), so
node-exporter never reads half a file, and at most once per MIN_INTERVAL_S (the newest snapshot
wins; a snapshot that came too soon is written by the next call after the interval, or by flush()).

The runtime hands a MetricsSnapshot of plain values; this module knows nothing of the runtime.
    mxone_lim_running{lim,server}                1 if this server runs the LIM, else 0
    mxone_lim_state{lim,server,state}            1 for the LIM's current state word
    mxone_heartbeats_sent_total{server}          mxone_heartbeats_send_errors_total{server}
    mxone_heartbeats_received_total{server}      mxone_heartbeats_accepted_total{server}
    mxone_heartbeats_rejected_total{server,reason}   reason: malformed, forged, replayed, wrong_cluster,
                                                     stale, foreign (agent/heartbeat_counters.py)
    mxone_failovers_total{server}                takeovers recorded since the agent started
    mxone_last_event_timestamp_seconds{server}   the newest event's time (0: none yet)
    mxone_events_dropped_total{server,to}        events the notify command or the traps dropped
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mxone_maintenance.core.config.atomic import write_atomic

MIN_INTERVAL_S = 1.0
REJECTED = ("malformed", "forged", "replayed", "wrong_cluster", "stale", "foreign")


@dataclass(frozen=True)
class LimMetric:
    lim: int
    running: bool           # on this server
    state: str              # the state word status shows, e.g. "running here", "waiting for fallback"


@dataclass(frozen=True)
class MetricsSnapshot:
    """Plain values from the runtime; failovers and the last event's time are filled by the sink when
    left None."""
    server: str
    cluster: str = ""
    generation: int = 0
    lims: tuple[LimMetric, ...] = ()
    heartbeats: Mapping[str, int] = field(default_factory=dict)   # Counters' fields by name
    failovers_total: int | None = None
    last_event_at: float | None = None
    dropped: Mapping[str, int] = field(default_factory=dict)       # "notify" / "traps" -> count


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def render(snapshot: MetricsSnapshot) -> str:
    """The textfile's content (Prometheus text exposition format 0.0.4)."""
    server = snapshot.server
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, rows: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {value:g}" if isinstance(value, float) else f"{name}{labels} {value}"
                   for labels, value in rows)

    family("mxone_lim_running", "gauge", "1 if this server runs the LIM",
           [(_labels(lim=m.lim, server=server), int(m.running)) for m in snapshot.lims])
    family("mxone_lim_state", "gauge", "the LIM's state as this server's agent sees it",
           [(_labels(lim=m.lim, server=server, state=m.state), 1) for m in snapshot.lims])
    counts = snapshot.heartbeats
    for name, key, help_text in (("sent", "sent", "heartbeats sent"),
                                 ("send_errors", "send_errors", "heartbeats that could not be sent"),
                                 ("received", "received", "heartbeats received"),
                                 ("accepted", "accepted", "heartbeats received and accepted")):
        family(f"mxone_heartbeats_{name}_total", "counter", help_text,
               [(_labels(server=server), int(counts.get(key, 0)))])
    family("mxone_heartbeats_rejected_total", "counter", "heartbeats received and dropped, by reason",
           [(_labels(server=server, reason=reason), int(counts.get(reason, 0))) for reason in REJECTED])
    family("mxone_failovers_total", "counter", "LIM takeovers by this server since its agent started",
           [(_labels(server=server), int(snapshot.failovers_total or 0))])
    family("mxone_last_event_timestamp_seconds", "gauge", "time of this server's newest event",
           [(_labels(server=server), float(snapshot.last_event_at or 0.0))])
    family("mxone_events_dropped_total", "counter", "events not passed on (queue full)",
           [(_labels(server=server, to=to), int(n)) for to, n in sorted(snapshot.dropped.items())])
    family("mxone_cluster_generation", "gauge", "the cluster.yaml generation the agent runs",
           [(_labels(server=server, cluster=snapshot.cluster), int(snapshot.generation))])
    return "\n".join(out) + "\n"


class MetricsWriter:
    """Writes the newest snapshot to `path`, at most once per `interval_s`."""

    def __init__(self, path: Path, interval_s: float = MIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.interval_s, self.clock = Path(path), interval_s, clock
        self.written_at = float("-inf")
        self.pending: MetricsSnapshot | None = None
        self.writes = 0

    def offer(self, snapshot: MetricsSnapshot) -> bool:
        """Keep `snapshot`; write it if the last write is at least interval_s old. True if written.
        Raises OSError (the sink logs it)."""
        self.pending = snapshot
        if self.clock() - self.written_at < self.interval_s:
            return False
        return self.flush()

    def flush(self) -> bool:
        snapshot, self.pending = self.pending, None
        if snapshot is None:
            return False
        self.written_at = self.clock()
        write_atomic(self.path, render(snapshot), 0o644, durable=False)
        self.writes += 1
        return True
