"""`--allow-down`: a server that does not answer is left out only when all it would get is cluster.yaml
(its agent takes that from its peers); a part that cannot wait (addresses, keys, network file) refuses
the whole change, and a down server not named is refused as before."""
from __future__ import annotations

from helpers.strategies import sample_cluster, sample_system

from mxone_maintenance.utility.ops import cluster as ops
from mxone_maintenance.utility.ops.apply_checks import skip_down as _skip_down
from mxone_maintenance.utility.ops.requests import AddLim, LimSpec, LockLim

DOWN = {"lim2": "lim2 (10.77.0.102): connection timed out after 5 s"}


def two_lim_cluster():
    system = sample_system(lims=3)
    return system.replace_cluster(sample_cluster(system, (1, 2)))


def test_a_down_member_that_only_needs_the_new_cluster_yaml_is_left_out():
    plan = ops.plan_lock(two_lim_cluster(), LockLim(1, "regular"))
    skipped, refusal = _skip_down(plan, DOWN, frozenset({"lim2"}))
    assert refusal is None
    assert skipped == {"lim2": "not answering: takes generation 2 from its peers when it is back"}


def test_a_down_member_not_named_refuses_the_change():
    plan = ops.plan_lock(two_lim_cluster(), LockLim(1, "regular"))
    skipped, refusal = _skip_down(plan, DOWN, frozenset({"lim1"}))
    assert skipped == {} and (refusal.server, refusal.message) == ("lim2", DOWN["lim2"])


def test_a_part_that_cannot_wait_refuses_even_when_allowed_down():
    plan = ops.plan_add_lim(two_lim_cluster(), AddLim("c1", LimSpec(3, "10.77.0.113")), b"k" * 64)
    skipped, refusal = _skip_down(plan, {"lim3": "lim3: no route to host"}, frozenset({"lim3"}))
    assert skipped == {}
    assert refusal.message == ("lim3: no route to host; its part of this change cannot wait for it: add base "
                               "address 10.77.0.113/24 on eth0; 10.77.0.13/24 stays as the alias of LIM 3")
