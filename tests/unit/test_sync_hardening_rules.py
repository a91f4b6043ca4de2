"""Issue 15, findings 8 and 9: the pure rules and the small stateful parts, without rsync.

  * stamps in the future are refused, a regular's own newest version is never pruned (hypothesis);
  * a regular takes the standby's data only after it saw the standby run the LIM (scheduler -> record
    -> ClusterSync's gate);
  * what a pulled version must not hold (folders.unsafe_entries);
  * the key line: from= exactly the members' base addresses, the forced command; what it serves.
"""
from __future__ import annotations

import os
import re
import time
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
from helpers.fakes import Clock
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.datasync import ClusterSync, DataSyncScheduler, SyncResult, records
from mxone_maintenance.agent.datasync import peers as peers_module
from mxone_maintenance.agent.datasync.folders import unsafe_entries
from mxone_maintenance.agent.sync_serve import Refused, access_for, check_sources, parse_request, server_argv
from mxone_maintenance.agent.runtime import AlarmBook
from mxone_maintenance.agent.state import PeerView
from mxone_maintenance.core.contracts import sync_keys, xdata
from mxone_maintenance.core.contracts.xdata import Held, Version
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops.cluster import key_files
from mxone_maintenance.utility.ops.plan import AllowSyncKey

CLUSTER = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")),
                  (ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), IPv4Interface("10.77.0.11/24")),
                   ClusterLim(2, "lim2", IPv4Interface("10.77.0.112/24"), IPv4Interface("10.77.0.12/24"))))
NOW = time.mktime((2026, 6, 1, 12, 0, 0, 0, 0, -1))


# --- stamps in the future ---------------------------------------------------------------------------------

def held(stamp: str) -> Held:
    return Held(Version(1, stamp), "xdata", 0)


def test_versions_stamped_more_than_a_day_ahead_are_refused():
    near, far = time.strftime("%Y%m%d%H%M%S", time.localtime(NOW + 23 * 3600)), "29990101000000"
    edge = time.strftime("%Y%m%d%H%M%S", time.localtime(NOW + 24 * 3600 + 1))
    accepted, refused = xdata.split_future([held("20260601110000"), held(near), held(edge), held(far)], NOW)
    assert [h.version.stamp for h in accepted] == ["20260601110000", near]
    assert [h.version.stamp for h in refused] == [edge, far]


# --- a regular's own newest version ---------------------------------------------------------------------------

versions = st.builds(Version, st.just(1), st.from_regex(r"\A20\d{2}0101000\d{3}\Z", fullmatch=True))


@given(st.lists(versions, max_size=8), st.lists(versions, max_size=8), st.integers(0, 4))
def test_a_regular_never_prunes_its_own_newest_version(here, pulled, keep):
    doomed = xdata.regular_versions_to_prune(here, pulled, keep)
    kept = set(here) - set(doomed)
    own = sorted(set(here) - set(pulled))
    assert not own or own[-1] in kept
    assert set(sorted(set(here))[-keep:] if keep else []) <= kept       # MX-ONE's newest `keep` stay too
    assert len(kept) <= keep + 1 and doomed == sorted(doomed)


def test_pruning_examples():
    v = [Version(1, f"2025010100000{n}") for n in range(6)]
    assert xdata.regular_versions_to_prune(v, pulled=v[3:]) == [v[0], v[1]]      # v[2], ours, stays
    assert xdata.regular_versions_to_prune(v, pulled=()) == v[:3]
    assert xdata.regular_versions_to_prune(v, pulled=v) == v[:3]                # nothing of ours: MX-ONE's rule


# --- the standby ran the LIM --------------------------------------------------------------------------------

def test_the_refusal_texts():
    assert records.pull_refusal(None, NOW, "sb1", 1) == "sb1 has never been seen running LIM 1: its data is not taken"
    assert records.pull_refusal(NOW - 30, NOW, "sb1", 1) is None
    assert records.pull_refusal(NOW - records.RAN_GRACE_S, NOW, "sb1", 1) is None
    assert "last seen running LIM 1 20 min ago" in records.pull_refusal(NOW - 1200, NOW, "sb1", 1)


def regular_rig(tmp_path: Path):
    clock = Clock()
    scheduler = DataSyncScheduler(Paths(tmp_path), "lim1", clock, lambda: NOW + clock.t, threaded=False)
    return clock, scheduler


def test_the_regular_notes_when_the_standby_serves_its_lim(tmp_path):
    clock, scheduler = regular_rig(tmp_path)
    paths, alarms = Paths(tmp_path), AlarmBook(lambda: NOW)

    def cycle(view: PeerView) -> None:
        clock.t += 0.5
        scheduler.cycle(CLUSTER, object(), {"sb1": view}, (), alarms, clock.t)

    cycle(PeerView("sb1", last_heard=clock.t + 0.5, running=frozenset({1}), blocked=frozenset({1})))
    assert records.standby_ran_at(paths, 1) is None                  # preloaded, passive: not serving
    cycle(PeerView("sb1", last_heard=clock.t + 0.5, running=frozenset({2})))
    assert records.standby_ran_at(paths, 1) is None                  # another LIM
    cycle(PeerView("sb1", last_heard=clock.t - CLUSTER.detect_s - 1, running=frozenset({1})))
    assert records.standby_ran_at(paths, 1) is None                  # not heard for longer than D
    cycle(PeerView("sb1", last_heard=clock.t + 0.5, running=frozenset({1})))
    first = records.standby_ran_at(paths, 1)
    assert first == pytest.approx(NOW + clock.t, abs=0.01)
    cycle(PeerView("sb1", last_heard=clock.t + 0.5, running=frozenset({1})))
    assert records.standby_ran_at(paths, 1) == first                 # not rewritten every cycle
    clock.t += records.REFRESH_S
    cycle(PeerView("sb1", last_heard=clock.t + 0.5, running=frozenset({1})))
    assert records.standby_ran_at(paths, 1) > first


def test_the_standby_notes_nothing(tmp_path):
    clock = Clock()
    scheduler = DataSyncScheduler(Paths(tmp_path), "sb1", clock, lambda: NOW, threaded=False)
    scheduler.cycle(CLUSTER, object(), {"lim1": PeerView("lim1", last_heard=clock.t, running=frozenset({1}))}, (),
                    AlarmBook(lambda: NOW), clock.t)
    assert not (tmp_path / "var/opt/eri_sn/agent").exists() or not list((tmp_path / "var/opt/eri_sn/agent").iterdir())


def test_cluster_sync_gates_only_a_regulars_pulls(monkeypatch, tmp_path):
    seen = {}

    def fake(paths, role, lim, peer, settings, skew, dry_run=False):
        seen[role] = settings.pull_gate
        return SyncResult(True, lim, "none")

    monkeypatch.setattr(peers_module, "sync_lim", fake)
    paths = Paths(tmp_path)
    ClusterSync(paths, CLUSTER, "sb1").sync_lim(1)
    ClusterSync(paths, CLUSTER, "lim1", wall=lambda: NOW).sync_lim(1)
    assert seen["standby"] is None
    assert seen["regular"]() == "sb1 has never been seen running LIM 1: its data is not taken"
    records.note_standby_ran(paths, 1, NOW - 5)
    assert seen["regular"]() is None                                  # read when asked, not before


# --- what a pulled version must not hold ------------------------------------------------------------------

def test_unsafe_entries(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "ok.dat").write_text("x")
    (tmp_path / "sub" / "link").symlink_to("../ok.dat")            # stays inside the version
    (tmp_path / "sub" / "deep").symlink_to("../../outside")
    (tmp_path / "abs").symlink_to("/etc/shadow")
    (tmp_path / "setuid").write_text("x")
    (tmp_path / "setuid").chmod(0o4755)
    os.mkfifo(tmp_path / "fifo")
    assert unsafe_entries(tmp_path) == ["abs -> /etc/shadow", "fifo (not a file)", "setuid (mode 4755)",
                                        "sub/deep -> ../../outside"]
    for name in ("abs", "fifo", "setuid", "sub/deep"):
        (tmp_path / name).unlink()
    assert unsafe_entries(tmp_path) == []


# --- the key line -------------------------------------------------------------------------------------------

def test_the_utility_writes_from_with_exactly_the_members_base_addresses():
    [allow] = [step for step in key_files(b"0123abcd" * 4, CLUSTER) if isinstance(step, AllowSyncKey)]
    options, kind, _blob, marker = sync_keys.parse_key_line(allow.line)
    assert re.search(r'(^|,)from="([^"]*)"', options)[2].split(",") == ["10.77.0.111", "10.77.0.112", "10.77.0.20"]
    assert f'command="{sync_keys.serve_command()}"' in options and options.endswith(",restrict")
    assert kind == "ssh-ed25519" and marker == sync_keys.SYNC_MARKER
    assert "-I -m mxone_maintenance.agent.sync_serve" in sync_keys.serve_command("/opt/x/bin/python")
    with pytest.raises(sync_keys.KeyLineError):
        sync_keys.authorized_keys_line(sync_keys.make_sync_keypair()[1], members=["lim1"])
    old = sync_keys.authorized_keys_line(sync_keys.make_sync_keypair()[1])
    assert sync_keys.merge_authorized_keys(old + "\n", allow.line) == allow.line + "\n"  # the new line replaces it


def connection(client: str, server: str) -> str:
    return f"{client} 40000 {server} 22"


def test_who_may_read_what():
    sb1, lim1, lim2 = "10.77.0.20", "10.77.0.111", "10.77.0.112"
    assert access_for(CLUSTER, connection(lim1, sb1)).readable == {("standby/lim1", 1), ("xdata", 1)}
    assert access_for(CLUSTER, connection(sb1, lim2)).readable == {("xdata", 2)}
    assert access_for(CLUSTER, connection(f"::ffff:{sb1}", lim1)).client == "sb1"
    for client, server, why in ((lim1, lim2, "lim1 has no data to take from lim2"),
                                ("10.77.0.11", sb1, "no member's base address"),      # an alias
                                (sb1, "10.77.0.12", "connected to 10.77.0.12"), ("", "", "SSH_CONNECTION")):
        with pytest.raises(Refused, match=why):
            access_for(CLUSTER, connection(client, server) if client else "")


PULL = "rsync --server --sender -ltpre.iLsfxCIvu --timeout=30 --bwlimit=100 --safe-links . "
LIST = "rsync --server --sender -re.iLsfxCIvu --timeout=30 --list-only . ./"


@pytest.mark.parametrize("command, why", [
    ("rsync --server -logDtpre.iLsfxCIvu . xdata/", "only a read-only rsync"),            # a push
    ("id", "only a read-only rsync"), ("", "only a read-only rsync"),
    ("rsync --server --sender -Lre.iLsfxCIvu . ./", "options not served"),              # follow symlinks
    ("rsync --server --sender -sre.iLsfxCIvu . ./", "options not served"),              # sources hidden
    ("rsync --server --sender -re.iLsfxCIvu --files-from=x . ./", "option not served"),
    ("rsync --server --sender -re.iLsfxCIvu --copy-unsafe-links . ./", "option not served"),
    (PULL + "xdata/xdata_2_20240101000000/", "may not read"),
    (PULL + "standby/lim2/xdata_2_20240101000000/", "may not read"),
    (PULL + "standby/lim2/xdata_1_20240101000000/", "not a version folder"),
    (PULL + "xdata/../standby/lim2/", "not a version folder"),
    (PULL + r"xdata/xdata_1_\*", "not a version folder"),
    (PULL + "xdata/xdata_1_20240101000000/../../etc", "not a version folder"),
    (PULL + "./ xdata/xdata_1_20240101000000/", "goes alone"),
])
def test_requests_that_are_refused(command, why):
    access = access_for(CLUSTER, connection("10.77.0.111", "10.77.0.20"))
    with pytest.raises(Refused, match=re.escape(why)):
        check_sources(parse_request(command), access)


def test_what_is_run_for_a_listing_and_a_pull(tmp_path):
    access = access_for(CLUSTER, connection("10.77.0.111", "10.77.0.20"))
    listing = server_argv(parse_request(LIST), access, tmp_path, "rsync", confine=True)
    assert listing == ["rsync", "--server", "--sender", "-re.iLsfxCIvu", "--timeout=30", "--list-only",
                       f"--confine-root={tmp_path}", "--include=/standby/", "--include=/standby/lim1/",
                       "--include=/standby/lim1/xdata_1_*/***", "--include=/xdata/", "--include=/xdata/xdata_1_*/***",
                       "--exclude=*", "--", ".", "./"]
    pull = server_argv(parse_request(PULL + "xdata/xdata_1_20240101000000/"), access, tmp_path, "rsync")
    assert pull[-3:] == ["--", ".", "xdata/xdata_1_20240101000000/"] and "--exclude=*" not in pull
