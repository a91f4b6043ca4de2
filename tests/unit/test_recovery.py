"""Finishing or undoing a change a killed run left unfinished (ops/recovery.py): from its journal, every
server gets what brings it from whatever part it did to the end, first removing what the run left
staged; undo goes back to the old settings as a newer generation."""
from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives import serialization
from helpers.strategies import sample_cluster, sample_system, sample_with_cluster

from mxone_maintenance.core import paths
from mxone_maintenance.core.config import parse_cluster
from mxone_maintenance.core.model import System
from mxone_maintenance.utility.ops import cluster as ops
from mxone_maintenance.utility.ops.generations import numbered_above_servers
from mxone_maintenance.utility.ops.journal import Journal
from mxone_maintenance.utility.ops.plan import (
    AddAddress,
    CleanStaged,
    Plan,
    RemoveAddress,
    RemoveFile,
    SetBootAddress,
    WriteFile,
)
from mxone_maintenance.utility.ops.plan import STAGING_FOLDERS
from mxone_maintenance.utility.ops.recovery import plan_finish, plan_undo
from mxone_maintenance.utility.ops.requests import (
    AddLim,
    CreateCluster,
    DeleteCluster,
    LimSpec,
    LockLim,
    RemoveLim,
    RuntimeFacts,
)

NEW_KEY = b"the new cluster key of the create\n"
KEPT_KEY = b"the key kept on LIM 1\n"
CLUSTER_FILE = str(paths.CLUSTER_FILE)
CLUSTER_KEY = str(paths.CLUSTER_KEY)
SYNC_KEY = str(paths.SYNC_KEY)
CLEAN = "remove files an interrupted run left staged (hidden .*.mxone-* names)"
FIRST = (CleanStaged(STAGING_FOLDERS),)


class KeyFor:
    """key_for as the command line gives it: the key kept on LIM 1, by cluster name (calls recorded)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, name: str) -> bytes:
        self.asked.append(name)
        return KEPT_KEY


def journal_of(plan: Plan) -> Journal:
    return Journal(plan.action, plan.title, "tech", 1_700_000_000.0, plan.before, plan.after, dict(plan.secrets))


def created() -> Journal:
    request = CreateCluster("c1", "sb1", (LimSpec(1, "10.77.0.101"), LimSpec(2, "10.77.0.102"),
                                          LimSpec(3, "10.77.0.103")))
    return journal_of(ops.plan_create(sample_system(), request, NEW_KEY))


def locked(generation: int = 4) -> Journal:
    return journal_of(ops.plan_lock(sample_with_cluster(generation=generation), LockLim(2, "standby")))


def deleted() -> Journal:
    return journal_of(ops.plan_delete(sample_with_cluster(generation=3), DeleteCluster("c1"), RuntimeFacts()))


def lim_removed() -> Journal:
    return journal_of(ops.plan_remove_lim(sample_with_cluster(), RemoveLim("c1", 2), RuntimeFacts()))


def lim_added() -> Journal:
    system = sample_with_cluster(lims=3, members=(1, 2))
    return journal_of(ops.plan_add_lim(system, AddLim("c1", LimSpec(3, "10.77.0.103")), b"unused"))


def same(steps) -> tuple:
    """Steps to compare: the data-sync key file as the key it holds (its OpenSSH wrapping differs per call)."""
    def raw(content: bytes) -> bytes:
        return serialization.load_ssh_private_key(content, None).private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return tuple(replace(step, content=raw(step.content)) if isinstance(step, WriteFile) and step.path == SYNC_KEY
                 else step for step in steps)


def server(plan: Plan, name: str):
    matches = [s for s in plan.servers if s.server == name]
    assert len(matches) == 1, (name, plan.text())
    return matches[0]


def sections(plan: Plan) -> dict[str, list[str]]:
    """The plan text as the technician reads it: each server heading `name (address)`, its steps."""
    out: dict[str, list[str]] = {}
    current = None
    for line in plan.lines()[1:]:
        if line.startswith("  ") and not line.startswith("    ") and line.endswith(":"):
            current = line.strip()[:-1]
            out[current] = []
        elif line.startswith("    - ") and current is not None:
            out[current].append(line[6:])
    return out


def cluster_yaml(plan: Plan, name: str):
    steps = [step for step in server(plan, name).steps if isinstance(step, WriteFile) and step.path == CLUSTER_FILE]
    assert len(steps) == 1, (name, plan.text())
    return parse_cluster(steps[0].content.decode())


def key_written(plan: Plan, name: str) -> bytes:
    return next(step.content for step in server(plan, name).steps
                if isinstance(step, WriteFile) and step.path == CLUSTER_KEY)


# --- finish and undo of a create --------------------------------------------------------------------------

def test_finishing_a_create_gives_every_regular_the_joining_steps_with_the_journal_key() -> None:
    journal, key_for = created(), KeyFor()
    plan = plan_finish(journal, key_for)
    cluster = journal.after.cluster("c1")
    for item in cluster.lims:
        assert same(server(plan, item.server).steps) == same(FIRST + ops.joining_steps(item, cluster, NEW_KEY))
    assert key_written(plan, "lim2") == NEW_KEY
    assert key_for.asked == []                     # the new key is the journal's, not one on LIM 1


def test_finishing_a_create_gives_the_standby_the_standby_steps() -> None:
    journal = created()
    plan = plan_finish(journal, KeyFor())
    expected = FIRST + ops.standby_joining_steps(journal.after.cluster("c1"), NEW_KEY)
    assert same(server(plan, "sb1").steps) == same(expected)


def test_finishing_a_create_connects_to_each_server_at_its_own_address() -> None:
    plan = plan_finish(created(), KeyFor())
    assert {s.server: s.address for s in plan.servers} == {
        "lim1": "10.77.0.11", "lim2": "10.77.0.12", "lim3": "10.77.0.13", "sb1": "10.77.0.20"}


def test_finishing_a_create_reads_as_the_create_carried_through() -> None:
    journal = created()
    plan = plan_finish(journal, KeyFor())
    assert plan.action == "cluster finish"
    assert plan.lines()[0] == f"Plan: finish the interrupted change: {journal.title}"
    text = sections(plan)
    assert text["lim1 (10.77.0.11)"][:4] == [
        CLEAN, "add base address 10.77.0.101/24 on eth0; 10.77.0.11/24 stays as the alias of LIM 1",
        "boot with 10.77.0.101/24 on eth0 (network configuration; was 10.77.0.11/24)",
        "write /etc/opt/eri_sn/cluster.yaml (generation 1)"]
    assert text["sb1 (10.77.0.20)"][:2] == [CLEAN, "write /etc/opt/eri_sn/cluster.yaml (generation 1)"]
    assert "  System file: cluster c1 at generation 1" in plan.lines()
    assert (plan.before, plan.after) == (journal.before, journal.after)


def test_every_server_first_removes_what_the_run_left_staged() -> None:
    for journal in (created(), locked(), deleted(), lim_removed(), lim_added()):
        for plan in (plan_finish(journal, KeyFor()), plan_undo(journal, KeyFor())):
            for part in plan.servers:
                assert part.steps[0] == CleanStaged(STAGING_FOLDERS), (plan.title, part.server)
                assert sections(plan)[f"{part.server} ({part.address})"][0] == CLEAN


def test_staged_files_are_looked_for_beside_every_file_a_change_writes() -> None:
    for folder in ("/etc/opt/eri_sn", "/root/.ssh", "/var/opt/eri_sn/xdata", "/etc/sysconfig/network"):
        assert folder in STAGING_FOLDERS


def test_undoing_a_create_gives_every_regular_the_leaving_steps() -> None:
    journal = created()
    plan = plan_undo(journal, KeyFor())
    cluster = journal.after.cluster("c1")
    for item in cluster.lims:
        steps = server(plan, item.server).steps
        assert steps == FIRST + ops.leaving_steps(item, cluster)
        assert RemoveAddress(item.base, "eth0") in steps
        assert SetBootAddress("eth0", old=item.base, new=item.alias, required=False) in steps
        assert RemoveFile(CLUSTER_FILE) in steps


def test_undoing_a_create_takes_everything_from_the_standby() -> None:
    plan = plan_undo(created(), KeyFor())
    assert server(plan, "sb1").steps == FIRST + ops.standby_leaving_steps()


def test_undoing_a_create_connects_to_the_regulars_at_their_own_address() -> None:
    plan = plan_undo(created(), KeyFor())
    assert {s.server: s.address for s in plan.servers} == {
        "lim1": "10.77.0.11", "lim2": "10.77.0.12", "lim3": "10.77.0.13", "sb1": "10.77.0.20"}


def test_undoing_a_create_reads_as_the_cluster_removed() -> None:
    journal, key_for = created(), KeyFor()
    plan = plan_undo(journal, key_for)
    assert plan.action == "cluster undo"
    assert plan.lines()[0] == f"Plan: undo the interrupted change: {journal.title}"
    assert sections(plan)["lim3 (10.77.0.13)"][-2:] == [
        "boot with 10.77.0.13/24 on eth0 (network configuration; was 10.77.0.103/24)",
        "remove base address 10.77.0.103/24 from eth0"]
    assert "  System file: cluster c1 removed" in plan.lines()
    assert plan.after == journal.before and plan.after.cluster("c1") is None
    assert key_for.asked == []


# --- lock, delete, remove-lim, add-lim ------------------------------------------------------------------

def test_undoing_a_lock_writes_the_old_settings_one_above_the_lock_on_every_member() -> None:
    journal = locked(generation=4)
    plan = plan_undo(journal, KeyFor())
    back = replace(journal.before.cluster("c1"), generation=6)
    assert journal.after.cluster("c1").generation == 5
    for name in ("lim1", "lim2", "lim3", "sb1"):
        assert cluster_yaml(plan, name) == back
        assert server(plan, name).steps == FIRST + ops.staying_steps(back)
    assert plan.after == journal.before.replace_cluster(back)
    assert plan.before == journal.after
    assert "  System file: cluster c1 at generation 6" in plan.lines()
    assert sections(plan)["lim2 (10.77.0.102)"][1] == "write /etc/opt/eri_sn/cluster.yaml (generation 6)"


def test_finishing_a_lock_writes_the_locked_settings_at_the_lock_generation() -> None:
    journal = locked(generation=4)
    plan = plan_finish(journal, KeyFor())
    for name in ("lim1", "lim2", "lim3", "sb1"):
        assert cluster_yaml(plan, name) == journal.after.cluster("c1")
    assert plan.after == journal.after
    assert "  System file: cluster c1 at generation 5" in plan.lines()


def test_a_lock_is_finished_and_undone_at_the_cluster_bases() -> None:
    for plan in (plan_finish(locked(), KeyFor()), plan_undo(locked(), KeyFor())):
        assert {s.server: s.address for s in plan.servers} == {
            "lim1": "10.77.0.101", "lim2": "10.77.0.102", "lim3": "10.77.0.103", "sb1": "10.77.0.20"}


def test_undoing_a_delete_rejoins_with_the_key_kept_on_lim1() -> None:
    journal, key_for = deleted(), KeyFor()
    plan = plan_undo(journal, key_for)
    cluster = journal.before.cluster("c1")
    assert set(key_for.asked) == {"c1"}
    for item in cluster.lims:
        assert same(server(plan, item.server).steps) == same(FIRST + ops.joining_steps(item, cluster, KEPT_KEY))
        assert AddAddress(item.base, "eth0", note=f"{item.alias} stays as the alias of LIM {item.lim}") \
            in server(plan, item.server).steps
        assert key_written(plan, item.server) == KEPT_KEY
    assert same(server(plan, "sb1").steps) == same(FIRST + ops.standby_joining_steps(cluster, KEPT_KEY))
    assert plan.after == journal.before


def test_undoing_a_delete_connects_to_each_server_at_its_own_address() -> None:
    plan = plan_undo(deleted(), KeyFor())
    assert {s.server: s.address for s in plan.servers} == {
        "lim1": "10.77.0.11", "lim2": "10.77.0.12", "lim3": "10.77.0.13", "sb1": "10.77.0.20"}
    assert "  System file: cluster c1 at generation 3" in plan.lines()


def test_finishing_a_delete_takes_the_cluster_from_every_member() -> None:
    journal, key_for = deleted(), KeyFor()
    plan = plan_finish(journal, key_for)
    cluster = journal.before.cluster("c1")
    for item in cluster.lims:
        assert server(plan, item.server).steps == FIRST + ops.leaving_steps(item, cluster)
    assert server(plan, "sb1").steps == FIRST + ops.standby_leaving_steps()
    assert "  System file: cluster c1 removed" in plan.lines()
    assert key_for.asked == []


def test_finishing_a_remove_lim_lets_the_lim_leave_and_the_others_stay() -> None:
    journal = lim_removed()
    plan = plan_finish(journal, KeyFor())
    before, after = journal.before.cluster("c1"), journal.after.cluster("c1")
    assert server(plan, "lim2").steps == FIRST + ops.leaving_steps(before.lim(2), before)
    assert server(plan, "lim2").address == "10.77.0.12"
    for name in ("lim1", "lim3", "sb1"):
        assert server(plan, name).steps == FIRST + ops.staying_steps(after)
    assert sections(plan)["lim1 (10.77.0.101)"] == [
        CLEAN, "write /etc/opt/eri_sn/cluster.yaml (generation 2)",
        "write /etc/opt/eri_sn/cluster_known_hosts (host keys of lim1, lim3, sb1)",
        "remove old xdata versions (keep only the newest)"]
    assert sections(plan)["lim2 (10.77.0.12)"][-1] == "remove base address 10.77.0.102/24 from eth0"


def test_undoing_a_remove_lim_rejoins_the_lim_at_the_next_generation() -> None:
    journal, key_for = lim_removed(), KeyFor()
    plan = plan_undo(journal, key_for)
    back = replace(journal.before.cluster("c1"), generation=3)
    assert same(server(plan, "lim2").steps) == same(FIRST + ops.joining_steps(back.lim(2), back, KEPT_KEY))
    assert server(plan, "lim2").address == "10.77.0.12"
    assert key_for.asked == ["c1"]
    for name in ("lim1", "lim3", "sb1"):     # their sync key line names lim2 again
        assert server(plan, name).steps == FIRST + ops.staying_steps(back, KEPT_KEY)


def test_finishing_an_add_lim_joins_the_lim_with_the_kept_key() -> None:
    journal, key_for = lim_added(), KeyFor()
    plan = plan_finish(journal, key_for)
    after = journal.after.cluster("c1")
    assert same(server(plan, "lim3").steps) == same(FIRST + ops.joining_steps(after.lim(3), after, KEPT_KEY))
    assert server(plan, "lim3").address == "10.77.0.13"
    assert key_for.asked == ["c1"]
    for name in ("lim1", "lim2", "sb1"):
        assert server(plan, name).steps == FIRST + ops.staying_steps(after, KEPT_KEY)


def test_undoing_an_add_lim_lets_the_lim_leave() -> None:
    journal = lim_added()
    plan = plan_undo(journal, KeyFor())
    after = journal.after.cluster("c1")
    assert server(plan, "lim3").steps == FIRST + ops.leaving_steps(after.lim(3), after)
    assert cluster_yaml(plan, "lim1") == replace(journal.before.cluster("c1"), generation=3)


def test_a_key_in_the_journal_is_used_before_the_kept_one() -> None:
    journal = replace(lim_added(), secrets={"c1": NEW_KEY})
    key_for = KeyFor()
    assert key_written(plan_finish(journal, key_for), "lim3") == NEW_KEY
    assert key_for.asked == []


# --- finish and undo against what the servers hold (apply numbers every plan above the servers) ----------

def held(journal_system: System, *servers: str) -> dict:
    return {name: journal_system.cluster("c1") for name in servers}


def test_finishing_a_change_some_server_committed_is_no_generation_conflict() -> None:
    journal = locked()
    plan = plan_finish(journal, KeyFor())
    servers = {**held(journal.after, "lim1", "lim2"), **held(journal.before, "lim3", "sb1")}
    assert numbered_above_servers(plan, servers) == plan


def test_finishing_a_create_some_server_committed_is_no_generation_conflict() -> None:
    journal = created()
    plan = plan_finish(journal, KeyFor())
    assert numbered_above_servers(plan, {**held(journal.after, "lim1"), "lim2": None, "lim3": None,
                                         "sb1": None}) == plan


def test_finishing_a_remove_lim_some_server_committed_is_no_generation_conflict() -> None:
    journal = lim_removed()
    plan = plan_finish(journal, KeyFor())
    servers = {**held(journal.after, "lim1", "sb1"), **held(journal.before, "lim2", "lim3")}
    assert numbered_above_servers(plan, servers) == plan


def test_undoing_a_delete_some_server_did_not_commit_is_no_generation_conflict() -> None:
    journal = deleted()
    plan = plan_undo(journal, KeyFor())
    servers = {**held(journal.before, "lim3", "sb1"), "lim1": None, "lim2": None}
    assert numbered_above_servers(plan, servers) == plan


def test_a_rerun_of_an_interrupted_undo_is_no_generation_conflict() -> None:
    journal = locked()
    plan = plan_undo(journal, KeyFor())
    servers = {**held(plan.after, "lim1"), **held(journal.after, "lim2"), **held(journal.before, "lim3", "sb1")}
    assert numbered_above_servers(plan, servers) == plan


def test_finishing_after_a_partial_undo_is_numbered_above_the_undo() -> None:
    journal = locked(generation=4)
    undo = plan_undo(journal, KeyFor())                 # generation 6, the old settings
    plan = plan_finish(journal, KeyFor())
    numbered = numbered_above_servers(plan, {**held(undo.after, "lim1"), **held(journal.after, "lim2")})
    assert cluster_yaml(numbered, "sb1") == replace(journal.after.cluster("c1"), generation=7)


def test_members_of_another_cluster_are_not_touched() -> None:
    system = sample_system(lims=4, free=1)
    system = system.with_server(replace(system.server("spare1"), role="standby"))
    system = system.replace_cluster(sample_cluster(system, (1, 2), name="c1"))
    system = system.replace_cluster(sample_cluster(system, (3, 4), name="c2", standby="spare1"))
    plan = ops.plan_lock(system, LockLim(1, "regular"))
    finish = plan_finish(journal_of(plan), lambda name: b"k" * 64)
    assert sorted(s.server for s in finish.servers) == ["lim1", "lim2", "sb1"]
    undo = plan_undo(journal_of(plan), lambda name: b"k" * 64)
    assert sorted(s.server for s in undo.servers) == ["lim1", "lim2", "sb1"]
