"""xdata versions and the pure sync decisions (DESIGN §6): direction by mtimes, pruning the standby's
copies, and the sync key / known_hosts text the utility installs."""
from __future__ import annotations

import calendar
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxone_maintenance.agent.datasync.listing import parse_listing
from mxone_maintenance.agent.datasync.transport import Peer, SyncSettings, pull_argv, ssh_command
from mxone_maintenance.core.contracts import host_keys, sync_keys, xdata
from mxone_maintenance.core.contracts.xdata import Held, Version, sync_direction, unsynced, versions_to_prune
from mxone_maintenance.core.paths import Paths

mtimes = st.none() | st.integers(min_value=0, max_value=2**32)
skews = st.floats(min_value=-10, max_value=10, allow_nan=False)
stamps = st.integers(min_value=0, max_value=10**6).map(lambda n: f"2024{n:010d}")
versions = st.frozensets(stamps.map(lambda s: Version(1, s)), max_size=8)


# --- sync_direction --------------------------------------------------------------------------------------

@given(mtimes, mtimes, skews)
def test_direction_holds_on_skew_and_is_symmetric(regular, standby, skew):
    direction = sync_direction(regular, standby, skew)
    if abs(skew) > xdata.MAX_CLOCK_SKEW_S:
        assert direction == "hold"
        return
    mirrored = {"to-standby": "to-regular", "to-regular": "to-standby", "none": "none"}
    assert sync_direction(standby, regular, skew) == mirrored[direction]


@given(mtimes, mtimes, st.floats(min_value=-2, max_value=2))
def test_direction_sends_the_newer_data(regular, standby, skew):
    direction = sync_direction(regular, standby, skew)
    if regular == standby:
        assert direction == "none"
    elif standby is None or (regular is not None and regular > standby):
        assert direction == "to-standby"
    else:
        assert direction == "to-regular"


@given(st.integers(min_value=0, max_value=2**32), st.floats(min_value=-2, max_value=2))
def test_after_a_sync_nothing_more_goes(mtime, skew):
    # rsync -a keeps mtimes, so a copied version compares equal with its source
    assert sync_direction(mtime, mtime, skew) == "none"


@given(versions, versions, st.integers(min_value=0, max_value=10))
def test_equal_mtimes_are_told_apart_by_stamps(regular, standby, mtime):
    r, s = max(regular, default=None), max(standby, default=None)
    direction = sync_direction(mtime, mtime, 0, r, s)
    mirrored = {"to-standby": "to-regular", "to-regular": "to-standby", "none": "none"}
    assert sync_direction(mtime, mtime, 0, s, r) == mirrored[direction]
    assert (direction == "none") == (r is None or s is None or r == s)


def test_direction_examples():
    assert sync_direction(None, None, 0) == "none"
    assert sync_direction(100, None, 0) == "to-standby"
    assert sync_direction(None, 100, 0) == "to-regular"
    assert sync_direction(100, 200, 2.0) == "to-regular"
    assert sync_direction(100, 200, -2.5) == "hold"


# --- pruning ---------------------------------------------------------------------------------------------

@given(versions, versions, st.integers(min_value=0, max_value=4))
def test_prune_never_removes_the_only_copy_of_newer_data(here, there, keep):
    doomed = versions_to_prune(sorted(here), there, keep)
    assert set(doomed) <= here
    assert not set(doomed) & unsynced(here, there)
    kept = sorted(here - set(doomed))
    assert kept == sorted(here)[len(doomed):]          # always the oldest go
    assert len(kept) == max(min(keep, len(here)), len(unsynced(here, there)))


@given(versions, versions)
def test_standby_keeps_at_most_two_when_its_data_is_on_the_regular(here, there):
    # After a pull to the standby its newest version is on the regular too: nothing is unsynced.
    if here and max(here) not in there:
        there = there | {max(here)}
    doomed = versions_to_prune(sorted(here), there)
    assert len(here) - len(doomed) <= xdata.STANDBY_KEEP
    assert len(here) - len(doomed) == min(len(here), 2)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["backup", "sync", "standby-backup", "pull-back"]), max_size=40))
def test_a_history_of_backups_and_syncs(events):
    """Regular backups (MX-ONE keeps three), standby pulls with pruning, the standby running the LIM and
    the regular pulling back: the standby never holds more than two copies, and the newest data of the
    LIM always exists somewhere."""
    regular: set[Version] = set()
    copies: set[Version] = set()           # standby/lim1
    standby_own: set[Version] = set()      # sb1's xdata while it ran the LIM
    clock = 0
    nothing = Version(0, "")
    made: list[Version] = []
    for event in events:
        clock += 1
        new = Version(1, f"{20240000000000 + clock}")
        made += [new] if event.endswith("backup") else []
        if event == "backup":
            regular = set(sorted(regular | {new})[-3:])
        elif event == "standby-backup":
            standby_own = set(sorted(standby_own | {new})[-3:])
        elif event == "sync" and regular and max(regular) > max(copies | standby_own, default=nothing):
            copies.add(max(regular))
            copies -= set(versions_to_prune(sorted(copies), regular))
        elif event == "pull-back" and standby_own and max(standby_own) > max(regular, default=nothing):
            regular = set(sorted(regular | {max(standby_own)})[-3:])
        assert len(copies) <= 2
        if made:
            assert max(made) in regular | copies | standby_own


def test_prune_examples():
    a, b, c, d = (Version(1, f"2024010100000{n}") for n in range(4))
    assert versions_to_prune([a, b, c], [a, b, c]) == [a]
    assert versions_to_prune([a, b, c, d], [d]) == [a, b]
    # b, c, d only here and newer than the regular's newest (a): all three stay
    assert versions_to_prune([a, b, c, d], [a]) == [a]


# --- listing local folders ---------------------------------------------------------------------------------

def write_version(folder: Path, name: str, mtime: int) -> Path:
    path = folder / name
    path.mkdir(parents=True)
    for file in ("reload.dat", "sysdb.dat"):
        (path / file).write_bytes(b"x")
        os.utime(path / file, (mtime, mtime))
    os.utime(path / "sysdb.dat", (mtime - 50, mtime - 50))
    return path


def test_local_holdings_of_a_standby(tmp_path):
    paths = Paths(tmp_path)
    write_version(paths.standby_data_dir / "lim1", "xdata_1_20240101000000", 1000)
    write_version(paths.standby_data_dir / "lim1", "xdata_1_20240102000000", 2000)
    write_version(paths.xdata_dir, "xdata_1_20240103000000", 3000)      # it ran LIM 1 itself
    write_version(paths.xdata_dir, "xdata_2_20240104000000", 4000)      # another LIM: not LIM 1's
    (paths.standby_data_dir / "lim1/.partial-xdata_1_20240105000000").mkdir()
    (paths.standby_data_dir / "lim1/notes").mkdir()
    held = xdata.local_holdings(paths, "standby", 1)
    assert [(h.folder, h.version.stamp, h.mtime) for h in held] == [
        ("standby/lim1", "20240101000000", 1000), ("standby/lim1", "20240102000000", 2000),
        ("xdata", "20240103000000", 3000)]
    assert xdata.newest(held).relative_path == "xdata/xdata_1_20240103000000"
    assert [h.version.stamp for h in xdata.local_holdings(paths, "regular", 1)] == ["20240103000000"]


def test_reload_mtime_of_an_empty_version(tmp_path):
    folder = tmp_path / "xdata_1_20240101000000"
    folder.mkdir()
    os.utime(folder, (77, 77))
    assert xdata.reload_mtime(folder) == 77


# --- the peer's listing and the command lines ----------------------------------------------------------------

LISTING = """\
drwxr-xr-x          4,096 2024/01/01 00:00:00 .
drwxr-xr-x          4,096 2024/01/03 00:00:00 xdata
drwxr-xr-x          4,096 2024/01/02 00:00:00 xdata/xdata_1_20240102000000
-rw-r--r--         16,384 2024/01/02 00:00:05 xdata/xdata_1_20240102000000/reload.dat
-rw-r--r--          4,096 2024/01/02 00:00:01 xdata/xdata_1_20240102000000/sub dir/sysdb.dat
drwxr-xr-x          4,096 2024/01/03 00:00:00 xdata/xdata_1_20240103000000
drwxr-xr-x          4,096 2024/01/03 00:00:00 standby/lim1/xdata_1_20240101000000
-rw-r--r--          4,096 2024/01/01 00:00:09 standby/lim1/xdata_1_20240101000000/reload.dat
drwxr-xr-x          4,096 2024/01/03 00:00:00 xdata/xdata_12_20240103000000
"""


def test_parse_listing():
    held = parse_listing(LISTING, 1, ["standby/lim1", "xdata"])
    def utc(day: int, second: int) -> int:
        return calendar.timegm((2024, 1, day, 0, 0, second, 0, 0, 0))
    assert [(h.relative_path, h.mtime) for h in held] == [
        ("standby/lim1/xdata_1_20240101000000", utc(1, 9)),
        ("xdata/xdata_1_20240102000000", utc(2, 5)),
        ("xdata/xdata_1_20240103000000", utc(3, 0))]


def test_command_lines_quote_every_word(tmp_path):
    settings_ = SyncSettings(key=tmp_path / "my key", known_hosts=tmp_path / "hosts", bwlimit_kbps=100)
    e = ssh_command(settings_, Peer("10.0.0.1", "lim1"))
    assert f"'{tmp_path}/my key'" in e and "HostKeyAlias=lim1" in e and "StrictHostKeyChecking=yes" in e
    source = Held(Version(1, "20240101000000"), "xdata", 0)
    argv = pull_argv(settings_, Peer("10.0.0.1"), source, tmp_path / ".partial-x", [tmp_path / "old"])
    assert argv[-2:] == ["root@10.0.0.1:xdata/xdata_1_20240101000000/", f"{tmp_path}/.partial-x/"]
    assert f"--link-dest={tmp_path}/old" in argv and "--bwlimit=100" in argv


# --- sync_keys ---------------------------------------------------------------------------------------------

def test_keypair_and_restricted_line():
    private, public = sync_keys.make_sync_keypair()
    assert private.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    line = sync_keys.authorized_keys_line(public)
    assert line.startswith('command="/usr/bin/rrsync -ro /var/opt/eri_sn",restrict ssh-ed25519 AAAA')
    assert line.endswith(" mxone-sync")
    with pytest.raises(host_keys.KeyLineError):
        sync_keys.authorized_keys_line("ssh-ed25519 not-base64!")


@given(st.lists(st.sampled_from(["admin", "other", "# a comment", ""]), max_size=5))
def test_merge_is_idempotent_and_remove_undoes_it(others):
    keys = {name: sync_keys.make_sync_keypair(name)[1] for name in ("admin", "other")}
    existing = "".join(f"{keys.get(o, o)}\n" for o in others)
    line = sync_keys.authorized_keys_line(sync_keys.make_sync_keypair()[1])
    merged = sync_keys.merge_authorized_keys(existing, line)
    assert sync_keys.merge_authorized_keys(merged, line) == merged
    assert merged.splitlines().count(line) == 1
    assert sync_keys.remove_from_authorized_keys(merged) == existing


def test_merge_replaces_a_rotated_sync_key():
    old = sync_keys.authorized_keys_line(sync_keys.make_sync_keypair()[1])
    new = sync_keys.authorized_keys_line(sync_keys.make_sync_keypair()[1])
    admin = sync_keys.make_sync_keypair("admin")[1]
    merged = sync_keys.merge_authorized_keys(f"{admin}\n{old}\n", new)
    assert merged == f"{admin}\n{new}\n"


def test_cluster_known_hosts():
    key = sync_keys.make_sync_keypair("root@lim1")[1]
    text = host_keys.cluster_known_hosts([("lim1", "10.77.0.11/24", key), ("lim1", "10.77.0.11", key)])
    assert text == f"lim1,10.77.0.11 {' '.join(key.split()[:2])}\n"
    assert host_keys.parse_known_hosts(text) == [("lim1", "10.77.0.11", " ".join(key.split()[:2]))]
    with pytest.raises(host_keys.KeyLineError):
        host_keys.cluster_known_hosts([("lim 1", "10.77.0.11", key)])


def test_one_host_key_policy_for_both_sides(tmp_path):
    agent = host_keys.HostKeyPolicy.for_cluster(Paths(tmp_path))
    assert agent == host_keys.HostKeyPolicy(tmp_path / "etc/opt/eri_sn/cluster_known_hosts", accept_new=False)
    words = agent.openssh_options("lim1")
    assert " ".join(words) == (f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={agent.known_hosts} "
                               "-o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no -o HostKeyAlias=lim1")
    admin = host_keys.HostKeyPolicy.for_admin({"HOME": "/home/admin"}, accept_new=True)
    assert admin.known_hosts == Path("/home/admin/.ssh/known_hosts") and admin.accept_new
    assert "StrictHostKeyChecking=accept-new" in admin.openssh_options()
    assert host_keys.HostKeyPolicy.for_admin({"MXONE_KNOWN_HOSTS": "/k"}).known_hosts == Path("/k")
    assert admin.lookup_names("lim1", "10.0.0.1", 2222) == ("lim1", "[10.0.0.1]:2222")
    assert host_keys.known_hosts_line(["lim1", "10.0.0.1", "lim1"], "ssh-ed25519", "AAAA") == \
        "lim1,10.0.0.1 ssh-ed25519 AAAA"


def test_the_agent_ssh_command_takes_the_policy(tmp_path):
    words = ssh_command(SyncSettings(key=tmp_path / "k", known_hosts=tmp_path / "h"), Peer("10.0.0.1", "lim1"))
    assert " ".join(host_keys.HostKeyPolicy(tmp_path / "h").openssh_options("lim1")) in words


# --- ClusterSync: which peer and role each node syncs with ---------------------------------------------------

def test_cluster_sync_picks_peers_by_role(monkeypatch, tmp_path):
    from ipaddress import IPv4Interface as I

    from mxone_maintenance.agent.datasync import peers as sync_module
    from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef

    config = Cluster("c1", StandbyRef("sb1", I("10.0.0.20/24")),
                     (ClusterLim(1, "lim1", I("10.0.0.111/24"), I("10.0.0.11/24")),
                      ClusterLim(2, "lim2", I("10.0.0.112/24"), I("10.0.0.12/24"))))
    calls = []

    def fake(paths, role, lim, peer, settings, skew, dry_run=False):
        calls.append((role, lim, peer, skew, dry_run))
        return sync_module.SyncResult(True, lim, "to-regular" if dry_run else "none", "xdata_1_20240101000000")

    monkeypatch.setattr(sync_module, "sync_lim", fake)
    standby = sync_module.ClusterSync(Paths(tmp_path), config, "sb1", clock_skew=lambda peer: 0.5)
    standby.sync_now()
    assert calls == [("standby", 1, Peer("10.0.0.111", "lim1"), 0.5, False),
                     ("standby", 2, Peer("10.0.0.112", "lim2"), 0.5, False)]
    with pytest.raises(sync_module.NotYetSynced):
        standby.push(1, "lim1")
    calls.clear()
    sync_module.ClusterSync(Paths(tmp_path), config, "lim2").sync_now()
    assert calls == [("regular", 2, Peer("10.0.0.20", "sb1"), 0.0, False)]
