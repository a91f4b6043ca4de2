"""Generations across a change (ops/generations.py): a rollback after a commit brings the old settings
back as a newer generation, and a plan made from a system.yaml older than what the servers hold is
numbered above them when they hold the same settings, refused when they hold other settings."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Interface

import pytest
from helpers.strategies import sample_cluster, sample_system, sample_with_cluster
from hypothesis import given, settings
from hypothesis import strategies as st

from mxone_maintenance.core import paths
from mxone_maintenance.core.config import parse_cluster
from mxone_maintenance.core.model import Server
from mxone_maintenance.utility.ops import cluster as ops
from mxone_maintenance.utility.ops.generations import (
    GenerationConflict,
    numbered_above_servers,
    renumbered,
    rolled_forward,
    undo_cluster_file,
)
from mxone_maintenance.utility.ops.plan import Plan, WriteFile
from mxone_maintenance.utility.ops.requests import (
    AddLim,
    ChangeCluster,
    CreateCluster,
    DeleteCluster,
    LimSpec,
    LockLim,
    RemoveLim,
    RuntimeFacts,
)

KEY = b"0123456789abcdef\n"
CLUSTER_FILE = str(paths.CLUSTER_FILE)
MEMBERS = ("lim1", "lim2", "lim3", "sb1")


def lock_plan(generation: int = 1) -> Plan:
    return ops.plan_lock(sample_with_cluster(generation=generation), LockLim(2, "regular"))


def change_plan(generation: int = 1) -> Plan:
    return ops.plan_change(sample_with_cluster(generation=generation), ChangeCluster("c1", fallback="manual"))


def create_plan() -> Plan:
    request = CreateCluster("c1", "sb1", (LimSpec(1, "10.77.0.101"), LimSpec(2, "10.77.0.102")))
    return ops.plan_create(sample_system(), request, KEY)


def cluster_files(plan: Plan) -> dict[str, WriteFile]:
    """Each server's cluster.yaml step."""
    return {s.server: step for s in plan.servers for step in s.steps
            if isinstance(step, WriteFile) and step.path == CLUSTER_FILE}


def generation_of(step: WriteFile) -> int:
    return parse_cluster(step.content.decode()).generation


def holding(cluster, *servers: str) -> dict:
    return {server: cluster for server in servers}


# --- rolled_forward, undo_cluster_file -----------------------------------------------------------------

def test_a_rolled_forward_lock_is_the_old_settings_one_above_the_change() -> None:
    plan = lock_plan(generation=4)
    back = rolled_forward(plan.before, plan.after).cluster("c1")
    assert plan.after.cluster("c1").generation == 5
    assert back == replace(plan.before.cluster("c1"), generation=6)
    assert back.lim(2).lock is None


def test_rolled_forward_leaves_clusters_the_change_did_not_touch() -> None:
    system = sample_system(lims=4).with_server(Server("sb2", IPv4Interface("10.77.0.21/24"), "standby"))
    system = system.replace_cluster(sample_cluster(system, (1, 2), name="c1", generation=2))
    system = system.replace_cluster(sample_cluster(system, (3, 4), name="c2", standby="sb2", generation=7))
    changed = system.replace_cluster(system.cluster("c1").next_generation(fallback="manual"))
    back = rolled_forward(system, changed)
    assert back.cluster("c2") == system.cluster("c2")
    assert back.cluster("c1") == replace(system.cluster("c1"), generation=4)


def test_rolled_forward_of_an_unchanged_system_is_itself() -> None:
    system = sample_with_cluster(generation=3)
    assert rolled_forward(system, system) == system


def test_undo_of_a_create_removes_cluster_yaml() -> None:
    plan = create_plan()
    for server in ("lim1", "lim2", "sb1"):
        assert undo_cluster_file(plan, server) is None


def test_undo_of_a_change_writes_the_old_settings_at_the_next_generation() -> None:
    plan = change_plan(generation=2)
    for server in MEMBERS:
        undo = undo_cluster_file(plan, server)
        assert undo is not None
        assert parse_cluster(undo.decode()) == replace(plan.before.cluster("c1"), generation=4)


def test_undo_for_a_server_in_no_cluster_is_none() -> None:
    plan = change_plan()
    assert undo_cluster_file(plan, "spare1") is None


def test_undo_for_a_lim_joining_an_existing_cluster_removes_its_cluster_yaml() -> None:
    system = sample_with_cluster(lims=3, members=(1, 2))
    plan = ops.plan_add_lim(system, AddLim("c1", LimSpec(3, "10.77.0.103")), KEY)
    assert undo_cluster_file(plan, "lim3") is None
    assert parse_cluster(undo_cluster_file(plan, "lim1").decode()).generation == 3


def test_undo_after_renumbering_is_above_the_renumbered_generation() -> None:
    plan = numbered_above_servers(lock_plan(), holding(sample_with_cluster(generation=9).cluster("c1"), "lim1"))
    assert plan.after.cluster("c1").generation == 10
    assert parse_cluster(undo_cluster_file(plan, "lim2").decode()).generation == 11


# --- numbered_above_servers -----------------------------------------------------------------------------

def test_servers_on_lower_generations_leave_the_plan_alone() -> None:
    plan = lock_plan(generation=5)
    older = replace(plan.before.cluster("c1"), generation=3)
    held = {"lim1": plan.before.cluster("c1"), "lim2": older, "lim3": None, "sb1": None}
    assert numbered_above_servers(plan, held) == plan


def test_servers_holding_nothing_leave_the_plan_alone() -> None:
    plan = create_plan()
    assert numbered_above_servers(plan, {"lim1": None, "lim2": None, "sb1": None}) == plan


def test_a_server_on_a_lower_generation_with_other_settings_is_no_conflict() -> None:
    plan = lock_plan(generation=5)
    other = replace(plan.before.cluster("c1"), generation=2, fallback="manual")
    assert numbered_above_servers(plan, holding(other, "lim1")) == plan


def test_a_cluster_of_another_name_on_a_server_is_ignored() -> None:
    plan = lock_plan()
    stranger = replace(plan.before.cluster("c1"), name="c9", generation=50, fallback="manual")
    assert numbered_above_servers(plan, holding(stranger, "lim1")) == plan


def test_same_settings_at_a_higher_generation_renumber_every_cluster_file() -> None:
    plan = lock_plan(generation=1)
    held = {"lim1": replace(plan.before.cluster("c1"), generation=7), "lim2": plan.before.cluster("c1")}
    numbered = numbered_above_servers(plan, held)
    files = cluster_files(numbered)
    assert sorted(files) == sorted(MEMBERS)
    for step in files.values():
        assert parse_cluster(step.content.decode()) == replace(plan.after.cluster("c1"), generation=8)
        assert step.note == "generation 8"
    assert numbered.after == plan.after.replace_cluster(replace(plan.after.cluster("c1"), generation=8))
    assert numbered.system_change == "cluster c1 now generation 8 (above the servers' 7)"
    assert "  System file: cluster c1 now generation 8 (above the servers' 7)" in numbered.lines()
    assert numbered.lines().count("    - write /etc/opt/eri_sn/cluster.yaml (generation 8)") == 4


def test_same_settings_at_the_planned_generation_are_numbered_one_above() -> None:
    plan = lock_plan(generation=1)       # plans generation 2
    numbered = numbered_above_servers(plan, holding(replace(plan.before.cluster("c1"), generation=2), "sb1"))
    assert numbered.after.cluster("c1").generation == 3
    assert {generation_of(step) for step in cluster_files(numbered).values()} == {3}


def test_renumbering_keeps_every_step_but_cluster_yaml() -> None:
    system = sample_with_cluster(lims=3, members=(1, 2))
    plan = ops.plan_add_lim(system, AddLim("c1", LimSpec(3, "10.77.0.103")), KEY)
    numbered = numbered_above_servers(plan, holding(replace(system.cluster("c1"), generation=5), "lim1"))
    for old, new in zip(plan.servers, numbered.servers, strict=True):
        assert (old.server, old.address) == (new.server, new.address)
        for a, b in zip(old.steps, new.steps, strict=True):
            if isinstance(a, WriteFile) and a.path == CLUSTER_FILE:
                assert generation_of(b) == 6
            else:
                assert a == b
    assert generation_of(cluster_files(numbered)["lim3"]) == 6      # the joining LIM too


def test_a_remove_lim_renumbers_the_staying_members_only() -> None:
    system = sample_with_cluster()
    plan = ops.plan_remove_lim(system, RemoveLim("c1", 2), RuntimeFacts())
    numbered = numbered_above_servers(plan, holding(replace(system.cluster("c1"), generation=4), "lim2"))
    files = cluster_files(numbered)
    assert sorted(files) == ["lim1", "lim3", "sb1"]
    assert {generation_of(step) for step in files.values()} == {5}
    leaving = next(s for s in numbered.servers if s.server == "lim2")
    assert leaving == next(s for s in plan.servers if s.server == "lim2")


def test_other_settings_at_a_higher_generation_are_a_conflict_naming_server_and_generations() -> None:
    plan = lock_plan(generation=3)
    theirs = replace(plan.before.cluster("c1"), generation=9, fallback="manual")
    with pytest.raises(GenerationConflict) as raised:
        numbered_above_servers(plan, {"lim1": plan.before.cluster("c1"), "lim3": theirs})
    message = str(raised.value)
    assert "\n" not in message
    assert "lim3" in message and "generation 9" in message and "generation 3" in message
    assert "cluster c1" in message


def test_the_newest_server_decides_between_same_and_other_settings() -> None:
    plan = lock_plan(generation=1)
    same_newer = replace(plan.before.cluster("c1"), generation=6)
    other_older = replace(plan.before.cluster("c1"), generation=4, fallback="manual")
    numbered = numbered_above_servers(plan, {"lim1": other_older, "lim2": same_newer})
    assert numbered.after.cluster("c1").generation == 7


def test_a_server_already_holding_the_planned_cluster_is_no_conflict() -> None:
    plan = lock_plan(generation=3)       # what a server holds when an interrupted run committed it there
    held = {"lim1": plan.after.cluster("c1"), "lim2": plan.before.cluster("c1")}
    assert numbered_above_servers(plan, held) == plan


def test_a_create_is_refused_when_a_server_holds_a_cluster_of_that_name() -> None:
    plan = create_plan()
    theirs = sample_with_cluster().cluster("c1")
    with pytest.raises(GenerationConflict) as raised:
        numbered_above_servers(plan, {"lim1": None, "sb1": theirs})
    message = str(raised.value)
    assert "sb1" in message and "generation 1" in message and "no such cluster" in message


def test_a_delete_is_never_renumbered() -> None:
    system = sample_with_cluster()
    plan = ops.plan_delete(system, DeleteCluster("c1"), RuntimeFacts())
    held = holding(replace(system.cluster("c1"), generation=40, fallback="manual"), *MEMBERS)
    assert numbered_above_servers(plan, held) == plan


def test_renumbered_writes_the_given_generation_with_the_same_settings() -> None:
    plan = change_plan()
    numbered = renumbered(plan, "c1", 12)
    assert numbered.after.cluster("c1") == replace(plan.after.cluster("c1"), generation=12)
    assert numbered.before == plan.before
    for step in cluster_files(numbered).values():
        assert parse_cluster(step.content.decode()) == numbered.after.cluster("c1")


@settings(max_examples=60, deadline=None)
@given(planned_from=st.integers(1, 2**53 - 2), held_generation=st.integers(1, 2**53 - 1),
       holders=st.lists(st.sampled_from(MEMBERS), min_size=1, unique=True),
       make=st.sampled_from((lock_plan, change_plan)))
def test_any_generation_held_with_the_same_settings_is_numbered_above(planned_from, held_generation, holders,
                                                                      make) -> None:
    plan = make(generation=planned_from)
    planned = plan.after.cluster("c1").generation
    held = holding(replace(plan.before.cluster("c1"), generation=held_generation), *holders)
    numbered = numbered_above_servers(plan, held)
    expected = max(held_generation + 1, planned)
    files = cluster_files(numbered)
    assert sorted(files) == sorted(MEMBERS)
    for step in files.values():
        assert parse_cluster(step.content.decode()) == replace(plan.after.cluster("c1"), generation=expected)
    assert numbered.after.cluster("c1").generation == expected
