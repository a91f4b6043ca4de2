"""decide() for issue 18's rules: a Service Node that fails its health check on a healthy regular,
maintenance mode (pause), and flap damping. The grid of test_decide_scenarios.py: regulars lim1..lim3,
standby sb1, D = 10 s, H = 3 s, now T = 100."""
from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.decide import decide
from mxone_maintenance.agent.state import (
    AliasProbe,
    Announce,
    Memory,
    RaiseAlarm,
    ReleaseAlias,
    TakeAlias,
)
from mxone_maintenance.core.contracts.lim_state import LimState
from tests.unit.test_decide_scenarios import C1, T, sees, silent, up

FREE = (AliasProbe(1, T - 0.1),)                       # the alias probed: nobody answers
SN_FAILED = RaiseAlarm("service-failed:1", "Service Node of LIM 1 does not answer on lim1")


def test_a_regular_whose_service_node_fails_its_check_releases_its_lim_and_says_so():
    decision = decide(C1, sees("lim1", up("sb1"), up("lim2", 2), up("lim3", 3), running=(1,), sick=frozenset({1})), T)
    assert ReleaseAlias(1, "Service Node does not answer") in decision.actions
    assert SN_FAILED in decision.actions
    assert dict(decision.memory.released)[1] == T           # announced: the standby takes it at once
    assert decision.status[0].kind is LimState.SERVICE_FAILED
    assert decision.status[0].state == "Service Node did not answer here: released to the standby"


def test_a_sick_regular_does_not_take_its_lim_back():
    decision = decide(C1, sees("lim1", up("sb1"), up("lim2", 2), up("lim3", 3), sick=frozenset({1})), T)
    assert not [a for a in decision.actions if isinstance(a, TakeAlias)]


def test_the_standby_takes_a_sick_regulars_lim_without_waiting_for_detection():
    lim1 = up("lim1", releasing=frozenset({1}), sick=frozenset({1}))
    decision = decide(C1, sees("sb1", lim1, up("lim2", 2), up("lim3", 3)), T)
    assert TakeAlias(1) in decision.actions


def test_the_standby_keeps_a_sick_regulars_lim_while_the_verdict_stands():
    lim1 = up("lim1", sick=frozenset({1}))
    decision = decide(C1, sees("sb1", lim1, up("lim2", 2), up("lim3", 3), running=(1,)), T)
    assert not [a for a in decision.actions if isinstance(a, ReleaseAlias)]


def test_paused_nothing_moves_even_with_a_dead_regular():
    decision = decide(C1, sees("sb1", silent("lim1", 60), up("lim2", 2), up("lim3", 3), paused=True), T)
    assert not [a for a in decision.actions if isinstance(a, (TakeAlias, ReleaseAlias))]
    assert [s.state for s in decision.status] == [
        "PAUSED (maintenance mode): not running", "PAUSED (maintenance mode): running on lim2",
        "PAUSED (maintenance mode): running on lim3"]


def test_paused_a_served_lim_keeps_its_gratuitous_arp_and_no_alarm_is_cleared():
    memory = Memory(announced=((1, 0.0),))
    decision = decide(C1, sees("lim1", up("sb1"), running=(1,), paused=True, memory=memory,
                               alarms=frozenset({"standby-down"})), T)
    assert Announce(1) in decision.actions and not [a for a in decision.actions if type(a).__name__ == "ClearAlarm"]


@given(st.sets(st.integers(1, 3)), st.booleans(), st.floats(0, 200))
def test_paused_never_takes_or_releases_anything(running, standby, silence):
    node = "sb1" if standby else "lim1"
    peers = tuple(silent(f"lim{n}", silence, n) for n in (1, 2, 3) if f"lim{n}" != node) + \
        ((silent("sb1", silence),) if not standby else ())
    decision = decide(C1, sees(node, *peers, running=tuple(running), paused=True), T)
    assert not [a for a in decision.actions if isinstance(a, (TakeAlias, ReleaseAlias))]


def test_the_third_takeover_within_the_window_makes_fallback_manual_with_its_alarm():
    memory = Memory(takeovers=((1, T - 300), (1, T - 100)))
    decision = decide(C1, sees("sb1", silent("lim1", 20), up("lim2", 2), up("lim3", 3), probes=FREE), T)
    assert TakeAlias(1) in decision.actions and not decision.memory.damped       # a first failure: no damping
    decision = decide(C1, sees("sb1", silent("lim1", 20), up("lim2", 2), up("lim3", 3), memory=memory,
                               probes=FREE), T)
    assert TakeAlias(1) in decision.actions and decision.memory.damped == frozenset({1})
    assert RaiseAlarm("flapping:1", "LIM 1: fallback made manual after 3 failures of lim1 in 10 minutes") \
        in decision.actions
    back = decide(C1, sees("sb1", up("lim1"), up("lim2", 2), up("lim3", 3), running=(1,),
                           memory=decision.memory), T)
    assert not [a for a in back.actions if isinstance(a, ReleaseAlias)]              # stays: manual now
    ordered = decide(C1, sees("sb1", up("lim1"), up("lim2", 2), up("lim3", 3), running=(1,),
                              memory=decision.memory, fallback_orders=frozenset({1})), T)
    assert [a for a in ordered.actions if isinstance(a, ReleaseAlias)] and not ordered.memory.damped


def test_takeovers_older_than_the_window_do_not_count():
    memory = Memory(takeovers=((1, T - 700), (1, T - 650)))
    decision = decide(C1, sees("sb1", silent("lim1", 20), up("lim2", 2), up("lim3", 3), memory=memory,
                               probes=FREE), T)
    assert TakeAlias(1) in decision.actions and not decision.memory.damped
    assert len(decision.memory.takeovers) == 1


def test_hold_s_from_the_cluster_decides_when_automatic_fallback_comes():
    slow = replace(C1, hold_s=30.0)
    early = decide(slow, sees("sb1", up("lim1", since=T - 10), up("lim2", 2), up("lim3", 3), running=(1,)), T)
    assert not [a for a in early.actions if isinstance(a, ReleaseAlias)]
    late = decide(slow, sees("sb1", up("lim1", since=T - 31), up("lim2", 2), up("lim3", 3), running=(1,)), T)
    assert [a for a in late.actions if isinstance(a, ReleaseAlias)]


def test_the_service_node_alarm_stands_while_the_standby_serves_the_lim():
    decision = decide(C1, sees("lim1", up("sb1", 1), up("lim2", 2), up("lim3", 3), sick=frozenset({1})), T)
    assert SN_FAILED in decision.actions


def test_the_flapping_alarm_stands_while_the_standby_serves_the_damped_lim():
    memory = Memory(takeovers=((1, T - 30), (1, T - 20), (1, T - 10)), damped=frozenset({1}))
    decision = decide(C1, sees("sb1", up("lim1"), up("lim2", 2), up("lim3", 3), running=(1,), memory=memory), T)
    assert RaiseAlarm("flapping:1", "LIM 1: fallback made manual after 3 failures of lim1 in 10 minutes") \
        in decision.actions


FAST = replace(C1, detect_s=0.3, heartbeat_s=0.1)


def test_at_the_fastest_settings_a_few_lost_heartbeats_of_the_standby_raise_no_alarm():
    """"Standby server is out of order" waits for 2 s of silence when D is shorter: it changes nothing
    the regular does, and three lost heartbeats in a row are common on a lossy link at D 0.3 s."""
    def alarms_with(silent_s: float) -> list:
        others = (silent("sb1", silent_s), up("lim2", 2), up("lim3", 3))
        return [a for a in decide(FAST, sees("lim1", *others, running=(1,)), T).actions if isinstance(a, RaiseAlarm)]
    assert alarms_with(0.5) == []
    assert alarms_with(1.9) == []
    assert [a.text for a in alarms_with(2.0)] == ["Standby server is out of order"]


def test_at_the_fastest_settings_a_refused_takeover_is_alarmed_only_once_the_regular_is_silent_2_s():
    """The standby's probe finds lim1 still answering for its alias after a few lost heartbeats: no
    takeover, and (measured: 5 times in 20 s with 20 % of heartbeats lost) no alarm either, until lim1
    has been silent for 2 s; the status says why it waits all along. At D of 2 s or more, no change."""
    def decided(config, silent_s: float):
        probe = AliasProbe(1, T - 0.01, "02:00:00:00:00:11", "lim1")
        lively = [replace(up(name, lim), last_heard=T - 0.05) for name, lim in (("lim2", 2), ("lim3", 3))]
        decision = decide(config, sees("sb1", silent("lim1", silent_s, 1), *lively, probes=(probe,)), T)
        return ([a for a in decision.actions if isinstance(a, (RaiseAlarm, TakeAlias))],
                next(status for status in decision.status if status.lim == 1))
    for silent_s in (0.35, 1.0, 1.99):
        actions, status = decided(FAST, silent_s)
        assert actions == [] and status.kind is LimState.TAKING_OVER_ALIAS_ANSWERED and status.where == "lim1"
    alarm = RaiseAlarm("alias-conflict:1", "Alias 10.77.0.11 of LIM 1 is still answered by lim1 (02:00:00:00:00:11)")
    assert decided(FAST, 2.0)[0] == [alarm]
    assert decided(C1, C1.detect_s + 1)[0] == [alarm]
