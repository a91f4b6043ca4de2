"""Show status: the table from a report, the header times, refresh every second in the worker."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Interface

from mxone_maintenance.core.contracts.agent_status import AgentStatus
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.utility.ops.status import Alarm, ServerReport, StatusReport, merge_status
from mxone_maintenance.utility.ui.status_screen import StatusScreen
from mxone_maintenance.utility.ui.worker import InlineRuntime

CLUSTER = Cluster(name="c1", standby=StandbyRef("sb1", IPv4Interface("10.77.0.20/24")), lims=(
    ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), IPv4Interface("10.77.0.11/24")),
    ClusterLim(2, "lim2", IPv4Interface("10.77.0.112/24"), IPv4Interface("10.77.0.12/24"), lock="regular")))


def report(lim1_on: str = "lim1", sb1_up: bool = True) -> StatusReport:
    running = {"lim1": (1,) if lim1_on == "lim1" else (), "lim2": (2,), "sb1": (1,) if lim1_on == "sb1" else ()}
    reports = {name: ServerReport(name, True, AgentStatus(node=name, running=lims)) for name, lims in running.items()}
    if not sb1_up:
        reports["sb1"] = ServerReport("sb1", False, None, "timed out")
    merged = merge_status(CLUSTER, reports)
    if lim1_on == "sb1":  # the table shows the time as the merge gives it
        merged = replace(merged, alarms=(Alarm("sb1", "LIM 1 is running on standby server", "12:00:00"),))
    return StatusReport((merged,))


def text(widget, size=(80, 24)) -> str:
    return "\n".join(row.decode() for row in widget.render(size, focus=True).text)


def test_table_shows_where_each_lim_runs_lock_servers_and_alarms():
    runtime = InlineRuntime()
    screen = StatusScreen(lambda: report("sb1"), runtime)
    shown = text(screen)
    assert "updated " in shown
    assert "Cluster c1: generation 1, normal failover, automatic fallback, standby sb1" in shown
    assert "1    lim1      sb1" in shown
    assert "2    lim2      lim2        regular" in shown
    assert "Servers answering: lim1 yes, lim2 yes, sb1 yes" in shown
    assert "sb1: LIM 1 is running on standby server (since 12:00:00)" in shown


def test_refreshes_itself_and_says_so_while_collecting():
    runtime = InlineRuntime()
    reports = iter([report(), report(sb1_up=False)])
    screen = StatusScreen(lambda: next(reports), runtime)
    assert [seconds for seconds, _fn in runtime.timers] == [1.0]
    assert "sb1 yes" in text(screen)
    runtime.fire_timers()
    assert "sb1 NO" in text(screen) and "sb1: does not answer: timed out" in text(screen)
    screen.closing()
    assert runtime.timers == []


def test_refreshing_shown_while_the_worker_runs():
    class Held(InlineRuntime):
        def submit(self, job, done, failed):
            self.pending = (job, done)

    runtime = Held()
    screen = StatusScreen(report, runtime)
    assert "refreshing…" in text(screen)
    assert "Asking the cluster agents" in text(screen)
    job, done = runtime.pending
    done(job())
    assert "refreshing…" not in text(screen)


def test_a_failed_refresh_is_a_line_not_a_crash():
    def broken():
        raise OSError("no route to host")
    screen = StatusScreen(broken, InlineRuntime())
    assert "refresh failed: no route to host" in text(screen)
