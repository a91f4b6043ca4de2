"""Removing the LIM of a dead regular while the standby runs it: possible only with --allow-down for
that regular, the plan says the LIM stops, apply refuses if the regular answers after all, and the
regular's part (leaving the cluster) waits in system.yaml.pending for `cluster finish`."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers.strategies import sample_cluster, sample_system

from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.utility.ops import cluster as ops
from mxone_maintenance.utility.ops.apply_checks import skip_down
from mxone_maintenance.utility.ops.pending import (
    PendingError,
    leaves_of,
    pending_path,
    plan_pending,
    read_pending,
    still_pending,
    write_pending,
)
from mxone_maintenance.utility.ops.plan import CleanStaged, RemoveAddress, SetBootAddress, catch_up_words
from mxone_maintenance.utility.ops.requests import AddLim, LimSpec, RemoveLim, RuntimeFacts

ON_STANDBY_3 = RuntimeFacts(on_standby=frozenset({3}), known=True)
DOWN = {"lim3": "lim3 (10.77.0.13): connection timed out after 5 s"}


def system3():
    system = sample_system(lims=3)
    return system.replace_cluster(sample_cluster(system, (1, 2, 3)))


def removal(allow_down=frozenset({"lim3"}), facts=ON_STANDBY_3):
    return ops.plan_remove_lim(system3(), RemoveLim("c1", 3, allow_down=frozenset(allow_down)), facts)


def test_without_allow_down_it_is_refused_as_before():
    with pytest.raises(RuleViolation, match="LIM 3 of cluster c1 runs on the standby"):
        removal(allow_down=())


def test_with_the_regular_allowed_down_the_plan_says_the_lim_stops():
    plan = removal()
    assert plan.title == ("remove LIM 3 (lim3) from cluster c1; LIM 3 STOPS: it runs on the standby sb1 and "
                          "lim3 is down")
    assert "lim3 does not answer (its part waits for `cluster finish` when it is back)" in plan.text()
    assert [s.server for s in plan.servers if s.must_be_down] == ["lim3"]
    assert catch_up_words(plan, "lim3") == "gets its part (leaving the cluster) from `cluster finish` when it is back"


def test_another_lim_on_the_standby_still_refuses():
    facts = RuntimeFacts(on_standby=frozenset({2, 3}), known=True)
    with pytest.raises(RuleViolation, match="LIM 2 of cluster c1 runs on the standby"):
        removal(facts=facts)


def test_apply_refuses_if_the_dead_regular_answers_after_all():
    skipped, refusal = skip_down(removal(), {}, frozenset({"lim3"}))
    assert skipped == {} and refusal.server == "lim3"
    assert refusal.message.startswith("lim3 answers: its LIM runs on the standby; move it back first")


def test_apply_leaves_the_dead_regular_out_and_says_what_waits():
    skipped, refusal = skip_down(removal(), DOWN, frozenset({"lim3"}))
    assert refusal is None
    assert skipped == {"lim3": "not answering: its part waits for `cluster finish` when it is back"}


def test_the_dead_regulars_part_is_kept_and_planned_for_finish(tmp_path: Path):
    system_file = tmp_path / "system.yaml"
    plan = removal()
    write_pending(system_file, leaves_of(plan))
    assert pending_path(system_file).stat().st_mode & 0o777 == 0o600
    entries = read_pending(system_file)
    assert [(e.server, e.cluster, e.lim, e.base, e.alias) for e in entries] == \
        [("lim3", "c1", 3, str(system3().cluster("c1").lim(3).base), "10.77.0.13/24")]
    assert entries[0].line().startswith("lim3 left cluster c1 while it did not answer (")
    finish = plan_pending(entries, plan.after)
    (part,) = finish.servers
    assert (part.server, part.address) == ("lim3", "10.77.0.13")
    assert isinstance(part.steps[0], CleanStaged)
    assert any(isinstance(s, SetBootAddress) and str(s.new) == "10.77.0.13/24" for s in part.steps)
    assert isinstance(part.steps[-1], RemoveAddress)
    assert "remove /etc/opt/eri_sn/cluster.yaml" in finish.text()


def test_a_server_added_back_since_has_nothing_pending(tmp_path: Path):
    plan = removal()
    again = ops.plan_add_lim(plan.after, AddLim("c1", LimSpec(3, "10.77.0.113")), b"k" * 64)
    assert still_pending(leaves_of(plan), again.after) == []


def test_a_damaged_pending_file_is_one_line(tmp_path: Path):
    system_file = tmp_path / "system.yaml"
    pending_path(system_file).write_text('{"version": 1, "leaving": [{"server": "lim3"}]}')
    with pytest.raises(PendingError) as err:
        read_pending(system_file)
    assert "\n" not in str(err.value) and str(pending_path(system_file)) in str(err.value)
    write_pending(system_file, [])
    assert read_pending(system_file) == []
