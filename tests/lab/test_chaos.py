"""The chaos run (scripts/chaos): its checker and schedule as pure functions, and a 2-minute run in the lab.

The lab test replays seed 1 for two minutes against a cluster made by the utility and expects no
violation of the invariants (split brain, served, fallback, config, xdata, agent) and every kind of
event in its log. A failure prints the violations with their times and the event log: replay it with
`scripts/chaos --minutes 2 --seed 1`.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

import chaos  # noqa: E402
from chaos import (  # noqa: E402
    KINDS,
    Event,
    LimInfo,
    Persistence,
    World,
    candidates,
    duplicate_holders,
    late_fallback,
    lost_versions,
    make_schedule,
    requirements,
    stale_arp,
    switches,
    unserved_for,
)

LIMS = [LimInfo(1, "lim1", "10.77.0.11", 5), LimInfo(2, "lim2", "10.77.0.12", 1), LimInfo(3, "lim3", "10.77.0.13", 5)]
ALL = {"lim1", "lim2", "lim3", "sb1"}
REGULARS = {1: "lim1", 2: "lim2", 3: "lim3"}


# ---------------------------------------------------------------- what must be served

def test_all_up_every_lim_must_be_served():
    assert requirements(LIMS, ALL, "sb1", set()) == {frozenset({1}), frozenset({2}), frozenset({3})}


def test_failed_regular_makes_the_standby_serve_it():
    assert frozenset({1}) in requirements(LIMS, ALL - {"lim1"}, "sb1", set())


def test_priority_decides_which_failed_lim_the_standby_serves():
    needed = requirements(LIMS, ALL - {"lim1", "lim2"}, "sb1", {1})
    assert frozenset({2}) in needed and frozenset({1}) not in needed


def test_equal_priority_failures_need_one_of_them():
    assert frozenset({1, 3}) in requirements(LIMS, ALL - {"lim1", "lim3"}, "sb1", set())


def test_nothing_is_required_of_an_unreachable_standby():
    assert requirements(LIMS, ALL - {"lim1", "sb1"}, "sb1", set()) == {frozenset({2}), frozenset({3})}


def test_a_standby_busy_with_a_returned_regulars_lim_is_not_free():
    # LIM 1 still on sb1 (lim1 back, fallback pending); lim3 fails: sb1 is not free for LIM 3 yet
    assert requirements(LIMS, ALL - {"lim3"}, "sb1", {1}) == {frozenset({1}), frozenset({2})}


def test_unserved_time_counts_from_the_later_of_arising_and_last_answer():
    assert unserved_for(now=10.0, required_since=2.0, last_served=None) == 8.0
    assert unserved_for(now=10.0, required_since=2.0, last_served=9.5) == 0.5
    assert unserved_for(now=10.0, required_since=7.0, last_served=1.0) == 3.0


# ---------------------------------------------------------------- split brain and ARP

def test_duplicate_holders_only_among_connected_servers():
    holdings = {"lim1": {"10.77.0.11"}, "sb1": {"10.77.0.11"}, "lim2": {"10.77.0.12"}}
    assert duplicate_holders(holdings, {"lim1", "lim2", "sb1"}) == {"10.77.0.11": {"lim1", "sb1"}}
    assert duplicate_holders(holdings, {"lim2", "sb1"}) == {}          # lim1 cut off: expected (row 13)


def test_stale_arp_only_when_someone_else_holds_the_alias():
    assert stale_arp("aa", {"bb"})
    assert not stale_arp("aa", {"aa", "bb"})
    assert not stale_arp("aa", set())                                   # nobody holds it: "served" watches that
    assert not stale_arp(None, {"bb"})


def test_switches_count_changes_of_the_answering_host():
    assert switches(["lim1", "lim1", "sb1", "sb1"]) == 1
    assert switches(["lim1", "sb1", "lim1", "sb1"]) == 3
    assert switches([]) == 0


def test_late_fallback_after_hold_detect_and_slack():
    bound = chaos.HOLD_S + chaos.DETECT_S + chaos.SLACK_S
    assert late_fallback("sb1", LIMS[0], "sb1", bound + 0.1, automatic=True)
    assert not late_fallback("sb1", LIMS[0], "sb1", bound - 0.1, automatic=True)
    assert not late_fallback("sb1", LIMS[0], "sb1", bound + 5, automatic=False)
    assert not late_fallback("lim1", LIMS[0], "sb1", bound + 5, automatic=True)
    assert not late_fallback("sb1", LIMS[0], "sb1", None, automatic=True)


# ---------------------------------------------------------------- data

def test_a_version_may_go_only_when_a_newer_one_of_its_lim_is_there():
    old, new, other = "xdata_1_20260101000000", "xdata_1_20260101000100", "xdata_2_20260101000200"
    assert lost_versions({old}, {new}) == set()
    assert lost_versions({old, other}, {other}) == {old}
    assert lost_versions({new}, {old}) == {new}                      # replaced by an older one: lost
    assert lost_versions({".partial-x", "junk"}, set()) == set()


# ---------------------------------------------------------------- bounds

def test_persistence_reports_once_per_episode_after_the_bound():
    p = Persistence()
    assert p.update({("x",)}, 0.0, 3.0) == []
    assert p.update({("x",)}, 2.9, 3.0) == []
    assert [k for k, _ in p.update({("x",)}, 3.1, 3.0)] == [("x",)]
    assert p.update({("x",)}, 9.0, 3.0) == []                          # same episode: once
    assert p.update(set(), 9.1, 3.0) == []
    assert p.update({("x",)}, 9.2, 3.0) == []                          # a new episode starts its own clock
    assert [k for k, _ in p.update({("x",)}, 12.3, 3.0)] == [("x",)]


# ---------------------------------------------------------------- the schedule

def test_schedule_is_the_same_for_a_seed_and_differs_between_seeds():
    assert make_schedule(7, 2, REGULARS, "sb1") == make_schedule(7, 2, REGULARS, "sb1")
    assert make_schedule(7, 2, REGULARS, "sb1") != make_schedule(8, 2, REGULARS, "sb1")


@pytest.mark.parametrize("seed", range(20))
def test_two_minute_schedule_has_every_kind_and_ends_whole(seed):
    events = make_schedule(seed, 2, {1: "lim1", 2: "lim2"}, "sb1")
    assert {e.kind for e in events} == set(KINDS)
    world = World({1: "lim1", 2: "lim2"}, "sb1")
    for event in events:
        assert event.kind == "restore_config" or event.host in candidates(world)[event.kind]
        world.apply(event)
        assert len(world.dead | world.cut) <= chaos.MAX_FAILED and world.up()
    assert not world.dead and not world.cut
    assert events[-1].at <= 120 - chaos.SETTLE_END_S + 0.01
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_every_corruption_is_restored_next():
    events = make_schedule(3, 5, REGULARS, "sb1")
    for event, following in zip(events, events[1:], strict=False):
        if event.kind == "corrupt_config":
            assert (following.kind, following.host) == ("restore_config", event.host)


def test_backups_go_where_the_lim_runs():
    for seed in range(10):
        for e in make_schedule(seed, 3, REGULARS, "sb1"):
            if e.kind == "data_backup":
                assert e.lim is not None and (e.host == REGULARS[e.lim] or e.host == "sb1")
    assert Event(1.0, "data_backup", "sb1", 2).text().endswith("data_backup sb1 --lim 2")


def test_changes_are_made_only_while_a_member_is_down_and_locks_pair_with_unlocks():
    for seed in range(10):
        world = World(dict(REGULARS), "sb1")
        for e in make_schedule(seed, 5, REGULARS, "sb1"):
            if e.kind in chaos.CHANGES:
                assert world.dead | world.cut, e.text()
                assert e.lim == world.lim_of(e.host)
                assert (e.value is not None) == (e.kind == "priority")
            if e.kind == "unlock":
                assert world.locked == e.lim
            world.apply(e)


def test_a_lim_locked_to_its_regular_is_not_the_standbys_to_take():
    locked = [LimInfo(1, "lim1", "10.77.0.11", 1, "regular"), LimInfo(2, "lim2", "10.77.0.12", 5)]
    assert requirements(locked, {"lim2", "sb1"}, "sb1", set()) == {frozenset({2})}
    assert requirements(locked, {"sb1"}, "sb1", set()) == {frozenset({2})}


# ---------------------------------------------------------------- the run in the lab

CHAOS_XFAIL: str | None = None      # the reason, when a known agent bug makes seed 1 fail (keeps CI green)


@pytest.mark.slow
@pytest.mark.xfail(CHAOS_XFAIL is not None, reason=CHAOS_XFAIL or "", strict=False)
def test_chaos_two_minutes_seed_1(lab_up):
    lab_up(2)
    start = time.monotonic()
    result = subprocess.run([str(REPO / "scripts/chaos"), "--minutes", "2", "--seed", "1"], capture_output=True,
                            text=True, timeout=400)
    out = result.stdout + result.stderr
    assert result.returncode != 3, "the lab was rebuilt by someone else during the run:\n" + out
    assert result.returncode == 0, out
    log = out.split("chaos: event log:", 1)[-1]
    for kind in KINDS:
        assert f"event {kind} " in log, f"no {kind} event in the log:\n{out}"
    assert time.monotonic() - start < 300
