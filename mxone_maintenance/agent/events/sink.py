"""Where the runtime hands its events and metrics: `EventSink(settings, paths, server)`.

    sink.record(event)      history line (always), notify command and SNMP traps (when configured)
    sink.metrics(snapshot)  the node-exporter textfile (when configured), at most once a second
    sink.close()            stop the workers (what is queued gets up to 2 s), write the last metrics

The caller's thread only appends one line to a local file and hands the event to two bounded queues;
commands and traps run on worker threads. Every failure inside is logged, never raised to the caller.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from mxone_maintenance.agent.events.history import EventLog
from mxone_maintenance.agent.events.metrics import MetricsSnapshot, MetricsWriter
from mxone_maintenance.agent.events.notify import Notifier
from mxone_maintenance.agent.events.traps import TrapSender
from mxone_maintenance.agent.settings import AgentSettings
from mxone_maintenance.core.contracts.events import Event, EventKind, new_event
from mxone_maintenance.core.paths import Paths

log = logging.getLogger("mxone-cluster-agent")


class EventSink:
    def __init__(self, settings: AgentSettings, paths: Paths, server: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.history = EventLog(paths.events_file)
        self.notifier = Notifier(settings.notify, settings.notify_timeout_s) if settings.notify else None
        self.traps = TrapSender(settings.trap_receivers, settings.trap_community) \
            if settings.trap_receivers else None
        self.writer = MetricsWriter(settings.metrics_textfile, clock=clock) if settings.metrics_textfile else None
        self.failovers = 0
        self.last_event_at: float | None = None
        self.recorded = 0
        self._history_failing = False
        self._metrics_failing = False

    def event(self, kind: EventKind, text: str, **fields) -> Event | None:
        """Make an event of this server now (core.contracts.events.new_event) and record it."""
        try:
            event = new_event(kind, self.server, text, **fields)
        except Exception:  # noqa: BLE001 - a bad field (severity 7) is logged, never raised
            log.exception("event %s could not be made", getattr(kind, "value", kind))
            return None
        self.record(event)
        return event

    def record(self, event: Event) -> None:
        if not isinstance(event, Event):
            log.error("the event sink was handed %s, not an Event", type(event).__name__)
            return
        try:
            self._record(event)
        except Exception:  # noqa: BLE001 - the sink never raises into the agent's loop
            log.exception("event %s could not be recorded", getattr(event, "kind", "?"))

    def _record(self, event: Event) -> None:
        self.recorded += 1
        if event.kind is EventKind.TAKEOVER:
            self.failovers += 1
        self.last_event_at = max(self.last_event_at or 0.0, event.at)
        try:
            self.history.append(event)
            if self._history_failing:
                log.warning("event history %s is written again", self.history.path)
            self._history_failing = False
        except OSError as exc:
            if not self._history_failing:      # once, not once per event, until it works again
                log.error("event history %s cannot be written: %s", self.history.path, exc.strerror or exc)
            self._history_failing = True
        if self.notifier is not None:
            self.notifier.send(event)
        if self.traps is not None:
            self.traps.send(event)

    def dropped(self) -> dict[str, int]:
        out = {}
        if self.notifier is not None:
            out["notify"] = self.notifier.dropped
        if self.traps is not None:
            out["traps"] = self.traps.dropped
        return out

    def metrics(self, snapshot: MetricsSnapshot) -> None:
        if self.writer is None:
            return
        try:
            filled = replace(snapshot,
                             failovers_total=self.failovers if snapshot.failovers_total is None
                             else snapshot.failovers_total,
                             last_event_at=self.last_event_at if snapshot.last_event_at is None
                             else snapshot.last_event_at,
                             dropped=snapshot.dropped or self.dropped())
            if self.writer.offer(filled):
                self._metrics_ok()
        except Exception as exc:  # noqa: BLE001 - OSError mostly; logged once until it works again
            self._metrics_failed(exc)

    def _metrics_ok(self) -> None:
        if self._metrics_failing:
            log.warning("metrics textfile %s is written again", self.writer.path)
        self._metrics_failing = False

    def _metrics_failed(self, exc: Exception) -> None:
        if not self._metrics_failing:
            log.error("metrics textfile %s cannot be written: %s",
                      self.writer.path if self.writer else "?", getattr(exc, "strerror", None) or exc)
        self._metrics_failing = True

    def close(self) -> None:
        for part in (self.notifier, self.traps):
            if part is not None:
                try:
                    part.close()
                except Exception:  # noqa: BLE001
                    log.exception("closing the event sink failed")
        if self.writer is not None:
            try:
                self.writer.flush()
            except Exception as exc:  # noqa: BLE001
                self._metrics_failed(exc)
        self.history.close()
