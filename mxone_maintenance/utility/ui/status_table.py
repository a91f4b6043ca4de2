"""Show status as a table of widgets: per cluster a heading, one row per LIM (where it runs, the agents'
own state words, lock, preloaded state), the servers answering, and the active alarms.

Columns have fixed widths and the last one wraps inside itself, so long state words ("running on
standby, waiting for manual fallback") and long server lists stay readable at 80 columns.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import urwid

from mxone_maintenance.core.model import Cluster
from mxone_maintenance.utility.ops.status import ClusterReport, LimRow, StatusReport, link_lines
from mxone_maintenance.utility.ui.screens import Focusable as Row

LIM_W, REGULAR_W, RUNS_ON_W, LOCK_W, PRELOADED_W = 5, 10, 12, 9, 18
INDENT = 2


def _columns(attr: str, cells: Sequence[tuple[int | None, str]]) -> Row:
    """Cells of (fixed width or None for the rest, text), indented; None-width cells wrap inside."""
    parts: list = [(INDENT, urwid.Text(""))]
    parts += [(width, urwid.Text(text)) if width else urwid.Text(text) for width, text in cells]
    return Row(urwid.AttrMap(urwid.Columns(parts), attr))


def _line(attr: str, text: str, indent: int = 0) -> Row:
    return Row(urwid.AttrMap(urwid.Padding(urwid.Text(text), left=indent), attr))


def _labelled(attr: str, label: str, text: str) -> Row:
    return _columns(attr, [(len(label), label), (None, text)])


def when(raised: str, now: float | None = None) -> str:
    """An agent's raise time for people: epoch seconds become local time (with the date if not today);
    anything else is shown as it came."""
    try:
        stamp = float(raised)
    except ValueError:
        return raised
    local, today = time.localtime(stamp), time.localtime(time.time() if now is None else now)
    same_day = local[:3] == today[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", local)


PAUSED = "PAUSED"            # how an agent's state words start in maintenance mode (core/contracts/lim_state.py)


def lim_attr(row: LimRow) -> str:
    if row.runs_on in ("nowhere", "unknown"):
        return "alarm"
    return "warning" if row.runs_on != row.regular or row.state.startswith(PAUSED) else "body"


def _lim_cells(row: LimRow, preloaded: bool) -> list[tuple[int | None, str]]:
    cells: list[tuple[int | None, str]] = [(LIM_W, str(row.lim)), (REGULAR_W, row.regular),
                                           (RUNS_ON_W, row.runs_on), (LOCK_W, row.lock)]
    if preloaded:
        cells.append((PRELOADED_W, row.preloaded.split(" (")[0] if row.preloaded else "-"))
    cells.append((None, row.state))
    return cells


def _heading_cells(preloaded: bool) -> list[tuple[int | None, str]]:
    cells: list[tuple[int | None, str]] = [(LIM_W, "LIM"), (REGULAR_W, "regular"), (RUNS_ON_W, "runs on"),
                                           (LOCK_W, "lock")]
    if preloaded:
        cells.append((PRELOADED_W, "preloaded"))
    cells.append((None, "state"))
    return cells


def cluster_rows(report: ClusterReport) -> list[Row]:
    cluster = report.cluster
    preloaded = cluster.failover == "preloaded"
    rows = [_line("cluster", f"Cluster {cluster.name}: generation {cluster.generation}, {cluster.failover} "
                             f"failover, {cluster.fallback} fallback, standby {cluster.standby.server}"),
            _columns("label", _heading_cells(preloaded))]
    rows += [_columns(lim_attr(row), _lim_cells(row, preloaded)) for row in report.rows]
    answering = ", ".join(f"{s.server} {'yes' if s.reachable else 'NO'}" for s in report.servers)
    all_up = all(s.reachable for s in report.servers)
    rows.append(_labelled("body" if all_up else "alarm", "Servers answering: ", answering))
    rows += [_line("alarm" if "DOWN" in line else "body", "  " + line.strip()) for line in link_lines(report)]
    active = [a for a in report.alarms if not a.cleared]
    rows.append(_labelled("body" if not active else "alarm", "Alarms: ", "none" if not active else str(len(active))))
    rows += [_labelled("alarm", "  ", f"{a.server}: {a.text} (since {when(a.raised)})") for a in active]
    rows.append(_line("body", ""))
    return rows


def status_rows(report: StatusReport, extra: Callable[[Cluster], list[Row]] | None = None) -> list[Row]:
    """The table; EXTRA: rows shown under each cluster's alarms (its recent events, ui/recent_events.py)."""
    if not report.clusters:
        return [_line("body", "No clusters in the system.")]
    rows: list[Row] = []
    for cluster in report.clusters:
        part = cluster_rows(cluster)
        if extra is not None:
            part[-1:-1] = extra(cluster.cluster)
        rows += part
    return rows
