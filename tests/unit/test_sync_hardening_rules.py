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
import shlex
import stat
import tempfile
import time
from dataclasses import replace
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
from helpers.fakes import Clock
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.datasync import ClusterSync, DataSyncScheduler, SyncResult, records
from mxone_maintenance.agent.datasync import SyncSettings, transport
from mxone_maintenance.agent.datasync import peers as peers_module
from mxone_maintenance.agent.datasync.folders import unsafe_entries
from mxone_maintenance.agent import sync_serve
from mxone_maintenance.agent.datasync.transport import Peer
from mxone_maintenance.agent.sync_serve import Members, Refused, access_for, check_sources, parse_request, server_argv
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
MEMBERS = Members.of(CLUSTER)
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
    assert access_for(MEMBERS, connection(lim1, sb1)).readable == {("standby/lim1", 1), ("xdata", 1)}
    assert access_for(MEMBERS, connection(sb1, lim2)).readable == {("xdata", 2)}
    assert access_for(MEMBERS, connection(f"::ffff:{sb1}", lim1)).client == "sb1"
    for client, server, why in ((lim1, lim2, "lim1 has no data to take from lim2"),
                                ("10.77.0.11", sb1, "no member's base address"),      # an alias
                                (sb1, "10.77.0.12", "connected to 10.77.0.12"), ("", "", "SSH_CONNECTION")):
        with pytest.raises(Refused, match=why):
            access_for(MEMBERS, connection(client, server) if client else "")


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
    access = access_for(MEMBERS, connection("10.77.0.111", "10.77.0.20"))
    with pytest.raises(Refused, match=re.escape(why)):
        check_sources(parse_request(command), access)


def test_what_is_run_for_a_listing_and_a_pull(tmp_path):
    access = access_for(MEMBERS, connection("10.77.0.111", "10.77.0.20"))
    listing = server_argv(parse_request(LIST), access, tmp_path, "rsync", confine=True)
    assert listing == ["rsync", "--server", "--sender", "-re.iLsfxCIvu", "--timeout=30", "--list-only",
                       f"--confine-root={tmp_path}", "--include=/standby/", "--include=/standby/lim1/",
                       "--include=/standby/lim1/xdata_1_*/***", "--include=/xdata/", "--include=/xdata/xdata_1_*/***",
                       "--exclude=*", "--", ".", "./"]
    pull = server_argv(parse_request(PULL + "xdata/xdata_1_20240101000000/"), access, tmp_path, "rsync")
    assert pull[-3:] == ["--", ".", "xdata/xdata_1_20240101000000/"] and "--exclude=*" not in pull


def test_the_forced_command_takes_only_a_root_and_finds_confine_root_in_the_program(tmp_path, capsys):
    assert sync_serve.main(["--bogus"], {}) == 2 and "usage" in capsys.readouterr().err
    assert sync_serve.main(["--root", str(tmp_path)], {}) == 1               # no cluster.yaml there: refused
    assert "refused: no cluster configuration" in capsys.readouterr().err
    program = tmp_path / "rsync"
    program.write_bytes(b"\0--list-only\0confine-root\0")
    assert sync_serve.has_confine_root(str(program))
    program.write_bytes(b"\0--list-only\0")
    assert not sync_serve.has_confine_root(str(program)) and not sync_serve.has_confine_root(str(tmp_path / "no"))


# --- the shared SSH connection ----------------------------------------------------------------------------

@pytest.fixture
def short_tmp():
    """A temp folder with a short name: a socket's path has at most 108 bytes (pytest's tmp_path is long)."""
    with tempfile.TemporaryDirectory(prefix="ctl", dir="/tmp") as folder:
        yield Path(folder)


def sync_settings(folder: Path, **changes) -> SyncSettings:
    return SyncSettings(key=folder / "sync.key", known_hosts=folder / "hosts", control_dir=folder / "ctl", **changes)


def test_a_connection_is_shared_only_for_the_same_peer_name_key_and_source(short_tmp):
    settings, peer = sync_settings(short_tmp), Peer("10.77.0.11", "lim1")
    shared = transport.control_path(settings, peer)
    assert shared and shared == transport.control_path(settings, peer)
    assert stat.S_IMODE((short_tmp / "ctl").stat().st_mode) == 0o700
    others = [transport.control_path(settings, Peer("10.77.0.11", "lim2")),       # another host key name
              transport.control_path(settings, Peer("10.77.0.12", "lim1")),
              transport.control_path(replace(settings, key=short_tmp / "other.key"), peer),
              transport.control_path(replace(settings, known_hosts=short_tmp / "other"), peer),
              transport.control_path(replace(settings, bind_address="10.77.0.20"), peer),
              transport.control_path(replace(settings, user="admin"), peer)]
    assert None not in others and len({shared, *others}) == 7
    words = shlex.split(transport.ssh_command(settings, peer))
    assert ["-o", "ControlMaster=auto", "-o", f"ControlPath={shared}"] == words[-6:-2]
    assert words[-1] == f"ControlPersist={transport.CONTROL_PERSIST_S}" and "StrictHostKeyChecking=yes" in words


@pytest.mark.parametrize("spoil", ["open to the group", "a symlink", "a file", "too long a path", "none"])
def test_no_connection_is_shared_through_a_folder_others_could_reach(short_tmp, spoil):
    settings, peer = sync_settings(short_tmp), Peer("10.77.0.11", "lim1")
    folder = short_tmp / "ctl"
    if spoil == "open to the group":
        folder.mkdir(mode=0o700)
        folder.chmod(0o770)
    elif spoil == "a symlink":
        (short_tmp / "elsewhere").mkdir(mode=0o700)
        folder.symlink_to(short_tmp / "elsewhere")
    elif spoil == "a file":
        folder.write_text("")
    elif spoil == "too long a path":
        settings = replace(settings, control_dir=short_tmp / ("x" * transport.MAX_CONTROL_PATH))
    else:
        settings = replace(settings, control_dir=None)
    assert transport.control_path(settings, peer) is None
    assert transport.ssh_command(settings, peer).endswith("-o ControlPath=none")


def test_a_failed_rsync_closes_the_shared_connection_if_one_is_open(short_tmp, tmp_path, monkeypatch):
    settings, peer = sync_settings(short_tmp, ssh="/usr/bin/ssh"), Peer("10.77.0.11", "lim1")
    ran: list[list[str]] = []
    monkeypatch.setattr(transport, "run", lambda argv, **_: ran.append(argv))
    transport.end_shared(settings, peer)
    assert ran == []                                                           # no master: nothing to close
    shared = transport.control_path(settings, peer)
    Path(shared).write_text("")                                                # stands for the master's socket
    transport.end_shared(settings, peer)
    assert ran == [["/usr/bin/ssh", "-F", "/dev/null", "-o", f"ControlPath={shared}", "-O", "exit", "10.77.0.11"]]
    assert SyncSettings.for_paths(Paths(tmp_path)).control_dir == tmp_path / "run/mxone-sync-ssh"


def test_the_forced_command_reads_cluster_yaml_again_only_when_it_changed(tmp_path, monkeypatch):
    from mxone_maintenance.core import config
    paths = Paths(tmp_path)
    paths.cluster_file.parent.mkdir(parents=True)
    (tmp_path / "run").mkdir()
    paths.cluster_file.write_text(config.dump_cluster(CLUSTER))
    assert sync_serve.load_members(paths) == MEMBERS
    cache = paths.real(sync_serve.CACHE)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    loads: list[Path] = []
    real_load = config.load_cluster
    monkeypatch.setattr(config, "load_cluster", lambda path: loads.append(path) or real_load(path))
    assert sync_serve.load_members(paths) == MEMBERS and loads == []          # unchanged: from the cache
    smaller = Cluster("c1", CLUSTER.standby, CLUSTER.lims[:1])
    paths.cluster_file.write_text(config.dump_cluster(smaller))               # lim2 left the cluster
    assert sync_serve.load_members(paths) == Members.of(smaller) and len(loads) == 1
    with pytest.raises(Refused, match="10.77.0.112 is no member"):
        access_for(sync_serve.load_members(paths), connection("10.77.0.112", "10.77.0.20"))
    cache.chmod(0o644)                                                          # not ours alone: not trusted
    assert sync_serve.load_members(paths) == Members.of(smaller) and len(loads) == 2
    paths.cluster_file.unlink()
    with pytest.raises(Refused, match="no cluster configuration"):
        sync_serve.load_members(paths)
