"""The agent's events: history file, notify command, SNMP traps, Prometheus textfile (sink.py)."""
from __future__ import annotations

from mxone_maintenance.agent.events.history import EventLog
from mxone_maintenance.agent.events.metrics import LimMetric, MetricsSnapshot
from mxone_maintenance.agent.events.sink import EventSink
from mxone_maintenance.core.contracts.events import Event, EventKind, new_event

__all__ = ["Event", "EventKind", "EventLog", "EventSink", "LimMetric", "MetricsSnapshot", "new_event"]
