"""The plans of DESIGN §4: what a technician reads before anything changes. Every server that changes is
named with its steps (files, addresses, "remove old xdata versions" where DESIGN §5 says), and a request
that breaks a rule is refused with the rule and the offending value."""
from __future__ import annotations

from ipaddress import IPv4Network

import pytest
from helpers.strategies import sample_system, sample_with_cluster, systems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.core import config as files
from mxone_maintenance.core.rules import RuleViolation, system_errors
from mxone_maintenance.core.version import product_version
from mxone_maintenance.utility.ops import cluster as ops
from mxone_maintenance.utility.ops import servers as server_ops
from mxone_maintenance.utility.ops.plan import Plan
from mxone_maintenance.utility.ops.requests import (
    AddLim,
    AddServer,
    AddStandby,
    ChangeCluster,
    CreateCluster,
    DeleteCluster,
    LimSpec,
    LockLim,
    PreloadCluster,
    RemoveLim,
    RemoveServer,
    RemoveStandby,
    RuntimeFacts,
    UnlockLim,
)

KEY = b"0123456789abcdef\n"
CONFIG = "write /etc/opt/eri_sn/cluster.yaml"
KEY_FILE = "write /etc/opt/eri_sn/cluster.key (heartbeat key, mode 0600)"
PRUNE = "remove old xdata versions (keep only the newest)"
REMOVE_CONFIG = "remove /etc/opt/eri_sn/cluster.yaml"
REMOVE_KEY = "remove /etc/opt/eri_sn/cluster.key"
SYNC_KEY_FILE = "write /etc/opt/eri_sn/sync.key (data-sync key, mode 0600)"
ALLOW_SYNC = "allow the cluster's data-sync key in /root/.ssh/authorized_keys (read-only rsync only)"
KEYS = [KEY_FILE, SYNC_KEY_FILE, ALLOW_SYNC]
LEAVING = [REMOVE_CONFIG, REMOVE_KEY, "remove /etc/opt/eri_sn/sync.key", "remove /etc/opt/eri_sn/cluster_known_hosts",
           "remove the cluster's data-sync key from /root/.ssh/authorized_keys", PRUNE]



def boot(new: str, old: str) -> str:
    """The step that makes a reboot bring up `new` (the server's own network configuration)."""
    return f"boot with {new} on eth0 (network configuration; was {old})"

def host_keys(*members: str) -> str:
    return f"write /etc/opt/eri_sn/cluster_known_hosts (host keys of {', '.join(members)})"
UNKNOWN = RuntimeFacts()


def on_standby(*lims: int) -> RuntimeFacts:
    return RuntimeFacts(on_standby=frozenset(lims), known=True)


def sections(plan: Plan) -> dict[str, list[str]]:
    """The plan text as the technician reads it: for each server heading `name (address):`, its steps."""
    out: dict[str, list[str]] = {}
    current = None
    for line in plan.text().splitlines()[1:]:
        if line.startswith("  ") and not line.startswith("    ") and line.endswith(":"):
            current = line.strip()[:-1]
            out[current] = []
        elif line.startswith("    - ") and current is not None:
            out[current].append(line[6:])
    return out


def steps_of(plan: Plan, server: str) -> list[str]:
    matches = [steps for heading, steps in sections(plan).items() if heading.split(" ")[0] == server]
    assert len(matches) == 1, (server, plan.text())
    return matches[0]


def refused(call, rule: str, *values: str) -> str:
    with pytest.raises(RuleViolation) as raised:
        call()
    assert rule in [e.rule for e in raised.value.errors], raised.value.errors
    message = str(raised.value)
    for value in values:
        assert value in message, (value, message)
    return message


def create(system=None, *specs: str, name: str = "c1", **kwargs) -> Plan:
    system = system or sample_system()
    lims = []
    for spec in specs or ("1:10.77.0.111", "2:10.77.0.112:1", "3:10.77.0.113/24"):
        number, base, *priority = spec.split(":")
        lims.append(LimSpec(int(number), base, int(priority[0]) if priority else None))
    return ops.plan_create(system, CreateCluster(name=name, standby="sb1", lims=tuple(lims), **kwargs), KEY)


def clustered(*members: int, **settings):
    return sample_with_cluster(lims=max(3, *members), members=members, **settings)


# --- create ------------------------------------------------------------------------------------------

def test_create_names_every_server_file_and_address() -> None:
    plan = create()
    text = plan.text()
    assert text.splitlines()[0] == "Plan: create cluster c1: LIM 1, 2, 3 with standby sb1"
    for n in (1, 2, 3):
        assert steps_of(plan, f"lim{n}") == [
            f"add base address 10.77.0.11{n}/24 on eth0; 10.77.0.1{n}/24 stays as the alias of LIM {n}",
            boot(f"10.77.0.11{n}/24", f"10.77.0.1{n}/24"), f"{CONFIG} (generation 1)", *KEYS,
            host_keys("lim1", "lim2", "lim3", "sb1"), PRUNE]
    assert steps_of(plan, "sb1") == [f"{CONFIG} (generation 1)", *KEYS, host_keys("lim1", "lim2", "lim3", "sb1"), PRUNE]
    assert "lim1 (10.77.0.11):" in text and "sb1 (10.77.0.20):" in text
    assert "sb1 has free disk for two data backups of each of lim1, lim2, lim3" in text
    assert "System file: cluster c1 added (generation 1)" in text
    cluster = plan.after.cluster("c1")
    assert cluster.lim(2).priority == 1 and cluster.lim(1).priority == 5
    assert system_errors(plan.after) == []
    written = {step.path: step for s in plan.servers for step in s.steps if hasattr(step, "content")}
    assert files.parse_cluster(written["/etc/opt/eri_sn/cluster.yaml"].content.decode()) == cluster
    assert written["/etc/opt/eri_sn/cluster.key"].content == KEY
    assert written["/etc/opt/eri_sn/cluster.key"].mode == 0o600
    assert plan.before == sample_system()


def test_create_refusals() -> None:
    refused(lambda: create(sample_system(11), *(f"{n}:10.77.0.{110 + n}" for n in range(1, 12))),
            "max-lims", "a cluster has at most 10 LIMs (got 11)")
    refused(lambda: create(None, "1:10.77.0.12"), "base-unused", "10.77.0.12", "lim2")
    refused(lambda: create(None, "1:10.77.0.111", "2:10.77.0.111"), "base-unused", "10.77.0.111")
    refused(lambda: create(None, "1:10.78.0.111"), "one-subnet", "10.78.0.111")
    refused(lambda: create(None, "1:999.1.1.1"), "bad-address", "999.1.1.1")
    refused(lambda: create(None, "7:10.77.0.117"), "unknown-lim", "LIM 7")
    refused(lambda: create(None, "1:10.77.0.111", "1:10.77.0.112"), "lim-twice", "LIM 1")
    refused(lambda: create(None, "1:10.77.0.111", detect_s=0.5, heartbeat_s=1.0), "detect-vs-heartbeat",
            "detect_s 0.5")
    refused(lambda: create(None, name="c 1"), "bad-name", "'c 1'")
    system = create(sample_system(4)).after
    refused(lambda: create(system, "4:10.77.0.114"), "cluster-exists", "c1")
    refused(lambda: create(system, "4:10.77.0.114", name="c2"), "one-cluster",
            "standby server sb1 already belongs to cluster c1")


def test_create_fast_detection() -> None:
    plan = create(None, "1:10.77.0.111", detect_s=0.3, heartbeat_s=0.1)
    assert plan.after.cluster("c1").detect_s == 0.3


# --- change, preload, lock, unlock --------------------------------------------------------------------

def test_change_writes_a_new_generation_everywhere_and_prunes() -> None:
    system = clustered(1, 2, 3)
    plan = ops.plan_change(system, ChangeCluster("c1", fallback="manual", priorities=((2, 1),)))
    assert plan.text().splitlines()[0] == "Plan: change cluster c1: fallback manual, LIM 2 priority 1"
    for server in ("lim1", "lim2", "lim3", "sb1"):
        assert steps_of(plan, server) == [f"{CONFIG} (generation 2)", PRUNE]
    assert "lim1 (10.77.0.101):" in plan.text()                     # a cluster member is reached at its base
    after = plan.after.cluster("c1")
    assert after.fallback == "manual" and after.lim(2).priority == 1 and after.generation == 2
    refused(lambda: ops.plan_change(system, ChangeCluster("c1")), "nothing-to-change", "--fallback")
    refused(lambda: ops.plan_change(system, ChangeCluster("c1", fallback="automatic")), "nothing-to-change", "c1")
    refused(lambda: ops.plan_change(system, ChangeCluster("c1", priorities=((7, 1),))), "lim-not-in-cluster",
            "LIM 7")
    refused(lambda: ops.plan_change(system, ChangeCluster("c1", detect_s=2.0)), "detect-vs-heartbeat", "detect_s 2")
    refused(lambda: ops.plan_change(system, ChangeCluster("c9", fallback="manual")), "unknown-cluster", "c9")


def test_preload_one_pair_only() -> None:
    plan = ops.plan_preload(clustered(1), PreloadCluster("c1"))
    for server in ("lim1", "sb1"):
        assert steps_of(plan, server) == [f"{CONFIG} (generation 2)", PRUNE]
    after = plan.after.cluster("c1")
    assert after.failover == "preloaded" and after.detect_s == 30.0
    refused(lambda: ops.plan_preload(clustered(1, 2), PreloadCluster("c1")), "preloaded-pair",
            "cluster c1 has 2 regular servers")
    refused(lambda: ops.plan_preload(plan.after, PreloadCluster("c1")), "already-preloaded", "c1")
    refused(lambda: ops.plan_add_lim(plan.after, AddLim("c1", LimSpec(2, "10.77.0.102")), KEY), "preloaded-pair",
            "c1")
    refused(lambda: ops.plan_change(plan.after, ChangeCluster("c1", detect_s=0.1)), "detect-vs-heartbeat")
    slow = ops.plan_preload(clustered(1, heartbeat_s=15.0), PreloadCluster("c1")).after.cluster("c1")
    assert slow.detect_s == 45.0  # the preloaded default (30 s) would be under three heartbeat periods


def test_lock_and_unlock() -> None:
    system = clustered(1, 2, 3)
    plan = ops.plan_lock(system, LockLim(2, "standby"))
    assert plan.text().splitlines()[0] == "Plan: lock LIM 2 to the standby server"
    for server in ("lim1", "lim2", "lim3", "sb1"):
        assert steps_of(plan, server) == [f"{CONFIG} (generation 2)"]
    locked = plan.after
    assert locked.cluster("c1").lim(2).lock == "standby"
    refused(lambda: ops.plan_lock(locked, LockLim(3, "standby")), "one-standby-lock", "LIMs 2, 3")
    refused(lambda: ops.plan_lock(locked, LockLim(2, "standby")), "already-locked", "LIM 2")
    refused(lambda: ops.plan_lock(locked, LockLim(9, "regular")), "lim-not-clustered", "LIM 9")
    assert ops.plan_lock(locked, LockLim(3, "regular")).after.cluster("c1").lim(3).lock == "regular"
    refused(lambda: ops.plan_unlock(locked, UnlockLim(1)), "not-locked", "LIM 1 is not locked")
    unlocked = ops.plan_unlock(locked, UnlockLim(2))
    assert unlocked.text().splitlines()[0] == "Plan: unlock LIM 2 (fallback automatic)"
    assert steps_of(unlocked, "sb1") == [f"{CONFIG} (generation 3)"]
    assert unlocked.after.cluster("c1").lim(2).lock is None


# --- add and remove LIMs, delete ----------------------------------------------------------------------

def test_add_lim() -> None:
    system = clustered(1, 2)
    plan = ops.plan_add_lim(system, AddLim("c1", LimSpec(3, "10.77.0.113", 2)), KEY)
    members = host_keys("lim1", "lim2", "lim3", "sb1")
    for server in ("lim1", "lim2", "sb1"):     # the sync key's from= now names lim3's base too
        assert steps_of(plan, server) == [f"{CONFIG} (generation 2)", ALLOW_SYNC, members, PRUNE]
    assert steps_of(plan, "lim3") == ["add base address 10.77.0.113/24 on eth0; 10.77.0.13/24 stays as the alias "
                                      "of LIM 3", boot("10.77.0.113/24", "10.77.0.13/24"), f"{CONFIG} (generation 2)",
                                      *KEYS, members, PRUNE]
    assert "lim3 (10.77.0.13):" in plan.text()
    assert plan.after.cluster("c1").lim(3).priority == 2
    refused(lambda: ops.plan_add_lim(plan.after, AddLim("c1", LimSpec(3, "10.77.0.123")), KEY), "lim-in-cluster",
            "LIM 3")
    refused(lambda: ops.plan_add_lim(system, AddLim("c1", LimSpec(3, "10.77.0.101")), KEY), "base-unused",
            "10.77.0.101")


def test_remove_lim() -> None:
    system = clustered(1, 2, 3)
    plan = ops.plan_remove_lim(system, RemoveLim("c1", 2), UNKNOWN)
    for server in ("lim1", "lim3", "sb1"):
        assert steps_of(plan, server) == [f"{CONFIG} (generation 2)", host_keys("lim1", "lim3", "sb1"), PRUNE]
    assert steps_of(plan, "lim2") == [*LEAVING, boot("10.77.0.12/24", "10.77.0.102/24"),
                                      "remove base address 10.77.0.102/24 from eth0"]
    assert "no LIM of cluster c1 runs on the standby (asked from the agents)" in plan.text()
    assert plan.after.cluster("c1").lim(2) is None
    assert ops.plan_remove_lim(system, RemoveLim("c1", 2), on_standby()).after == plan.after
    refused(lambda: ops.plan_remove_lim(system, RemoveLim("c1", 2), on_standby(2)), "lim-on-standby",
            "LIM 2", "cluster fallback --lim 2")
    refused(lambda: ops.plan_remove_lim(system, RemoveLim("c1", 7), UNKNOWN), "lim-not-in-cluster", "LIM 7")


def test_removing_the_last_lim_deletes_the_cluster() -> None:
    system = clustered(2)
    plan = ops.plan_remove_lim(system, RemoveLim("c1", 2), UNKNOWN)
    assert plan.action == "cluster remove-lim"
    assert "the last LIM of cluster c1: this deletes the cluster" in plan.text().splitlines()[0]
    assert plan.after.clusters == ()
    assert steps_of(plan, "sb1") == LEAVING
    refused(lambda: ops.plan_remove_lim(system, RemoveLim("c1", 2), on_standby(2)), "lim-on-standby", "LIM 2")


def test_delete() -> None:
    system = clustered(1, 2, 3, fallback="manual")
    plan = ops.plan_delete(system, DeleteCluster("c1"), UNKNOWN)
    for n in (1, 2, 3):
        assert steps_of(plan, f"lim{n}") == [*LEAVING, boot(f"10.77.0.1{n}/24", f"10.77.0.10{n}/24"),
                                             f"remove base address 10.77.0.10{n}/24 from eth0"]
    assert steps_of(plan, "sb1") == LEAVING
    assert "System file: cluster c1 removed" in plan.text()
    assert plan.after.clusters == () and plan.after.servers == system.servers
    refused(lambda: ops.plan_delete(system, DeleteCluster("c1"), on_standby(3)), "lim-on-standby", "LIM 3")
    preloaded = clustered(1, failover="preloaded", detect_s=30.0)
    assert ops.plan_delete(preloaded, DeleteCluster("c1"), on_standby()).after.clusters == ()


# --- orders to the agents -------------------------------------------------------------------------------

def test_fallback_and_sync_are_orders() -> None:
    system = clustered(1, 2)
    plan = ops.plan_fallback(system, 2, on_standby(2))
    assert plan.is_order and plan.after == system
    assert "order fallback of LIM 2 to lim2" in steps_of(plan, "sb1")
    assert [s.server for s in plan.servers] == ["sb1", "lim2"], "only the servers the order concerns (lim1 may be down)"
    refused(lambda: ops.plan_fallback(system, 2, on_standby(1)), "not-on-standby", "LIM 2")
    refused(lambda: ops.plan_fallback(system, 3, UNKNOWN), "lim-not-clustered", "LIM 3")
    sync = ops.plan_sync(system, "c1")
    assert sync.is_order and steps_of(sync, "sb1") == ["order an exchange-data sync"]
    refused(lambda: ops.plan_sync(system, "nope"), "unknown-cluster", "nope")


# --- servers and standby servers ---------------------------------------------------------------------------

SEEN = server_ops.SeenKey("ssh-ed25519", "AAAAC3Nza", "SHA256:abc", pinned=False)
AGENT = f"has the cluster agent installed, the same version as this utility ({product_version()})"
CLEANING = LEAVING[:-1]


def test_server_add_and_remove() -> None:
    system = clustered(1, 2)
    plan = server_ops.plan_add_server(system, AddServer("lim4", "10.77.0.14/24", 4))
    assert plan.text().splitlines() == [
        "Plan: add server lim4 (10.77.0.14/24, LIM 4)",
        "  Checked before anything changes:",
        "    - lim4 (10.77.0.14) answers over SSH (its host key's fingerprint is shown before the plan is applied)",
        f"    - lim4 {AGENT}",
        "  System file: server lim4 added"]
    assert plan.after.server("lim4").lim == 4 and system_errors(plan.after) == []
    free = server_ops.plan_add_server(system, AddServer("spare2", "10.77.0.31/24"))
    assert free.after.server("spare2").role == "free"
    refused(lambda: server_ops.plan_add_server(system, AddServer("lim1", "10.77.0.44/24")), "server-exists", "lim1")
    refused(lambda: server_ops.plan_add_server(system, AddServer("x", "10.77.0.13/24")), "address-used",
            "10.77.0.13", "lim3")
    refused(lambda: server_ops.plan_add_server(system, AddServer("x", "10.77.0.101/24")), "address-used",
            "10.77.0.101")                                                 # the new base address of LIM 1
    refused(lambda: server_ops.plan_add_server(system, AddServer("x", "10.77.0.44/24", 2)), "lim-used", "LIM 2")
    refused(lambda: server_ops.plan_add_server(system, AddServer("x", "10.77.0.300/24")), "bad-address",
            "10.77.0.300")
    refused(lambda: server_ops.plan_add_server(system, AddServer("lim 4", "10.77.0.44/24")), "bad-name", "'lim 4'")
    refused(lambda: server_ops.plan_add_server(system, AddServer("x", "10.77.1.44/24")), "cluster-subnet",
            "10.77.1.44/24 is not on 10.77.0.0/24")
    removed = server_ops.plan_remove_server(system, RemoveServer("lim3"))
    assert removed.text().splitlines() == [
        "Plan: remove server lim3 from the system", "  lim3 (10.77.0.13):", *(f"    - {s}" for s in CLEANING),
        "  Checked before anything changes:", "    - lim3 answers over SSH with its pinned host key",
        "  System file: server lim3 removed"]
    assert removed.after.server("lim3") is None
    refused(lambda: server_ops.plan_remove_server(system, RemoveServer("lim1")), "server-in-cluster", "lim1", "c1")
    refused(lambda: server_ops.plan_remove_server(system, RemoveServer("ghost")), "unknown-server", "ghost")


def test_server_add_with_the_presented_key() -> None:
    system = clustered(1, 2)
    plan = server_ops.plan_add_server(system, AddServer("lim4", "10.77.0.14/24", 4), SEEN)
    assert plan.text().splitlines()[1:6] == [
        "  lim4 (10.77.0.14):",
        "    - pin its host key ssh-ed25519 SHA256:abc in this utility's known_hosts",
        "  Checked before anything changes:",
        "    - lim4 (10.77.0.14) presents ssh-ed25519 SHA256:abc: not pinned yet, compare it with the server's "
        "own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub)",
        "    - lim4 answers over SSH with that host key"]
    pinned = server_ops.plan_add_server(system, AddServer("lim4", "10.77.0.14/24", 4),
                                        server_ops.SeenKey("ssh-ed25519", "AAAAC3Nza", "SHA256:abc", pinned=True))
    assert not pinned.changes_servers
    assert "    - lim4 (10.77.0.14) presents ssh-ed25519 SHA256:abc, the key pinned for it" in pinned.text()


def test_standby_add_and_remove() -> None:
    system = clustered(1, 2)
    plan = server_ops.plan_add_standby(system, AddStandby("spare1"), SEEN)
    assert plan.after.server("spare1").role == "standby"
    assert plan.text().splitlines() == [
        "Plan: make spare1 a standby server",
        "  spare1 (10.77.0.30):",
        "    - pin its host key ssh-ed25519 SHA256:abc in this utility's known_hosts",
        "    - create /var/opt/eri_sn/standby/ (mode 0755, the standby's copies of the regulars' data)",
        *(f"    - create /var/opt/eri_sn/standby/lim{n}/ (mode 0755, copies of LIM {n})" for n in (1, 2, 3)),
        "  Checked before anything changes:",
        "    - spare1 (10.77.0.30) presents ssh-ed25519 SHA256:abc: not pinned yet, compare it with the server's "
        "own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub)",
        "    - spare1 answers over SSH with that host key",
        f"    - spare1 {AGENT}",
        "    - spare1 has free disk for two data backups of each of lim1, lim2, lim3",
        "  System file: server spare1 becomes a standby server"]
    assert [(s.server, s.address) for s in plan.servers[1:]] == \
        [("lim1", "10.77.0.101"), ("lim2", "10.77.0.102"), ("lim3", "10.77.0.13")], "asked for their data's size"
    refused(lambda: server_ops.plan_add_standby(system, AddStandby("lim3")), "standby-role", "lim3", "LIM 3")
    refused(lambda: server_ops.plan_add_standby(system, AddStandby("sb1")), "already-standby", "sb1")
    back = server_ops.plan_remove_standby(plan.after, RemoveStandby("spare1"))
    assert back.after.server("spare1").role == "free"
    assert back.text().splitlines()[1:9] == [
        "  spare1 (10.77.0.30):", *(f"    - {s}" for s in CLEANING),
        "    - remove /var/opt/eri_sn/standby/ (the standby's copies of the regulars' data)",
        "  Checked before anything changes:"]
    refused(lambda: server_ops.plan_remove_standby(system, RemoveStandby("sb1")), "server-in-cluster", "sb1", "c1")
    refused(lambda: server_ops.plan_remove_standby(system, RemoveStandby("lim3")), "not-standby", "lim3")


def test_a_server_removed_while_down_is_removed_uncleaned_only_when_allowed() -> None:
    from mxone_maintenance.utility.ops.apply_checks import skip_down
    from mxone_maintenance.utility.ops.plan import catch_up_words
    plan = server_ops.plan_remove_server(clustered(1, 2), RemoveServer("lim3"))
    down = {"lim3": "lim3 (10.77.0.13): connection timed out after 5 s"}
    skipped, problem = skip_down(plan, down, frozenset())
    assert skipped == {} and (problem.message, problem.can_wait) == (down["lim3"], True)
    skipped, problem = skip_down(plan, down, frozenset({"lim3"}))
    assert problem is None
    assert skipped == {"lim3": "not answering: is removed from system.yaml anyway, with nothing on it cleaned"}
    standby = server_ops.plan_remove_standby(sample_system(), RemoveStandby("sb1"))
    assert catch_up_words(standby, "sb1") == "becomes a free server in system.yaml anyway, with nothing on it cleaned"


# --- every plan of a valid system gives a valid system -----------------------------------------------------

@st.composite
def requests(draw, system):
    lims = [item.lim for c in system.clusters for item in c.lims] or [1]
    cluster_names = [c.name for c in system.clusters] or ["none"]
    loose = [s.lim for s in system.servers if s.lim is not None and system.cluster_of_lim(s.lim) is None] or [1]
    network = system.servers[0].address.network if system.servers else IPv4Network("10.77.0.0/24")
    names = [s.name for s in system.servers] or ["ghost"]
    address = str(network.network_address + draw(st.integers(1, 254)))
    kind = draw(st.sampled_from(["change", "preload", "lock", "unlock", "add-lim", "remove-lim", "delete",
                                 "server-add", "server-remove", "standby-add", "standby-remove", "create"]))
    name = draw(st.sampled_from(cluster_names))
    server = draw(st.sampled_from(names))
    if kind == "change":
        return lambda: ops.plan_change(system, ChangeCluster(
            name, fallback=draw(st.sampled_from([None, "automatic", "manual"])),
            priorities=tuple(draw(st.lists(st.tuples(st.sampled_from(lims), st.integers(0, 999)), max_size=2))),
            detect_s=draw(st.none() | st.floats(0.3, 3600))))
    if kind == "preload":
        return lambda: ops.plan_preload(system, PreloadCluster(name))
    if kind == "lock":
        return lambda: ops.plan_lock(system, LockLim(draw(st.sampled_from(lims)),
                                                     draw(st.sampled_from(["regular", "standby"]))))
    if kind == "unlock":
        return lambda: ops.plan_unlock(system, UnlockLim(draw(st.sampled_from(lims))))
    if kind == "add-lim":
        return lambda: ops.plan_add_lim(system, AddLim(name, LimSpec(draw(st.sampled_from(loose)), address)), KEY)
    if kind == "remove-lim":
        return lambda: ops.plan_remove_lim(system, RemoveLim(name, draw(st.sampled_from(lims))), UNKNOWN)
    if kind == "delete":
        return lambda: ops.plan_delete(system, DeleteCluster(name), UNKNOWN)
    if kind == "server-add":
        lim = draw(st.none() | st.integers(1, 99))
        return lambda: server_ops.plan_add_server(system, AddServer(f"new{lim}", f"{address}/24", lim))
    if kind == "server-remove":
        return lambda: server_ops.plan_remove_server(system, RemoveServer(server))
    if kind == "standby-add":
        return lambda: server_ops.plan_add_standby(system, AddStandby(server))
    if kind == "standby-remove":
        return lambda: server_ops.plan_remove_standby(system, RemoveStandby(server))
    standby = draw(st.sampled_from(names))
    chosen = draw(st.lists(st.sampled_from(loose), min_size=1, max_size=3, unique=True))
    return lambda: ops.plan_create(system, CreateCluster(
        "new", standby, tuple(LimSpec(n, str(network.network_address + 200 + i)) for i, n in enumerate(chosen))), KEY)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), system=systems(max_clusters=2))
def test_a_plan_is_refused_or_leads_to_a_valid_system(data, system) -> None:
    call = data.draw(requests(system))
    try:
        plan = call()
    except RuleViolation as err:
        assert err.errors and all(e.message and "\n" not in e.message for e in err.errors)
        return
    assert system_errors(plan.after) == []
    assert plan.before == system
    assert files.parse_system(files.dump_system(plan.after)) == plan.after
    for server in plan.servers:
        if server.steps:
            assert f"  {server.server} ({server.address}):" in plan.text()
    for cluster in plan.after.clusters:
        before = system.cluster(cluster.name)
        if before is not None and before != cluster:
            assert cluster.generation == before.generation + 1
            assert cluster.failover == "preloaded" or before.failover != "preloaded"



def test_add_lim_names_the_new_member_in_every_members_sync_key_line() -> None:
    # the sync key's from= lists the members' bases: without the new one, lim3's pulls would be refused
    from mxone_maintenance.utility.ops.plan import AllowSyncKey
    plan = ops.plan_add_lim(clustered(1, 2), AddLim("c1", LimSpec(3, "10.77.0.113", 2)), KEY)
    for server_plan in plan.servers:
        [allow] = [s for s in server_plan.steps if isinstance(s, AllowSyncKey)]
        assert 'from="10.77.0.101,10.77.0.102,10.77.0.113,10.77.0.20"' in allow.line, server_plan.server
