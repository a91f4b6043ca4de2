"""The rules of DESIGN §5 on fixed examples: the exact one-line messages a technician reads."""
from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Interface

import pytest
from helpers.strategies import sample_cluster, sample_system, sample_with_cluster

from mxone_maintenance.core.model import Cluster, ClusterLim, Server, StandbyRef
from mxone_maintenance.core.rules import (
    RuleError,
    RuleViolation,
    nothing_on_standby,
    preload_kept,
    server_not_in_cluster,
    system_errors,
)


def _rules(system) -> list[str]:
    return [e.rule for e in system_errors(system)]


def test_the_sample_cluster_is_valid() -> None:
    assert system_errors(sample_with_cluster()) == []


def test_eleven_lims_in_a_cluster() -> None:
    system = sample_system(lims=11)
    system = system.replace_cluster(sample_cluster(system, tuple(range(1, 12))))
    assert [str(e) for e in system_errors(system)] == ["a cluster has at most 10 LIMs (got 11)"]
    ten = sample_system(lims=10)
    assert system_errors(ten.replace_cluster(sample_cluster(ten, tuple(range(1, 11))))) == []


def test_standby_must_be_a_standby_server() -> None:
    system = sample_system()
    cluster = sample_cluster(system, (1, 2), standby="lim3")
    assert [str(e) for e in system_errors(system.replace_cluster(cluster))] == [
        "the standby of a cluster must be a standby server (lim3 is a LIM server (LIM 3))"]
    cluster = sample_cluster(system, (1, 2), standby="spare1")
    assert "spare1 is a free server" in str(system_errors(system.replace_cluster(cluster))[0])


def test_detection_down_to_0_3_s_with_heartbeat_0_1_s() -> None:
    """DESIGN §6: detect_s is configurable down to 0.3 s with heartbeat_s 0.1 (3 * 0.1 is 0.30000000000000004)."""
    fast = sample_with_cluster(detect_s=0.3, heartbeat_s=0.1)
    assert system_errors(fast) == []
    too_fast = sample_with_cluster(detect_s=0.29, heartbeat_s=0.1)
    assert [str(e) for e in system_errors(too_fast)] == [
        "detect_s must be at least three heartbeat periods (detect_s 0.29, heartbeat_s 0.1)"]


def test_a_standby_and_a_lim_server_belong_to_one_cluster() -> None:
    system = sample_system(lims=3)
    system = system.replace_cluster(sample_cluster(system, (1, 2), name="a"))
    second = sample_cluster(system, (3,), name="b")
    assert [str(e) for e in system_errors(system.replace_cluster(second))] == [
        "a standby server belongs to one cluster (sb1 is in clusters a, b)"]
    system = system.with_server(Server("sb2", IPv4Interface("10.77.0.21/24"), "standby"))
    again = Cluster("b", StandbyRef("sb2", IPv4Interface("10.77.0.21/24")),
                    (ClusterLim(2, "lim2", IPv4Interface("10.77.0.122/24"), IPv4Interface("10.77.0.12/24")),))
    assert [str(e) for e in system_errors(system.replace_cluster(again))] == [
        "a LIM server belongs to one cluster (lim2 is in clusters a, b)", "LIM 2 already belongs to another cluster"]


def test_new_base_addresses_unique_and_unused() -> None:
    system = sample_system()
    cluster = sample_cluster(system)
    on_spare = cluster.with_lim(2, base=IPv4Interface("10.77.0.30/24"))
    assert [str(e) for e in system_errors(system.replace_cluster(on_spare))] == [
        "new base address 10.77.0.30 is already used by server spare1"]
    twice = cluster.with_lim(3, base=IPv4Interface("10.77.0.101/24"))
    assert [str(e) for e in system_errors(system.replace_cluster(twice))] == [
        "new base address 10.77.0.101 is already used by the base address of lim1"]


def test_server_names_addresses_and_cluster_names_unique() -> None:
    system = sample_system(lims=2)
    doubled = replace(system, servers=system.servers + (Server("lim2", IPv4Interface("10.77.0.40/24"), "free"),
                                                        Server("spare9", IPv4Interface("10.77.0.11/24"), "free")))
    assert [str(e) for e in system_errors(doubled)] == [
        "each server name must be unique (lim2 is used 2 times)",
        "each server address must be unique (10.77.0.11 is used 2 times)"]
    cluster = sample_cluster(system, (1,), name="a")
    twice = replace(system, clusters=(cluster, replace(cluster, lims=())))
    assert "each cluster name must be unique (a is used 2 times)" in [str(e) for e in system_errors(twice)]


def test_subnets() -> None:
    system = sample_system()
    cluster = sample_cluster(system).with_lim(2, base=IPv4Interface("10.78.0.102/24"))
    assert _rules(system.replace_cluster(cluster)) == ["one-subnet", "alias-subnet"]
    assert "lim2 base 10.78.0.102/24 is not on 10.77.0.0/24" in str(system_errors(system.replace_cluster(cluster))[0])


def test_preloaded_and_locks() -> None:
    preloaded = sample_with_cluster(members=(1,), failover="preloaded", detect_s=30.0)
    assert system_errors(preloaded) == []
    two = sample_with_cluster(members=(1, 2), failover="preloaded")
    assert [str(e) for e in system_errors(two)] == [
        "preloaded failover is only for one regular server and the standby (cluster c1 has 2 regular servers)"]
    system = sample_system()
    locked = sample_cluster(system).with_lim(1, lock="standby").with_lim(3, lock="standby").with_lim(2, lock="regular")
    assert [str(e) for e in system_errors(system.replace_cluster(locked))] == [
        "at most one LIM may be locked to the standby (got LIMs 1, 3)"]


def test_change_rules() -> None:
    system = sample_with_cluster()
    cluster = system.cluster("c1")
    preloaded = replace(cluster, failover="preloaded")
    assert preload_kept(preloaded, cluster) == [
        RuleError("preload-kept", "preloading of cluster c1 is removed only by deleting the cluster")]
    assert preload_kept(cluster, preloaded) == []
    assert nothing_on_standby(cluster, [1, 2], {3}, "delete cluster c1") == []
    assert [str(e) for e in nothing_on_standby(cluster, [1, 2, 3], {3}, "delete cluster c1")] == [
        "cannot delete cluster c1: LIM 3 of cluster c1 runs on the standby server; "
        "move it back first (cluster fallback --lim 3)"]
    assert server_not_in_cluster(system, "spare1", "remove server spare1") == []
    assert [str(e) for e in server_not_in_cluster(system, "lim2", "remove server lim2")] == [
        "cannot remove server lim2: server lim2 belongs to cluster c1"]


def test_rule_violation_shows_the_first_error() -> None:
    errors = [RuleError("a", "first"), RuleError("b", "second")]
    with pytest.raises(RuleViolation, match="^first$") as raised:
        raise RuleViolation(errors)
    assert raised.value.errors == tuple(errors)
