"""The plan of `server replace` (utility/ops/replace.py) as the technician reads it: the rebuilt server
gets what joining gave the old one (never its base address again, it boots at it) and its presented host
key pinned (PinHostKey, after the staged leftovers are cleaned), every other member only the members'
host keys, its agent is checked first (AgentCheck), and nothing changes in system.yaml."""
from __future__ import annotations

from dataclasses import replace

import pytest
from helpers.strategies import clustered_systems, sample_cluster, sample_system, sample_with_cluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.core import config as files
from mxone_maintenance.core.model import Server
from mxone_maintenance.core.rules import RuleViolation
from mxone_maintenance.core.version import product_version
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops.plan import (
    AddAddress,
    AgentCheck,
    AllowSyncKey,
    CleanStaged,
    PinHostKey,
    Plan,
    ServerPlan,
    WriteFile,
)
from mxone_maintenance.utility.ops.replace import plan_replace
from mxone_maintenance.utility.remote.settings import PresentedKey

KEY = b"0123456789abcdef\n"
OLD = "ssh-ed25519 SHA256:oldoldoldoldoldoldoldoldoldoldoldoldoldold"
PRESENTED = PresentedKey("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAINewNewNewNewNewNewNewNewNewNewNewNewNewNew",
                         "SHA256:newnewnewnewnewnewnewnewnewnewnewnewnewnew")
NEW = "ssh-ed25519 SHA256:newnewnewnewnewnewnewnewnewnewnewnewnewnew"
PIN = f"pin its host key {NEW} in this utility's known_hosts"
CLEAN = "remove files an interrupted run left staged (hidden .*.mxone-* names)"
CONFIG = "write /etc/opt/eri_sn/cluster.yaml"
KEYS = ["write /etc/opt/eri_sn/cluster.key (heartbeat key, mode 0600)",
        "write /etc/opt/eri_sn/sync.key (data-sync key, mode 0600)",
        "allow the cluster's data-sync key in /root/.ssh/authorized_keys (read-only rsync only)"]
PRUNE = "remove old xdata versions (keep only the newest)"


def agent(name: str) -> str:
    return f"{name} has the cluster agent installed, the same version as this utility ({product_version()})"


def host_keys(*members: str) -> str:
    return f"write /etc/opt/eri_sn/cluster_known_hosts (host keys of {', '.join(members)})"


def sections(plan: Plan) -> dict[str, list[str]]:
    """The plan text: for each server heading `name (address):`, its steps."""
    out: dict[str, list[str]] = {}
    current = None
    for line in plan.text().splitlines()[1:]:
        if line.startswith("  ") and not line.startswith("    ") and line.endswith(":"):
            current = line.strip()[:-1]
            out[current] = []
        elif line.startswith("    - ") and current is not None:
            out[current].append(line[6:])
    return out


def checks(plan: Plan) -> list[str]:
    return sections(plan)["Checked before anything changes"]


def two_clusters():
    """c1: LIM 1, 2 with sb1 at generation 7; c2: LIM 3 with sb2. lim4 and spare1 in no cluster."""
    system = sample_system(lims=4)
    system = system.with_server(Server("sb2", files.parse_interface("10.77.0.21/24"), "standby"))
    c1 = replace(sample_cluster(system, (1, 2)), generation=7)
    return system.replace_cluster(c1).replace_cluster(sample_cluster(system, (3,), name="c2", standby="sb2"))


def test_a_regular_gets_what_joining_gave_it_but_its_base_address_and_the_others_the_host_keys() -> None:
    system = two_clusters()
    plan = plan_replace(system, "lim2", KEY, OLD, PRESENTED)
    assert plan.text().splitlines()[0] == \
        f"Plan: replace lim2 (LIM 2 of cluster c1, generation 7): host key {NEW} accepted (was {OLD})"
    assert sections(plan) == {
        "lim2 (10.77.0.102)": [CLEAN, PIN,
                               "boot with 10.77.0.102/24 on eth0 (network configuration; was 10.77.0.12/24)",
                               f"{CONFIG} (generation 7)", *KEYS, host_keys("lim1", "lim2", "sb1"), PRUNE],
        "lim1 (10.77.0.101)": [host_keys("lim1", "lim2", "sb1")],
        "sb1 (10.77.0.20)": [host_keys("lim1", "lim2", "sb1")],
        "Checked before anything changes": [f"lim2 answers at 10.77.0.102 with host key {NEW}",
                                            agent("lim2")],
    }, plan.text()
    assert not any(isinstance(step, AddAddress) for s in plan.servers for step in s.steps)
    assert isinstance(plan.servers[0].steps[0], CleanStaged)
    assert plan.servers[0].steps[1] == PinHostKey(PRESENTED.key_type, PRESENTED.blob, PRESENTED.fingerprint), \
        "the key presented is the one pinned, blob and all"
    assert [s.server for s in plan.servers if any(isinstance(t, PinHostKey) for t in s.steps)] == ["lim2"]
    assert plan.agent_check == AgentCheck(("lim2",))
    assert plan.disk_check is None
    assert plan.after == plan.before == system and plan.system_change == ""
    assert "System file" not in plan.text()


def test_the_files_written_on_the_new_regular_are_the_clusters_at_its_generation() -> None:
    system = two_clusters()
    cluster = system.cluster("c1")
    plan = plan_replace(system, "lim1", KEY, OLD, PRESENTED)
    steps = plan.servers[0].steps
    written = {step.path: step for step in steps if isinstance(step, WriteFile)}
    assert files.parse_cluster(written["/etc/opt/eri_sn/cluster.yaml"].content.decode()) == cluster
    assert cluster.generation == 7
    assert written["/etc/opt/eri_sn/cluster.key"].content == KEY
    assert {path: step.mode for path, step in written.items()} == {
        "/etc/opt/eri_sn/cluster.yaml": 0o644, "/etc/opt/eri_sn/cluster.key": 0o600,
        "/etc/opt/eri_sn/sync.key": 0o600}
    sync_line = [step.line for step in steps if isinstance(step, AllowSyncKey)]
    assert sync_line == [cluster_ops.sync_key_line(KEY, cluster)]
    assert 'from="10.77.0.101,10.77.0.102,10.77.0.20"' in sync_line[0], "the members' base addresses only"
    other = plan_replace(system, "lim1", b"fedcba9876543210\n", OLD, PRESENTED)
    assert [s for s in other.servers[0].steps if isinstance(s, WriteFile)][1].content != \
        written["/etc/opt/eri_sn/cluster.key"].content, "the key given is the one written"


def test_the_standby_gets_the_standby_joining_steps_and_a_disk_check() -> None:
    system = two_clusters()
    plan = plan_replace(system, "sb1", KEY, OLD, PRESENTED)
    assert plan.title == f"replace sb1 (the standby of cluster c1, generation 7): host key {NEW} accepted (was {OLD})"
    members = host_keys("lim1", "lim2", "sb1")
    assert sections(plan) == {
        "sb1 (10.77.0.20)": [CLEAN, PIN, f"{CONFIG} (generation 7)", *KEYS, members, PRUNE],
        "lim1 (10.77.0.101)": [members],
        "lim2 (10.77.0.102)": [members],
        "Checked before anything changes": [f"sb1 answers at 10.77.0.20 with host key {NEW}",
                                            agent("sb1"),
                                            "sb1 has free disk for two data backups of each of lim1, lim2"],
    }, plan.text()
    assert plan.after == plan.before == system


def test_the_only_regular_of_a_cluster_and_its_standby() -> None:
    system = two_clusters()
    plan = plan_replace(system, "lim3", KEY, OLD, PRESENTED)
    assert sections(plan)["sb2 (10.77.0.21)"] == [host_keys("lim3", "sb2")]
    assert sections(plan)["lim3 (10.77.0.103)"][:2] == [CLEAN, PIN]
    assert sections(plan)["lim3 (10.77.0.103)"][2] == \
        "boot with 10.77.0.103/24 on eth0 (network configuration; was 10.77.0.13/24)"
    assert {s.server for s in plan.servers} == {"lim3", "sb2"}, "c1's members are not touched"


@pytest.mark.parametrize("name, address", [("lim4", "10.77.0.14"), ("spare1", "10.77.0.30")])
def test_a_server_in_no_cluster_gets_only_its_host_key_pinned(name: str, address: str) -> None:
    system = two_clusters()
    plan = plan_replace(system, name, b"", OLD, PRESENTED)
    assert plan.text().splitlines() == [
        f"Plan: replace {name} (in no cluster): host key {NEW} accepted (was {OLD})",
        f"  {name} ({address}):",
        f"    - {PIN}",
        "  Checked before anything changes:",
        f"    - {name} answers at {address} with host key {NEW}",
        f"    - {agent(name)}"]
    assert plan.servers == (ServerPlan(name, address, (PinHostKey(PRESENTED.key_type, PRESENTED.blob,
                                                                   PRESENTED.fingerprint),)),)
    assert plan.agent_check == AgentCheck((name,)) and plan.disk_check is None
    assert plan.after == plan.before == system


def test_an_unchanged_key_is_named_unchanged() -> None:
    plan = plan_replace(sample_with_cluster(), "lim1", KEY, NEW, PRESENTED)
    assert plan.title == f"replace lim1 (LIM 1 of cluster c1, generation 1): host key {NEW} accepted (unchanged)"
    fresh = plan_replace(sample_with_cluster(), "lim1", KEY, "none", PRESENTED)
    assert fresh.title.endswith(f"host key {NEW} accepted (was none)")


def test_an_unknown_server_is_refused_naming_it_and_the_servers() -> None:
    with pytest.raises(RuleViolation) as raised:
        plan_replace(sample_with_cluster(), "ghost", KEY, OLD, PRESENTED)
    assert [e.rule for e in raised.value.errors] == ["unknown-server"]
    assert str(raised.value) == "no server named ghost in the system (servers: lim1, lim2, lim3, sb1, spare1)"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), system=clustered_systems())
def test_property_replace_changes_no_setting_and_touches_only_the_servers_cluster(data, system) -> None:
    server = data.draw(st.sampled_from(system.servers))
    plan = plan_replace(system, server.name, KEY, OLD, PRESENTED)
    assert plan.after == plan.before == system
    assert plan.agent_check == AgentCheck((server.name,))
    pin = PinHostKey(PRESENTED.key_type, PRESENTED.blob, PRESENTED.fingerprint)
    cluster = system.cluster_of_server(server.name)
    if cluster is None:
        assert plan.servers == (ServerPlan(server.name, str(server.address.ip), (pin,)),)
        return
    assert [s.server for s in plan.servers] == \
        [server.name, *(m for m in cluster.member_names if m != server.name)]
    own, *others = plan.servers
    assert own.address == str(cluster.base_of(server.name).ip)
    assert isinstance(own.steps[0], CleanStaged) and own.steps[1] == pin
    assert [step for step in own.steps if isinstance(step, PinHostKey)] == [pin]
    assert f"{CONFIG} (generation {cluster.generation})" in [step.describe() for step in own.steps]
    assert not any(isinstance(step, AddAddress) for step in own.steps)
    for member in others:
        assert [step.describe() for step in member.steps] == [host_keys(*cluster.member_names)]
    assert (plan.disk_check is not None) == (server.name == cluster.standby.server)
