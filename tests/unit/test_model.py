"""The domain model: lookups a technician's questions map to (which cluster has LIM 2, where do I reach sb1)."""
from __future__ import annotations

import dataclasses
from ipaddress import IPv4Interface

import pytest
from helpers.strategies import sample_cluster, sample_system, sample_with_cluster

from mxone_maintenance.core.model import Server


def test_lookups_by_name_and_lim() -> None:
    system = sample_with_cluster(lims=4, members=(1, 2))
    assert system.server("lim2").lim == 2
    assert system.server("nope") is None
    assert system.server_with_lim(4).name == "lim4"
    assert system.server_with_lim(9) is None
    assert system.cluster("c1").name == "c1"
    assert system.cluster("c2") is None
    assert system.cluster_of_lim(2).name == "c1"
    assert system.cluster_of_lim(4) is None
    assert system.cluster_of_server("sb1").name == "c1"
    assert system.cluster_of_server("lim1").name == "c1"
    assert system.cluster_of_server("lim3") is None


def test_cluster_members_and_bases() -> None:
    system = sample_system()
    cluster = sample_cluster(system, (2, 1))
    assert cluster.member_names == ("lim2", "lim1", "sb1")        # regulars in LIM order given, then standby
    assert cluster.base_of("lim1") == IPv4Interface("10.77.0.101/24")
    assert cluster.base_of("sb1") == IPv4Interface("10.77.0.20/24")
    assert cluster.base_of("lim3") is None
    assert cluster.lim(2).server == "lim2"
    assert cluster.lim(3) is None


def test_management_address_is_the_base_once_clustered() -> None:
    system = sample_with_cluster(members=(1, 2))
    assert system.management_address("lim1") == IPv4Interface("10.77.0.101/24")   # the alias may have moved
    assert system.management_address("lim3") == IPv4Interface("10.77.0.13/24")   # not in a cluster
    assert system.management_address("sb1") == IPv4Interface("10.77.0.20/24")
    with pytest.raises(KeyError):
        system.management_address("ghost")


def test_with_lim_and_next_generation_change_only_what_they_name() -> None:
    cluster = sample_cluster(sample_system())
    locked = cluster.with_lim(2, lock="standby", priority=1)
    assert locked.lim(2).lock == "standby" and locked.lim(2).priority == 1
    assert locked.lim(1) == cluster.lim(1) and locked.lim(3) == cluster.lim(3)
    assert locked.generation == cluster.generation
    newer = locked.next_generation(fallback="manual")
    assert newer.generation == cluster.generation + 1 and newer.fallback == "manual"
    assert cluster.lim(2).lock is None                                             # frozen: the original is kept


def test_system_edits_return_new_systems() -> None:
    system = sample_system()
    b = sample_cluster(system, (1,), name="b")
    a = sample_cluster(system, (2,), name="a")
    both = system.replace_cluster(b).replace_cluster(a)
    assert [c.name for c in both.clusters] == ["a", "b"]                          # kept sorted by name
    assert both.replace_cluster(dataclasses.replace(a, fallback="manual")).cluster("a").fallback == "manual"
    assert len(both.replace_cluster(a).clusters) == 2
    assert [c.name for c in both.without_cluster("a").clusters] == ["b"]
    moved = system.with_server(Server("lim1", IPv4Interface("10.77.0.41/24"), "lim", 1))
    assert moved.server("lim1").address == IPv4Interface("10.77.0.41/24")
    assert len(moved.servers) == len(system.servers)
    assert system.without_server("sb1").server("sb1") is None
    assert system.server("sb1") is not None


def test_model_values_are_frozen() -> None:
    system = sample_with_cluster()
    with pytest.raises(dataclasses.FrozenInstanceError):
        system.servers[0].lim = 7  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        system.clusters[0].generation = 2  # type: ignore[misc]
