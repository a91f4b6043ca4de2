"""Issue 15, findings 8 and 9, end to end without SSH: real rsync between temp trees, the "remote" run by
a fake ssh that plays sshd's part (SSH_ORIGINAL_COMMAND, SSH_CONNECTION, the forced command).

  * a compromised standby (any rsync sender, any tree) never plants set-id files, device or special
    files, symlinks out of the version, nor future-stamped versions on a regular, never has the regular's
    own newest version pruned or replaced, and gets nothing at all before it was seen running the LIM;
  * the key line's forced command (agent/sync_serve.py) serves each member what it needs only.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from mxone_maintenance.agent.datasync import ClusterSync, SyncSettings, records, regular_is_current
from mxone_maintenance.agent.datasync.lim_sync import sync_lim
from mxone_maintenance.agent.datasync.transport import Peer
from mxone_maintenance.core import config as files
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.core.paths import Paths

pytestmark = pytest.mark.skipif(shutil.which("rsync") is None or not Path("/usr/bin/rsync").exists(),
                                reason="needs rsync")

CLUSTER = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")),
                  (ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), IPv4Interface("10.77.0.11/24")),
                   ClusterLim(2, "lim2", IPv4Interface("10.77.0.112/24"), IPv4Interface("10.77.0.12/24"))))
ADDRESS = {"lim1": "10.77.0.111", "lim2": "10.77.0.112", "sb1": "10.77.0.20"}
OLD, OWN, NOW_STAMP = "20240101000000", "20240102000000", time.strftime("%Y%m%d%H%M%S")
FUTURE = ["29990101000000", "29990101000001", "29990101000002"]

FAKE_SSH = r'''#!{python}
"""ssh as rsync runs it, played locally: sshd's environment, then the host's forced command."""
import json, os, sys
args, bind, i = sys.argv[1:], None, 0
while args[i].startswith("-"):
    if args[i] == "-o" and args[i + 1].startswith("BindAddress="):
        bind = args[i + 1].split("=", 1)[1]
    i += 2 if args[i] in ("-F", "-i", "-o", "-p", "-l") else 1
host, command = args[i].split("@")[-1], " ".join(args[i + 1:])
mode, root = json.loads(os.environ["FAKE_HOSTS"])[host]
os.environ.update(SSH_ORIGINAL_COMMAND=command, SSH_CONNECTION=f"{{bind or '10.9.9.9'}} 50000 {{host}} 22")
var = os.path.join(root, "var/opt/eri_sn")
if mode == "serve":            # the key line with members: our own forced command
    os.execv(sys.executable, [sys.executable, "-I", "-m", "mxone_maintenance.agent.sync_serve", "--root", root])
if mode == "rrsync":           # the earlier key line
    os.execv("/usr/bin/rrsync", ["rrsync", "-ro", var])
os.chdir(var)                  # "evil": a compromised peer runs whatever sender it likes: it sends
command = command.replace(" --safe-links", "")      # every symlink, whatever the client asked
if mode == "evil-D" and "--list-only" not in command:  # and devices too
    command = command.replace("--sender -", "--sender -D", 1)
os.execv("/bin/sh", ["sh", "-c", command])
'''


@pytest.fixture
def net(tmp_path, monkeypatch):
    """hosts[name] = Paths; net.serve(name, mode) says how that host answers the sync key."""
    ssh = tmp_path / "fake-ssh"
    ssh.write_text(FAKE_SSH.format(python=sys.executable))
    ssh.chmod(0o755)

    class Net:
        hosts = {name: Paths(tmp_path / name) for name in ADDRESS}
        table: dict = {}

        def serve(self, name: str, mode: str) -> None:
            self.table[ADDRESS[name]] = [mode, str(self.hosts[name].root)]
            monkeypatch.setenv("FAKE_HOSTS", json.dumps(self.table))

        def settings(self, name: str, max_run_s: float = 60.0) -> SyncSettings:
            return SyncSettings(key=tmp_path / "key", known_hosts=tmp_path / "known", ssh=str(ssh),
                                io_timeout_s=5, bind_address=ADDRESS[name], max_run_s=max_run_s)

        def sync(self, name: str, max_run_s: float = 60.0) -> ClusterSync:
            return ClusterSync(self.hosts[name], CLUSTER, name, self.settings(name, max_run_s))

    net = Net()
    for paths in net.hosts.values():
        files.write_atomic(paths.cluster_file, files.dump_cluster(CLUSTER))
    return net


def version(paths: Paths, folder: str, lim: int, stamp: str, mtime: float, content: bytes = b"data") -> Path:
    path = paths.root / "var/opt/eri_sn" / folder / f"xdata_{lim}_{stamp}"
    path.mkdir(parents=True)
    (path / "reload.dat").write_bytes(content)
    os.utime(path / "reload.dat", (mtime, mtime))
    return path


def names(paths: Paths, folder: str = "xdata") -> list[str]:
    base = paths.root / "var/opt/eri_sn" / folder
    return sorted(p.name for p in base.iterdir() if not p.name.startswith(".")) if base.is_dir() else []


def plant_evil(folder: Path) -> bool:
    """Set-id file, symlinks out, a fifo and (as root) a device node; True if the device is there."""
    (folder / "suid").write_bytes(b"#!/bin/sh\n")
    (folder / "suid").chmod(0o6755)
    (folder / "shadow").symlink_to("/etc/shadow")
    (folder / "up").symlink_to("../../../../etc")
    (folder / "inside").symlink_to("reload.dat")
    os.mkfifo(folder / "fifo")
    try:
        os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        return False
    return True


def see_standby_run(net, lim: int = 1) -> None:
    records.note_standby_ran(net.hosts["lim1"], lim, time.time())


# --- finding 8: a compromised standby ----------------------------------------------------------------------

def test_a_lying_standby_gets_nothing_onto_a_regular_that_never_saw_it_run_the_lim(net):
    net.serve("sb1", "evil")
    lim1, sb1 = net.hosts["lim1"], net.hosts["sb1"]
    version(lim1, "xdata", 1, OWN, time.time() - 3600)
    for stamp in [*FUTURE, NOW_STAMP]:
        version(sb1, "xdata", 1, stamp, time.time())
    result = net.sync("lim1").sync_lim(1)
    assert not result.ok and not result.transferred and result.direction == "to-regular"
    assert "sb1 has never been seen running LIM 1" in result.error
    assert names(lim1) == [f"xdata_1_{OWN}"]


def test_a_lying_standby_that_ran_the_lim_still_plants_nothing_and_prunes_nothing(net):
    net.serve("sb1", "evil")
    lim1, sb1 = net.hosts["lim1"], net.hosts["sb1"]
    for stamp in (OLD, OWN):
        version(lim1, "xdata", 1, stamp, time.time() - 7200)
    for stamp in FUTURE:
        version(sb1, "xdata", 1, stamp, time.time() - 60)
    evil = version(sb1, "standby/lim1", 1, NOW_STAMP, time.time())
    device = plant_evil(evil)
    see_standby_run(net)
    result = net.sync("lim1").sync_lim(1)
    assert not result.ok and "refused 3 versions on sb1 stamped more than 24 h ahead" in result.error
    assert result.transferred and result.version == f"xdata_1_{NOW_STAMP}"      # the one real-looking one
    assert names(lim1) == [f"xdata_1_{OLD}", f"xdata_1_{OWN}", f"xdata_1_{NOW_STAMP}"]
    pulled = lim1.root / f"var/opt/eri_sn/xdata/xdata_1_{NOW_STAMP}"
    kept = {p.name: os.lstat(p) for p in pulled.iterdir()}
    assert set(kept) == {"reload.dat", "suid", "inside"}, kept                 # no fifo, device, links out
    assert not any(s.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX) for s in kept.values())
    assert os.readlink(pulled / "inside") == "reload.dat"
    assert not device or not (pulled / "null").exists()
    assert records.pulled_versions(lim1, 1) == {records.xdata.Version(1, NOW_STAMP)}


def test_pulls_never_prune_the_regulars_own_newest_version(net):
    net.serve("sb1", "evil")
    lim1, sb1 = net.hosts["lim1"], net.hosts["sb1"]
    for n, stamp in enumerate(("20240101000000", "20240102000000", "20240103000000")):
        version(lim1, "xdata", 1, stamp, time.time() - 7200 + n)
    see_standby_run(net)
    for n in range(4):                  # the standby offers one newer version after the other
        version(sb1, "xdata", 1, f"2025010100000{n}", time.time() - 60 + n)
        assert net.sync("lim1").sync_lim(1).ok
    assert names(lim1) == ["xdata_1_20240103000000", "xdata_1_20250101000001", "xdata_1_20250101000002",
                           "xdata_1_20250101000003"]


def test_a_pull_never_replaces_the_regulars_own_version_of_the_same_name(net):
    net.serve("sb1", "evil")
    lim1, sb1 = net.hosts["lim1"], net.hosts["sb1"]
    own = version(lim1, "xdata", 1, OWN, time.time() - 3600, b"ours")
    version(sb1, "standby/lim1", 1, OWN, time.time(), b"theirs")
    see_standby_run(net)
    result = net.sync("lim1").sync_lim(1)
    assert not result.ok and "would replace this server's own version" in result.error
    assert (own / "reload.dat").read_bytes() == b"ours"


def test_row_23_the_standby_ran_the_lim_and_its_newer_backup_comes_back(net):
    net.serve("sb1", "serve")
    lim1, sb1 = net.hosts["lim1"], net.hosts["sb1"]
    version(lim1, "xdata", 1, OWN, time.time() - 3600)
    version(sb1, "standby/lim1", 1, OWN, time.time() - 3600)
    made = version(sb1, "xdata", 1, NOW_STAMP, time.time(), b"made on sb1")
    net.serve("lim1", "serve")
    check = regular_is_current(sb1, 1, Peer(ADDRESS["lim1"], "lim1"), net.settings("sb1"))
    assert not check.ok and "has not yet pulled" in check.error          # sb1 keeps LIM 1 for now
    see_standby_run(net)
    result = net.sync("lim1").sync_lim(1)
    assert result.ok and result.transferred and result.version == made.name, result
    assert (lim1.root / f"var/opt/eri_sn/xdata/{made.name}/reload.dat").read_bytes() == b"made on sb1"
    assert regular_is_current(sb1, 1, Peer(ADDRESS["lim1"], "lim1"), net.settings("sb1")).ok


def test_a_stale_sighting_is_not_enough(net):
    net.serve("sb1", "serve")
    version(net.hosts["sb1"], "xdata", 1, NOW_STAMP, time.time())
    records.note_standby_ran(net.hosts["lim1"], 1, time.time() - records.RAN_GRACE_S - 60)
    result = net.sync("lim1").sync_lim(1)
    assert not result.ok and "was last seen running LIM 1 11 min ago" in result.error


def test_a_sender_that_sends_devices_unasked_gets_nothing_in_and_is_cut(net):
    """The two rsyncs no longer agree on the file list: they may go on talking (keep-alives satisfy
    --timeout) without end; SyncSettings.max_run_s ends it."""
    net.serve("sb1", "evil-D")
    lim1, sb1 = net.hosts["lim1"], net.hosts["sb1"]
    version(lim1, "xdata", 1, OWN, time.time() - 3600)
    if not plant_evil(version(sb1, "xdata", 1, NOW_STAMP, time.time())):
        pytest.skip("mknod not permitted here")
    see_standby_run(net)
    result = net.sync("lim1", max_run_s=6.0).sync_lim(1)
    assert not any(stat.S_ISCHR(os.lstat(p).st_mode) or stat.S_ISFIFO(os.lstat(p).st_mode)
                   for p in (lim1.root / "var").rglob("*")), result
    assert result.ok or "pull xdata_1_" in result.error
    assert names(lim1)[0] == f"xdata_1_{OWN}" and not list((lim1.root / "var").rglob(".partial-*"))


def test_a_malicious_regular_plants_nothing_on_the_standby_either(net):
    net.serve("lim1", "evil")
    evil = version(net.hosts["lim1"], "xdata", 1, NOW_STAMP, time.time())
    plant_evil(evil)
    result = sync_lim(net.hosts["sb1"], "standby", 1, Peer(ADDRESS["lim1"], "lim1"), net.settings("sb1"))
    assert result.ok and result.transferred
    copy = net.hosts["sb1"].root / f"var/opt/eri_sn/standby/lim1/{evil.name}"
    assert sorted(p.name for p in copy.iterdir()) == ["inside", "reload.dat", "suid"]
    assert not (copy / "suid").stat().st_mode & (stat.S_ISUID | stat.S_ISGID)


# --- finding 9: what the forced command serves --------------------------------------------------------------

def test_the_forced_command_serves_each_side_what_it_needs(net):
    net.serve("sb1", "serve")
    net.serve("lim1", "serve")
    sb1 = net.hosts["sb1"]
    version(net.hosts["lim1"], "xdata", 1, OWN, time.time() - 60)
    result = sync_lim(sb1, "standby", 1, Peer(ADDRESS["lim1"], "lim1"), net.settings("sb1"))
    assert result.ok and result.transferred and names(sb1, "standby/lim1") == [f"xdata_1_{OWN}"]
    version(sb1, "standby/lim2", 2, OLD, time.time(), b"lim2's copy")
    version(sb1, "xdata", 2, NOW_STAMP, time.time(), b"lim2 ran here")
    version(sb1, "xdata", 1, NOW_STAMP, time.time(), b"lim1 ran here")
    got = grab(net, "lim1", "sb1", "./", "--include=*")                     # everything it can get
    assert got == {f"standby/lim1/xdata_1_{OWN}/reload.dat", f"xdata/xdata_1_{NOW_STAMP}/reload.dat"}
    assert grab(net, "lim1", "sb1", f"standby/lim2/xdata_2_{OLD}/") == "refused"
    assert grab(net, "lim2", "lim1", "./") == "refused"                     # a regular reads no regular
    assert grab(net, "sb1", "lim1", f"xdata/xdata_1_{OWN}/") == {"reload.dat"}


def grab(net, client: str, server: str, source: str, *options: str) -> set[str] | str:
    """What `client` gets of `server` with its sync key: the files, or "refused"."""
    target = net.hosts[client].root / "grab"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    settings = net.settings(client)
    from mxone_maintenance.agent.datasync.transport import ssh_command
    argv = ["rsync", "-e", ssh_command(settings, Peer(ADDRESS[server], server)), "-r", *options,
            f"root@{ADDRESS[server]}:{source}", f"{target}/"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        assert "mxone-sync: refused" in done.stderr, done.stderr
        return "refused"
    return {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}


def test_the_earlier_rrsync_line_still_serves_the_agents_requests(net):
    if not Path("/usr/bin/rrsync").exists():
        pytest.skip("needs rrsync")
    net.serve("lim1", "rrsync")
    version(net.hosts["lim1"], "xdata", 1, OWN, time.time() - 60)
    result = sync_lim(net.hosts["sb1"], "standby", 1, Peer(ADDRESS["lim1"], "lim1"), net.settings("sb1"))
    assert result.ok and result.transferred, result
