"""Properties of the rules (DESIGN §5): every random valid system passes them, and breaking exactly one
rule of such a system gives that rule's error (by its `rule` id) with a message naming the offending value.
"""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Interface, IPv4Network

import pytest
from helpers.strategies import (
    add_lim_server,
    add_standby_server,
    clustered_systems,
    fresh_address,
    fresh_lim_number,
    fresh_name,
    join,
    subnet_of,
    systems,
    with_cluster,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.core import config as files
from mxone_maintenance.core.model import MAX_LIMS_PER_CLUSTER, Cluster, ClusterLim, StandbyRef, System
from mxone_maintenance.core.rules import RuleViolation, nothing_on_standby, preload_kept, system_errors
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops import servers as server_ops
from mxone_maintenance.utility.ops.requests import (
    DeleteCluster,
    RemoveLim,
    RemoveServer,
    RemoveStandby,
    RuntimeFacts,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OTHER_NET = IPv4Network("192.168.250.0/24")     # never used by the strategies (they use 10.x.y.0/24)


# --- valid systems ----------------------------------------------------------------------------------

@SETTINGS
@given(systems())
def test_every_valid_system_has_no_rule_errors(system: System) -> None:
    assert system_errors(system) == []


@SETTINGS
@given(systems())
def test_system_yaml_round_trips(system: System) -> None:
    assert files.parse_system(files.dump_system(system)) == system


@SETTINGS
@given(clustered_systems())
def test_each_cluster_yaml_round_trips(system: System) -> None:
    for cluster in system.clusters:
        assert files.parse_cluster(files.dump_cluster(cluster)) == cluster


# --- break exactly one rule ---------------------------------------------------------------------------

def _pick_cluster(data, system: System) -> Cluster:
    return data.draw(st.sampled_from(system.clusters), label="cluster")


def _pick_lim(data, cluster: Cluster) -> ClusterLim:
    return data.draw(st.sampled_from(cluster.lims), label="lim")


def _grow(system: System, cluster: Cluster, size: int) -> tuple[System, Cluster]:
    """Add new LIM servers to `cluster` until it has `size` LIMs (preloading off: it allows only one)."""
    changed = replace(cluster, failover="normal")
    system = with_cluster(system, cluster, changed)
    while len(changed.lims) < size:
        system, server = add_lim_server(system)
        system, changed = join(system, changed, server)
    return system, changed


def _rules_of(system: System) -> set[str]:
    return {error.rule for error in system_errors(system)}


def _messages(system: System, rule: str) -> list[str]:
    return [error.message for error in system_errors(system) if error.rule == rule]


def _assert_only(system: System, rule: str, *values: str) -> None:
    """`rule` is the one broken rule, and one of its messages names every offending value."""
    assert _rules_of(system) == {rule}, system_errors(system)
    messages = _messages(system, rule)
    assert any(all(value in message for value in values) for message in messages), (values, messages)


def break_max_lims(data, system):
    cluster = _pick_cluster(data, system)
    size = data.draw(st.integers(MAX_LIMS_PER_CLUSTER + 1, MAX_LIMS_PER_CLUSTER + 3), label="size")
    system, _ = _grow(system, cluster, size)
    return system, "max-lims", (f"at most 10 LIMs (got {size})",)


def break_min_lims(data, system):
    cluster = _pick_cluster(data, system)
    system = with_cluster(system, cluster, replace(cluster, lims=(), failover="normal"))
    return system, "min-lims", (cluster.name,)


def break_standby_role(data, system):
    cluster = _pick_cluster(data, system)
    if data.draw(st.booleans(), label="free"):
        standby = system.server(cluster.standby.server)
        system = system.with_server(replace(standby, role="free"))
        return system, "standby-role", (standby.name, "free server")
    system, server = add_lim_server(system)              # a LIM server (in no cluster) as the standby
    system = with_cluster(system, cluster, replace(cluster, standby=StandbyRef(server.name, server.address)))
    return system, "standby-role", (server.name, f"LIM {server.lim}")


def break_standby_base(data, system):
    cluster = _pick_cluster(data, system)
    base = fresh_address(system, cluster.standby.base.network)
    system = with_cluster(system, cluster, replace(cluster, standby=replace(cluster.standby, base=base)))
    return system, "standby-base", (str(base),)


def break_standby_in_two_clusters(data, system):
    cluster = _pick_cluster(data, system)
    system, server = add_lim_server(system)
    item = ClusterLim(server.lim, server.name, fresh_address(system, subnet_of(system)), server.address)
    other = Cluster(name=fresh_name(system, "other"), standby=cluster.standby, lims=(item,))
    system = replace(system, clusters=system.clusters + (other,))
    return system, "one-cluster", ("a standby server belongs to one cluster",
                                   f"({cluster.standby.server} is in clusters ", cluster.name, other.name)


def break_lim_in_two_clusters(data, system):
    cluster = _pick_cluster(data, system)
    item = _pick_lim(data, cluster)
    system, standby = add_standby_server(system)
    copy = replace(item, base=fresh_address(system, subnet_of(system)))
    other = Cluster(name=fresh_name(system, "other"), standby=StandbyRef(standby.name, standby.address), lims=(copy,))
    system = replace(system, clusters=system.clusters + (other,))
    return system, "one-cluster", ("a LIM server belongs to one cluster", f"({item.server} is in clusters ",
                                   cluster.name, other.name)


def break_one_subnet(data, system):
    cluster = _pick_cluster(data, system)
    item = _pick_lim(data, cluster)
    # the regular server, its alias and its new base all on another subnet than the standby
    address = IPv4Interface(f"{OTHER_NET.network_address + 1}/24")
    base = IPv4Interface(f"{OTHER_NET.network_address + 2}/24")
    system = system.with_server(replace(system.server(item.server), address=address))
    system = with_cluster(system, cluster, cluster.with_lim(item.lim, alias=address, base=base))
    return system, "one-subnet", (item.server, str(base))


def break_alias_subnet(data, system):
    cluster = _pick_cluster(data, system)
    item = _pick_lim(data, cluster)
    # the old base address (the alias) on another subnet; the new base stays on the cluster's subnet
    address = IPv4Interface(f"{OTHER_NET.network_address + 1}/24")
    system = system.with_server(replace(system.server(item.server), address=address))
    system = with_cluster(system, cluster, cluster.with_lim(item.lim, alias=address))
    return system, "alias-subnet", (str(address),)


def break_alias_is_old_base(data, system):
    cluster = _pick_cluster(data, system)
    item = _pick_lim(data, cluster)
    alias = fresh_address(system, item.base.network)
    system = with_cluster(system, cluster, cluster.with_lim(item.lim, alias=alias))
    return system, "alias-is-old-base", (str(alias), f"LIM {item.lim}")


def break_base_unused(data, system):
    cluster = _pick_cluster(data, system)
    item = _pick_lim(data, cluster)
    taken = [s.address for s in system.servers]
    taken += [other.base for c in system.clusters for other in c.lims if other is not item]
    used = data.draw(st.sampled_from(taken), label="used")
    system = with_cluster(system, cluster, cluster.with_lim(item.lim, base=used))
    return system, "base-unused", (str(used.ip),)


def break_preloaded_pair(data, system):
    cluster = _pick_cluster(data, system)
    size = data.draw(st.integers(max(2, len(cluster.lims)), MAX_LIMS_PER_CLUSTER), label="size")
    system, grown = _grow(system, cluster, size)
    system = with_cluster(system, grown, replace(grown, failover="preloaded"))
    return system, "preloaded-pair", (cluster.name, f"{size} regular servers")


def break_one_standby_lock(data, system):
    cluster = _pick_cluster(data, system)
    system, grown = _grow(system, cluster, max(2, len(cluster.lims)))
    first, second = data.draw(st.lists(st.sampled_from(grown.lims), min_size=2, max_size=2, unique=True),
                              label="locked")
    pair = (first.lim, second.lim)
    lims = tuple(replace(i, lock="standby" if i.lim in pair else (None if i.lock == "standby" else i.lock))
                 for i in grown.lims)
    changed = replace(grown, lims=lims)
    system = with_cluster(system, grown, changed)
    return system, "one-standby-lock", (str(first.lim), str(second.lim))


def break_detect_vs_heartbeat(data, system):
    cluster = _pick_cluster(data, system)
    heartbeat = data.draw(st.sampled_from((0.2, 0.5, 1.0, 5.0, 60.0)), label="heartbeat")
    detect = data.draw(st.floats(0.3, 3 * heartbeat, exclude_max=True).filter(lambda d: d < 3 * heartbeat - 1e-6),
                       label="detect")
    system = with_cluster(system, cluster, replace(cluster, detect_s=detect, heartbeat_s=heartbeat))
    return system, "detect-vs-heartbeat", (f"detect_s {detect:g}", f"heartbeat_s {heartbeat:g}")


def break_lim_server(data, system):
    cluster = _pick_cluster(data, system)
    item = _pick_lim(data, cluster)
    number = fresh_lim_number(system)
    system = with_cluster(system, cluster, cluster.with_lim(item.lim, lim=number))
    return system, "lim-server", (f"LIM {number}", item.server)


def break_unknown_server(data, system):
    cluster = _pick_cluster(data, system)
    if data.draw(st.booleans(), label="standby"):
        system = with_cluster(system, cluster, replace(cluster, standby=replace(cluster.standby, server="ghost")))
    else:
        item = _pick_lim(data, cluster)
        system = with_cluster(system, cluster, cluster.with_lim(item.lim, server="ghost"))
    return system, "unknown-server", ("ghost", cluster.name)


BREAKERS = [break_max_lims, break_min_lims, break_standby_role, break_standby_base, break_standby_in_two_clusters,
            break_lim_in_two_clusters, break_one_subnet, break_alias_subnet, break_alias_is_old_base,
            break_base_unused, break_preloaded_pair, break_one_standby_lock, break_detect_vs_heartbeat,
            break_lim_server, break_unknown_server]


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda b: b.__name__.removeprefix("break_"))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(system=clustered_systems(), data=st.data())
def test_breaking_one_rule_gives_that_rules_error(breaker, system: System, data) -> None:
    assert system_errors(system) == []
    broken, rule, values = breaker(data, system)
    _assert_only(broken, rule, *values)


# --- the rules about a change -------------------------------------------------------------------------

def _facts_on_standby(lim: int) -> RuntimeFacts:
    return RuntimeFacts(on_standby=frozenset({lim}), known=True)


@SETTINGS
@given(system=clustered_systems(), data=st.data())
def test_preloading_is_kept(system: System, data) -> None:
    cluster = replace(_pick_cluster(data, system), failover="preloaded")
    after = replace(cluster, failover="normal", generation=cluster.generation + 1)
    errors = preload_kept(cluster, after)
    assert [e.rule for e in errors] == ["preload-kept"]
    assert cluster.name in errors[0].message
    assert preload_kept(cluster, replace(cluster, fallback="manual")) == []


@SETTINGS
@given(system=clustered_systems(), data=st.data())
def test_remove_lim_and_delete_refused_while_a_lim_runs_on_the_standby(system: System, data) -> None:
    cluster = _pick_cluster(data, system)
    item = _pick_lim(data, cluster)
    facts = _facts_on_standby(item.lim)
    for plan in (lambda: cluster_ops.plan_remove_lim(system, RemoveLim(cluster.name, item.lim), facts),
                 lambda: cluster_ops.plan_delete(system, DeleteCluster(cluster.name), facts)):
        with pytest.raises(RuleViolation) as raised:
            plan()
        assert [e.rule for e in raised.value.errors] == ["lim-on-standby"]
        assert f"LIM {item.lim} " in str(raised.value)
    errors = nothing_on_standby(cluster, [item.lim], {item.lim}, "remove it")
    assert [e.rule for e in errors] == ["lim-on-standby"]


@SETTINGS
@given(system=clustered_systems(), data=st.data())
def test_a_server_in_a_cluster_is_not_removed(system: System, data) -> None:
    cluster = _pick_cluster(data, system)
    name = data.draw(st.sampled_from(cluster.member_names), label="server")
    with pytest.raises(RuleViolation) as raised:
        server_ops.plan_remove_server(system, RemoveServer(name))
    assert [e.rule for e in raised.value.errors] == ["server-in-cluster"]
    assert name in str(raised.value) and cluster.name in str(raised.value)
    with pytest.raises(RuleViolation) as raised:
        server_ops.plan_remove_standby(system, RemoveStandby(cluster.standby.server))
    assert [e.rule for e in raised.value.errors] == ["server-in-cluster"]
    assert cluster.standby.server in str(raised.value)
