"""`cluster status` as a technician reads it: merged from what each agent says, never guessed."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Interface

from mxone_maintenance.core.contracts.agent_status import AgentStatus, AlarmStatus, LimState, LimStatus, SyncEntry
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.utility.ops.status import ServerReport, StatusReport, merge_status, status_text


def cluster(failover: str = "normal") -> Cluster:
    lims = tuple(ClusterLim(n, f"lim{n}", IPv4Interface(f"10.77.0.11{n}/24"), IPv4Interface(f"10.77.0.1{n}/24"),
                            priority=5 if n == 1 else 1) for n in (1, 2))
    return Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")), lims, failover=failover)


def agent(node: str, running=(), blocked=(), lims=(), alarms=()) -> AgentStatus:
    return AgentStatus(node=node, running=tuple(running), blocked=tuple(blocked), lims=tuple(lims),
                       alarms=tuple(alarms))


def test_a_lim_on_the_standby_is_shown_there_with_its_alarm():
    reports = {
        "lim1": ServerReport("lim1", False, error="lim1 (10.77.0.111): connection timed out after 5 s"),
        "lim2": ServerReport("lim2", True, agent("lim2", running=[2], lims=[LimStatus(2, "lim2",
                                                                                      LimState.RUNNING_HERE)])),
        "sb1": ServerReport("sb1", True, agent("sb1", running=[1], lims=[
            LimStatus(1, "sb1", LimState.ON_STANDBY)],
            alarms=[AlarmStatus("on-standby:1", "LIM 1 is running on standby server", 1764091200.0, None)])),
    }
    report = merge_status(cluster(), reports)
    rows = {row.lim: row for row in report.rows}
    assert (rows[1].runs_on, rows[1].state) == ("sb1", "running on standby")
    assert (rows[2].runs_on, rows[2].state) == ("lim2", "running on regular")
    text = status_text(StatusReport((report,)))
    assert "LIM 1 is running on standby server (since 2025-11-25" in text
    assert "lim1 NOT ANSWERING" in text
    assert "lim1: does not answer: connection timed out after 5 s" in text
    assert not StatusReport((report,)).complete


def test_a_lim_nobody_reports_is_unknown_while_a_server_is_silent_and_not_served_when_all_answer():
    silent = {"lim1": ServerReport("lim1", False, error="x"), "lim2": ServerReport("lim2", True, agent("lim2", [2])),
              "sb1": ServerReport("sb1", True, agent("sb1"))}
    assert merge_status(cluster(), silent).rows[0].runs_on == "unknown"
    answering = {**silent, "lim1": ServerReport("lim1", True, agent("lim1"))}
    row = merge_status(cluster(), answering).rows[0]
    assert (row.runs_on, row.state) == ("nowhere", "not served")


def test_two_holders_of_one_alias_are_both_shown():
    reports = {"lim1": ServerReport("lim1", True, agent("lim1", [1])),
               "lim2": ServerReport("lim2", True, agent("lim2", [2])),
               "sb1": ServerReport("sb1", True, agent("sb1", [1]))}
    assert merge_status(cluster(), reports).rows[0].runs_on == "lim1+sb1"


def test_preloaded_shows_the_passive_side():
    reports = {"lim1": ServerReport("lim1", True, agent("lim1", [1])),
               "lim2": ServerReport("lim2", True, agent("lim2", [2])),
               "sb1": ServerReport("sb1", True, agent("sb1", blocked=[1]))}
    row = merge_status(cluster("preloaded"), reports).rows[0]
    assert row.preloaded == "passive on sb1 (alias blocked)"
    assert row.runs_on == "lim1"


def test_an_agent_without_a_running_list_is_read_from_its_own_lim_view():
    report = ServerReport("sb1", True, AgentStatus(node="sb1", running=None, lims=(
        LimStatus(1, "sb1", LimState.ON_STANDBY), LimStatus(2, "lim2", LimState.RUNNING_ON, servers=("lim2",)))))
    assert report.running() == {1}


def test_the_standbys_last_sync_per_lim_is_shown_with_its_age():
    sync = (SyncEntry(2, "lim2", last=None, ok=None, age_s=None, version=None, state="waiting: lim2 not heard"),
            SyncEntry(1, "lim1", last=1764091200.0, ok=False, age_s=42.4, version="xdata_1_20251125172000",
                      state="idle"))
    reports = {"lim1": ServerReport("lim1", True, agent("lim1", [1])),
               "lim2": ServerReport("lim2", True, agent("lim2", [2])),
               "sb1": ServerReport("sb1", True, replace(agent("sb1"), sync=sync))}
    text = status_text(StatusReport((merge_status(cluster(), reports),)))
    assert "LIM 1: last sync FAILED 2025-11-2" in text and "(42 s ago), xdata_1_20251125172000" in text
    assert "LIM 2: never synced (waiting: lim2 not heard)" in text
    assert text.index("LIM 1: last sync") < text.index("LIM 2: never synced")


def test_a_regular_pulling_the_standbys_data_shows_its_progress():
    pulling = SyncEntry(1, "sb1", state="running: pulling xdata_1_20251125172000 from sb1, 120.5 MB so far")
    reports = {"lim1": ServerReport("lim1", True, replace(agent("lim1"), sync=(pulling,))),
               "lim2": ServerReport("lim2", True, replace(agent("lim2", [2]), sync=(SyncEntry(2, "sb1"),))),
               "sb1": ServerReport("sb1", True, agent("sb1", [1]))}
    lines = status_text(StatusReport((merge_status(cluster(), reports),))).splitlines()
    assert "    LIM 1 to lim1: running: pulling xdata_1_20251125172000 from sb1, 120.5 MB so far" in lines
    assert not [line for line in lines if "to lim2" in line]      # an idle regular adds nothing
