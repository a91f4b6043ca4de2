"""Issue 19's pure parts: a co-located Media Server started after the Service Node and stopped before it
(real commands), its own alarm when it fails; the guided reboot's plan, its refusals and its kept
progress."""
from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from mxone_maintenance.agent.effects.service import CommandService, MediaServerError
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.services import Services
from mxone_maintenance.core.config.system_file import parse_system
from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.core.contracts.agent_status import AgentStatus, LimState, LimStatus
from mxone_maintenance.utility.ops.reboot import RebootRun, Step, is_back, plan_lines, plan_reboot, read_progress, \
    write_progress
from mxone_maintenance.utility.ops.requests import RuntimeFacts
from mxone_maintenance.utility.ops.status_sources import ServerReport
from tests.helpers.uitools import with_lim1_clustered

ALIAS = IPv4Address("10.77.0.11")


def recorder(log: Path, word: str) -> list[str]:
    return ["sh", "-c", f'echo "{word} $0 $1" >> {log}', "{lim}", "{alias}"]


def test_the_media_server_starts_after_the_service_node_and_stops_before_it(tmp_path):
    log = tmp_path / "order"
    service = CommandService(recorder(log, "sn-start"), recorder(log, "sn-stop"), "lim1",
                             media_start=recorder(log, "ms-start"), media_stop=recorder(log, "ms-stop"))
    service.start(1, ALIAS)
    service.stop(1, ALIAS)
    assert log.read_text().splitlines() == ["sn-start 1 10.77.0.11", "ms-start 1 10.77.0.11",
                                            "ms-stop 1 10.77.0.11", "sn-stop 1 10.77.0.11"]


def test_a_media_server_that_does_not_start_is_its_own_alarm_naming_it(tmp_path):
    service = CommandService(["true"], ["true"], "lim1", media_start=["false"])
    with pytest.raises(MediaServerError, match="Media Server of LIM 1 did not start"):
        service.start(1, ALIAS)
    services, alarms = Services(lambda: 0.0, False, lambda: None), AlarmBook(lambda: 0.0)
    services.start(1, ALIAS, service)
    services.collect(alarms)
    assert [a.text for a in alarms.active.values()] == [
        "Media Server of LIM 1 did not start: media-start LIM 1: false failed: exit status 1"]


SYSTEM = parse_system(with_lim1_clustered())


def test_a_regular_is_locked_rebooted_waited_for_and_unlocked():
    run = plan_reboot(SYSTEM, "lim1", RuntimeFacts(known=True), move_back=False)
    assert run.steps() == (Step.LOCK, Step.REBOOT, Step.WAIT, Step.UNLOCK) and run.step is Step.LOCK
    assert plan_lines(run, 900)[1:] == [
        "  1. lock LIM 1 to its regular server lim1 (the standby will not take it)",
        "  2. reboot lim1 (its agent.yaml's reboot command)",
        "  3. wait (at most 900 s) until lim1 answers over SSH and its peers hear its agent with LIM 1 running there",
        "  4. unlock LIM 1 (the fallback type decides from then on)"]


def test_a_lim_already_locked_to_its_regular_stays_locked():
    system = parse_system(with_lim1_clustered(lock="regular"))
    run = plan_reboot(system, "lim1", RuntimeFacts(known=True), move_back=False)
    assert run.steps() == (Step.REBOOT, Step.WAIT) and not run.locked_by_us


def test_the_standby_serving_a_lim_is_refused_unless_moved_back_first():
    with pytest.raises(RuleViolation, match="the standby sb1 serves LIM 1; give --move-back"):
        plan_reboot(SYSTEM, "sb1", RuntimeFacts(on_standby=frozenset({1}), known=True), move_back=False)
    run = plan_reboot(SYSTEM, "sb1", RuntimeFacts(on_standby=frozenset({1}), known=True), move_back=True)
    assert run.step is Step.MOVE_BACK


def test_a_server_in_no_cluster_is_refused():
    with pytest.raises(RuleViolation, match="lim2 is no server of a cluster"):
        plan_reboot(SYSTEM, "lim2", RuntimeFacts(known=True), move_back=False)


def test_the_progress_is_kept_and_gone_when_done(tmp_path):
    system_file = tmp_path / "system.yaml"
    run = RebootRun("lim1", "c1", 1, True, Step.WAIT, ordered_at=1.5, up_before=30.0)
    write_progress(system_file, run)
    assert read_progress(system_file) == run
    write_progress(system_file, run.after(Step.UNLOCK))
    assert read_progress(system_file) is None


def reports(up_s: float, age_s: float | None = None, seen_on: str = "lim1") -> tuple[ServerReport, ...]:
    """lim1 answering with an agent up for `up_s` (known `age_s` ago), running LIM 1; sb1 seeing it on `seen_on`."""
    lim1 = AgentStatus(node="lim1", up_s=up_s, running=(1,),
                       lims=(LimStatus(1, "lim1", LimState.RUNNING_ON, servers=("lim1",)),))
    sb1 = AgentStatus(node="sb1", up_s=500.0, running=(),
                      lims=(LimStatus(1, seen_on, LimState.RUNNING_ON, servers=(seen_on,)),))
    return ServerReport("lim1", True, lim1, age_s=age_s), ServerReport("sb1", True, sb1)


def test_a_rebooted_regular_is_back_only_with_an_agent_started_after_the_order():
    """The agent that was up 4 s when the reboot was ordered is the old one until it has gone (a
    `cluster reboot` right after `cluster create` said "back after 0 s" without any reboot); a new
    agent is back once the standby sees the LIM on its regular. A shared status counts with its age."""
    run = RebootRun("lim1", "c1", 1, True, Step.WAIT, ordered_at=1000.0, up_before=4.0)
    assert not is_back(reports(up_s=4.0 + 0.5), "sb1", run, elapsed=0.5)           # the order has not taken yet
    assert not is_back(reports(up_s=4.0 + 6.0), "sb1", run, elapsed=6.0)           # nor 6 s later
    assert is_back(reports(up_s=2.0), "sb1", run, elapsed=6.0)                      # booted 4 s after the order
    assert not is_back(reports(up_s=2.0, age_s=5.0), "sb1", run, elapsed=6.0)       # that status is 5 s old
    assert not is_back(reports(up_s=2.0, seen_on="sb1"), "sb1", run, elapsed=6.0)   # the standby has it
    assert not is_back((ServerReport("lim1", False, error="no route"),), "sb1", run, elapsed=6.0)
