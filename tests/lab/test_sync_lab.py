"""Data sync on real servers (the lab): keys installed by hand the way the utility will, then the sync
module run inside the hosts. DESIGN §6 and SCENARIOS row 23."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mxone_maintenance.core.contracts import sync_keys

PYTHON = sys.executable           # the venv running the tests; the lab hosts share its files
KEY = "/etc/opt/eri_sn/sync.key"
KNOWN_HOSTS = "/etc/opt/eri_sn/cluster_known_hosts"
SSH = ["ssh", "-F", "/dev/null", "-i", KEY, "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "BatchMode=yes",
       "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=3"]
LIM1, SB1 = "10.77.0.11", "10.77.0.20"


def install_sync_keys(lab) -> None:
    """What the utility does at cluster creation: key 0600, restricted line, cluster known_hosts."""
    private, public = sync_keys.make_sync_keypair()
    entries = sync_keys.parse_known_hosts(Path(lab.env["MXONE_KNOWN_HOSTS"]).read_text())
    known_hosts = sync_keys.cluster_known_hosts(entries)
    line = sync_keys.authorized_keys_line(public)
    for host in lab.servers:
        base = lab.host_dir(host)
        key = base / "etc/sync.key"
        key.write_bytes(private)
        key.chmod(0o600)
        (base / "etc/cluster_known_hosts").write_text(known_hosts)
        authorized = base / "ssh/authorized_keys"
        authorized.write_text(sync_keys.merge_authorized_keys(authorized.read_text(), line))
        authorized.chmod(0o600)


@pytest.fixture(scope="module")
def sync_lab(lab_up):
    lab = lab_up(2).reset(2)
    install_sync_keys(lab)
    yield lab
    for host in lab.servers:    # leave no big data behind for the next test module
        clear_data(lab, host)


@pytest.fixture
def lab(sync_lab):
    for host in sync_lab.servers:
        clear_data(sync_lab, host)
    return sync_lab


def clear_data(lab, host: str) -> None:
    var = lab.host_dir(host) / "var"
    shutil.rmtree(var / "standby", ignore_errors=True)
    for entry in (var / "xdata").iterdir() if (var / "xdata").is_dir() else []:
        shutil.rmtree(entry)


def sync(lab, host: str, *args: str, timeout: float = 30) -> dict:
    result = lab.exec(host, PYTHON, "-m", "mxone_maintenance.agent.datasync.cli", "pull", "--json", *args,
                      check=False, timeout=timeout)
    assert result.stdout.strip(), result.stderr
    outcome = json.loads(result.stdout)
    assert (result.returncode == 0) == outcome["ok"], result.stderr
    return outcome


def standby_pull(lab, *extra: str, timeout: float = 30) -> dict:
    return sync(lab, "sb1", "--lim", "1", "--from", LIM1, "--name", "lim1", "--as", "standby", *extra,
                timeout=timeout)


def backup(lab, host: str = "lim1", lim: int = 1) -> str:
    return Path(lab.exec(host, "data_backup", "--lim", str(lim)).stdout.strip()).name


def tree(folder: Path) -> dict[str, str]:
    """Relative file names and their content hashes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def copies(lab) -> list[str]:
    folder = lab.host_dir("sb1") / "var/standby/lim1"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_backup_on_the_regular_is_pulled_by_the_standby(lab):
    version = backup(lab)
    result = standby_pull(lab)
    assert result["ok"] and result["direction"] == "to-standby" and result["version"] == version
    assert result["bytes"] > 16 * 1024
    copy = lab.host_dir("sb1") / "var/standby/lim1" / version
    assert tree(copy) == tree(lab.host_dir("lim1") / "var/xdata" / version)
    assert standby_pull(lab)["direction"] == "none"      # mtimes kept: nothing goes twice


def test_the_standby_keeps_two_backups_of_a_regular(lab):
    made = []
    for _ in range(3):
        made.append(backup(lab))
        assert standby_pull(lab)["ok"]
    assert copies(lab) == made[-2:]


def rsync_pids(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline and cmdline[0].endswith(b"rsync") and any(marker.encode() in a for a in cmdline):
                found.append(int(entry))
    return found


def big_backup(lab, megabytes: int = 50) -> str:
    version = backup(lab)
    (lab.host_dir("lim1") / "var/xdata" / version / "big.dat").write_bytes(os.urandom(megabytes << 20))
    return version


def start_pull(lab, outcome: list, *extra: str) -> threading.Thread:
    thread = threading.Thread(target=lambda: outcome.append(standby_pull(lab, *extra, timeout=40)))
    thread.start()
    return thread


def wait_for_partial(lab, version: str, timeout: float = 10) -> Path:
    partial = lab.host_dir("sb1") / "var/standby/lim1" / f".partial-{version}"
    deadline = time.monotonic() + timeout
    while not (partial.is_dir() and any(f.stat().st_size > 1 << 20 for f in partial.rglob("*") if f.is_file())):
        assert time.monotonic() < deadline, "the transfer never started"
        time.sleep(0.05)
    return partial


@pytest.mark.parametrize("interruption", ["kill rsync", "cut the regular off"])
def test_an_interrupted_transfer_keeps_the_previous_backup(lab, interruption):
    good = backup(lab)
    assert standby_pull(lab)["ok"]
    before = tree(lab.host_dir("sb1") / "var/standby/lim1" / good)
    version = big_backup(lab)
    outcome: list = []
    thread = start_pull(lab, outcome, "--bwlimit", "10000", "--io-timeout", "3")   # 50 MB at 10 MB/s
    partial = wait_for_partial(lab, version)
    try:
        if interruption == "kill rsync":
            for pid in rsync_pids(partial.name):
                os.kill(pid, 9)
        else:
            lab.cut("lim1")
        thread.join(timeout=30)
    finally:
        if interruption != "kill rsync":
            lab.heal("lim1")
    assert not thread.is_alive()
    assert not outcome[0]["ok"] and outcome[0]["error"], outcome
    assert copies(lab) == [good]                          # no partial folder, no half version in place
    assert tree(lab.host_dir("sb1") / "var/standby/lim1" / good) == before
    assert standby_pull(lab)["version"] == version        # and the next run completes it
    assert copies(lab) == [good, version]


def test_the_sync_key_cannot_run_commands_or_write(lab):
    shell = lab.exec("sb1", *SSH, f"root@{LIM1}", "id", check=False)
    assert shell.returncode != 0 and "uid=" not in shell.stdout
    marker = lab.host_dir("sb1") / "var/planted.txt"
    marker.write_text("not for lim1\n")
    push = lab.exec("sb1", "rsync", "-e", " ".join(SSH), "/var/opt/eri_sn/planted.txt", f"root@{LIM1}:xdata/",
                    check=False)
    marker.unlink()
    assert push.returncode != 0
    assert not (lab.host_dir("lim1") / "var/xdata/planted.txt").exists()
    forwarding = lab.exec("sb1", *SSH, "-W", "127.0.0.1:22", f"root@{LIM1}", check=False, input="", timeout=10)
    assert forwarding.returncode != 0 and "prohibited" in forwarding.stderr


def test_an_unknown_host_key_is_refused(lab):
    # sb1 asked for "lim2"'s key while connecting to lim1: the pinned key does not match
    result = sync(lab, "sb1", "--lim", "1", "--from", LIM1, "--name", "lim2", "--as", "standby")
    assert not result["ok"] and "cannot list" in result["error"]


def test_the_regular_pulls_back_newer_data_of_the_standby(lab):
    """Row 23: LIM 1 ran on sb1 and a data backup was made there; lim1 gets it before it runs LIM 1."""
    backup(lab)
    assert standby_pull(lab)["ok"]
    time.sleep(1.0)                                       # a later second: mtimes decide
    on_standby = backup(lab, "sb1", lim=1)
    check = standby_pull(lab, "--dry-run")
    assert check["direction"] == "to-regular" and check["version"] == on_standby
    assert "has not yet pulled" in regular_is_current(lab)          # the standby must not hand LIM 1 back
    result = sync(lab, "lim1", "--lim", "1", "--from", SB1, "--name", "sb1", "--as", "regular")
    assert result["ok"] and result["direction"] == "to-regular" and result["version"] == on_standby
    pulled = lab.host_dir("lim1") / "var/xdata" / on_standby
    assert tree(pulled) == tree(lab.host_dir("sb1") / "var/xdata" / on_standby)
    assert standby_pull(lab, "--dry-run")["direction"] == "none"
    assert regular_is_current(lab) == "current"


def regular_is_current(lab) -> str:
    """The daemon's check on the standby before fallback (ClusterSync.push), run inside sb1."""
    code = ("from mxone_maintenance.agent.datasync import Peer, regular_is_current as check; "
            "from mxone_maintenance.core.paths import Paths; "
            "r = check(Paths(), 1, Peer('10.77.0.11', 'lim1')); print('current' if r.ok else r.error)")
    return lab.exec("sb1", PYTHON, "-c", code).stdout.strip()


def test_clocks_too_far_apart_hold_the_sync(lab):
    backup(lab)
    result = standby_pull(lab, "--clock-skew", "3")
    assert not result["ok"] and result["direction"] == "hold" and copies(lab) == []


def test_the_admin_key_is_untouched(lab):
    result = subprocess.run(lab.ssh_command(LIM1, "true"), capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
