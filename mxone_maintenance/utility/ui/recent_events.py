"""Show status's "Recent events" part: per cluster the last events of its members in the past hour
(ops/history.py, the same merge as `cluster history`), and the members whose events could not be read.

Gathered in the status worker with the status itself (the two in parallel, so a silent member costs one
timeout, not two). The events files are read again at most every HISTORY_EVERY_S; between two reads the
status refreshes alone and the last events stay shown.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mxone_maintenance.core.contracts.events import Event
from mxone_maintenance.core.model import Cluster, System
from mxone_maintenance.utility.ops.access import SshSettings
from mxone_maintenance.utility.ops.status import StatusReport
from mxone_maintenance.utility.ui.status_table import Row, _columns, _labelled, status_rows

if TYPE_CHECKING:                      # ops.history loads paramiko: only in the worker
    from mxone_maintenance.utility.ops.history import HistoryReport

RECENT_S = 3600.0                      # events of the past hour
RECENT_COUNT = 10                      # the last ten of them, per cluster
HISTORY_EVERY_S = 30.0                 # the events files are read again at most this often
TIME_W, SERVER_W, KIND_W = 9, 11, 14


@dataclass(frozen=True)
class StatusAndEvents:
    status: StatusReport
    history: HistoryReport | None      # None: the events could not be read at all (history_error says why)
    history_error: str = ""


@dataclass
class EventsMemo:
    """The last events read (and when), kept by one status screen between its refreshes."""
    at: float = float("-inf")
    history: HistoryReport | None = None
    error: str = ""
    clock: Callable[[], float] = field(default=time.time)


def gather(system: System, settings: SshSettings, memo: EventsMemo | None = None,
           local: Path | None = None) -> StatusAndEvents:
    """The status and, when due, the recent events (runs in the worker thread)."""
    from mxone_maintenance.utility.ops.history import collect_history  # paramiko loads only here
    from mxone_maintenance.utility.ops.status import collect_status
    memo = memo if memo is not None else EventsMemo()
    now = memo.clock()
    if now - memo.at < HISTORY_EVERY_S:
        return StatusAndEvents(collect_status(system, settings, local=local), memo.history, memo.error)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mxone-ui-events") as pool:
        events = pool.submit(collect_history, system, settings, None, now - RECENT_S)
        status = collect_status(system, settings, local=local)
        try:
            memo.history, memo.error = events.result(), ""
        except Exception as err:  # noqa: BLE001 - the status stands; the events part says why it is missing
            memo.history, memo.error = None, str(err) or type(err).__name__
    memo.at = now
    return StatusAndEvents(status, memo.history, memo.error)


def severity_attr(event: Event) -> str:
    return "alarm" if event.severity >= 3 else "warning" if event.severity >= 1 else "body"


def event_cells(event: Event) -> list[tuple[int | None, str]]:
    """time, server, kind, then the text (and cause) wrapping in the last column: fits 78 columns."""
    cause = f" ({event.cause})" if event.cause else ""
    return [(TIME_W, time.strftime("%H:%M:%S", time.localtime(event.at))), (SERVER_W, event.server[:SERVER_W - 1]),
            (KIND_W, event.kind.value), (None, f"{event.text}{cause}")]


def _without_name(server: str, error: str) -> str:
    head, sep, rest = error.partition(": ")
    return rest if sep and head.split(" ")[0] == server else error


def event_rows(found: StatusAndEvents, cluster: Cluster) -> list[Row]:
    """The "Recent events" rows of one cluster."""
    if found.history is None:
        return [_labelled("alarm", "Recent events: ", f"cannot be read: {found.history_error}")]
    members = set(cluster.member_names)
    events = [e for e in found.history.events if e.server in members][-RECENT_COUNT:]
    silent = [m for m in found.history.members if m.server in members and not m.answered]
    rows = [_labelled("label", "Recent events (last hour): ", "" if events else "none")]
    rows += [_columns(severity_attr(e), event_cells(e)) for e in events]
    rows += [_labelled("alarm", "  ", f"{m.server} did not answer ({_without_name(m.server, m.error)}): "
                                      f"its events are missing") for m in silent]
    return rows


def snapshot_rows(found: StatusAndEvents | StatusReport) -> list[Row]:
    """The status table with each cluster's recent events under its alarms."""
    if isinstance(found, StatusReport):
        return status_rows(found)
    return status_rows(found.status, lambda cluster: event_rows(found, cluster))

