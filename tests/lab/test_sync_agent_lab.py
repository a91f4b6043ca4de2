"""The agents sync exchange data on their own (the lab): after a data backup, on order, two copies kept,
the standby's newer data back to the regular before fallback (row 23), an interrupted sync, preloaded.

Every test starts from a fresh lab and creates cluster c1 with the utility (D = 3 s, heartbeat 0.5 s):
the utility installs the sync key, the cluster's host keys and the restricted authorized_keys line, so
nothing here sets sync up by hand. What is looked at is what a technician would look at: the folders
on the servers, `mxone-cluster-agent status --json` and where the client's call to a LIM's alias goes.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from labtools import Lab, lim_address

UTILITY = Path(sys.executable).with_name("mxone_maintenance")
AGENT = Path(sys.executable).with_name("mxone-cluster-agent")
SYNC_ALARM = "Standby cluster has failed to synchronize data"
T = TypeVar("T")

pytestmark = pytest.mark.lab


# ---------------------------------------------------------------- helpers

def utility(lab: Lab, *args: str) -> str:
    """Run the utility; its output (it must succeed)."""
    env = {**os.environ, **lab.env}
    result = subprocess.run([str(UTILITY), *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, f"mxone_maintenance {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def create(lab: Lab, *lims: int) -> None:
    """Cluster c1 with standby sb1, then wait until the standby's first sync of each LIM is done."""
    spec = [arg for n in lims for arg in ("--lim", f"{n}:10.77.0.{110 + n}")]
    utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", *spec, "--detect-s", "3",
            "--heartbeat-s", "0.5", "--yes")
    for n in lims:
        wait_for(f"first sync of LIM {n} on sb1", lambda n=n: (sync_entry(lab, "sb1", n) or {}).get("ok"), 15)


def wait_for(what: str, probe: Callable[[], T], timeout: float, interval: float = 0.1, lab: Lab | None = None) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what} (last seen: {value!r})"
                        + (f"\n{lab.agent_logs(25)}" if lab else ""))
        time.sleep(interval)


def agent_status(lab: Lab, host: str) -> dict:
    result = lab.exec(host, str(AGENT), "status", "--json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def sync_entry(lab: Lab, host: str, lim: int) -> dict | None:
    return next((e for e in agent_status(lab, host).get("sync", []) if e["lim"] == lim), None)


def active_alarms(lab: Lab, host: str) -> list[str]:
    return [a["text"] for a in agent_status(lab, host).get("alarms", []) if a["active"]]


def backup(lab: Lab, host: str = "lim1", lim: int = 1) -> str:
    return Path(lab.exec(host, "data_backup", "--lim", str(lim)).stdout.strip()).name


def copies(lab: Lab, lim: int = 1) -> list[str]:
    folder = lab.host_dir("sb1") / f"var/standby/lim{lim}"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def versions(lab: Lab, host: str, lim: int = 1) -> list[str]:
    folder = lab.host_dir(host) / "var/xdata"
    return sorted(p.name for p in folder.glob(f"xdata_{lim}_*"))


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def big_backup(lab: Lab, megabytes: int) -> str:
    """A version with a big file, put in place at once (built under a dot-name, like data_backup)."""
    xdata = lab.host_dir("lim1") / "var/xdata"
    stamp = max(time.strftime("%Y%m%d%H%M%S"), str(int(versions(lab, "lim1")[-1].rsplit("_", 1)[1]) + 1))
    building = xdata / f".building-{stamp}"
    building.mkdir()
    (building / "reload.dat").write_bytes(os.urandom(16 * 1024))
    (building / "big.dat").write_bytes(os.urandom(megabytes << 20))
    building.rename(xdata / f"xdata_1_{stamp}")
    return f"xdata_1_{stamp}"


@pytest.fixture
def lab2(lab_up) -> Lab:
    return lab_up(2).reset(2)


# ---------------------------------------------------------------- tests

def test_a_backup_reaches_the_standby_within_seconds_and_two_copies_are_kept(lab2):
    create(lab2, 1, 2)
    made = {1: [], 2: []}
    for _ in range(4):
        for n in (1, 2):
            made[n].append(backup(lab2, f"lim{n}", n))
        start = time.monotonic()
        for n in (1, 2):
            wait_for(f"{made[n][-1]} on sb1", lambda n=n: made[n][-1] in copies(lab2, n), 8, lab=lab2)
            assert len(copies(lab2, n)) <= 2, copies(lab2, n)
        assert time.monotonic() - start < 8
    for n in (1, 2):
        assert copies(lab2, n) == made[n][-2:]
        newest = made[n][-1]
        assert tree(lab2.host_dir("sb1") / f"var/standby/lim{n}" / newest) == \
            tree(lab2.host_dir(f"lim{n}") / "var/xdata" / newest)
    entry = sync_entry(lab2, "sb1", 1)
    assert entry["ok"] and entry["reason"] == "peer-backup" and entry["direction"] == "to-standby"
    assert entry["version"] == made[1][-1] and entry["age_s"] < 30 and entry["last"] <= time.time()
    assert not [a for a in active_alarms(lab2, "sb1") if SYNC_ALARM in a]


def test_cluster_sync_syncs_on_order(lab2):
    create(lab2, 1)
    version = backup(lab2)
    wait_for("the backup on sb1", lambda: version in copies(lab2), 8, lab=lab2)
    # A change that no trigger sees (same version name): only the order brings it over.
    changed = lab2.host_dir("lim1") / "var/xdata" / version / "reload.dat"
    changed.write_bytes(os.urandom(16 * 1024))
    os.utime(changed, (time.time() + 2, time.time() + 2))
    copy = lab2.host_dir("sb1") / "var/standby/lim1" / version / "reload.dat"
    time.sleep(2.5)
    assert copy.read_bytes() != changed.read_bytes()
    said = utility(lab2, "cluster", "sync", "--name", "c1", "--yes")
    assert "sb1: data sync ordered: LIM 1 with lim1" in said
    wait_for("the ordered sync", lambda: copy.read_bytes() == changed.read_bytes(), 8, lab=lab2)
    entry = wait_for("status after the order", lambda: (e := sync_entry(lab2, "sb1", 1)) and e["reason"] == "order"
                     and e, 5)
    assert entry["ok"] and entry["transferred"] and entry["version"] == version


def test_fallback_carries_the_standbys_newer_data_back(lab2):
    """Row 23 end to end: LIM 1 runs on sb1, a data backup is made there, lim1 returns: lim1 pulls that
    version before it runs LIM 1 again."""
    create(lab2, 1)
    backup(lab2)
    lab2.kill("lim1")
    wait_for("LIM 1 on sb1", lambda: lab2.ask_alias(lim_address(1), timeout=0.3) == "LIM 1 on sb1", 12, lab=lab2)
    time.sleep(1.0)                                    # a later second than lim1's backup: mtimes decide
    on_standby = backup(lab2, "sb1", 1)
    lab2.revive("lim1")
    wait_for("LIM 1 back on lim1", lambda: lab2.ask_alias(lim_address(1), timeout=0.3) == "LIM 1 on lim1", 30,
             lab=lab2)
    assert versions(lab2, "lim1")[-1] == on_standby
    assert tree(lab2.host_dir("lim1") / "var/xdata" / on_standby) == \
        tree(lab2.host_dir("sb1") / "var/xdata" / on_standby)
    entry = sync_entry(lab2, "lim1", 1)
    assert entry["peer"] == "sb1" and entry["ok"]


def test_an_interrupted_sync_keeps_the_previous_backup_and_raises_the_alarm_until_a_good_one(lab2):
    settings = lab2.host_dir("sb1") / "etc/agent.yaml"
    settings.write_text(settings.read_text() + "sync: {bwlimit_kbps: 8000}\n")
    lab2.restart_agent("sb1")
    create(lab2, 1)
    good = backup(lab2)
    wait_for("the first backup on sb1", lambda: good in copies(lab2), 8, lab=lab2)
    before = tree(lab2.host_dir("sb1") / "var/standby/lim1" / good)
    big = big_backup(lab2, 30)                          # about 4 s at 8 MB/s
    partial = lab2.host_dir("sb1") / "var/standby/lim1" / f".partial-{big}"
    wait_for("the transfer under way", lambda: partial.is_dir() and any(
        f.stat().st_size > 1 << 20 for f in partial.rglob("*") if f.is_file()), 8, interval=0.05, lab=lab2)
    lab2.cut("lim1")
    try:
        alarm = wait_for("the sync alarm on sb1", lambda: [a for a in active_alarms(lab2, "sb1") if SYNC_ALARM in a],
                         15, lab=lab2)
        assert "LIM 1 with lim1" in alarm[0]
        assert copies(lab2) == [good] and not partial.exists()
        assert tree(lab2.host_dir("sb1") / "var/standby/lim1" / good) == before
        assert sync_entry(lab2, "sb1", 1)["ok"] is False
    finally:
        lab2.heal("lim1")
    wait_for("the big version on sb1 after heal", lambda: big in copies(lab2), 30, lab=lab2)
    wait_for("the alarm cleared", lambda: not [a for a in active_alarms(lab2, "sb1") if SYNC_ALARM in a], 10,
             lab=lab2)
    assert copies(lab2) == [good, big] and sync_entry(lab2, "sb1", 1)["ok"]


def test_preloaded_passive_side_is_updated_and_reloaded(lab2):
    create(lab2, 1)
    utility(lab2, "cluster", "preload", "--name", "c1", "--yes")
    reloads = "/run/mxone-lab-sn-1.reloads"

    def passive_on_sb1() -> bool:
        peers = {p["name"]: p for p in agent_status(lab2, "lim1").get("peers", [])}
        return 1 in peers.get("sb1", {}).get("blocked", [])

    wait_for("LIM 1 passive on sb1", passive_on_sb1, 15, lab=lab2)
    version = backup(lab2)
    wait_for(f"{version} on sb1", lambda: version in copies(lab2), 8, lab=lab2)
    wait_for("the reload on sb1", lambda: lab2.exec("sb1", "cat", reloads, check=False).stdout.strip(), 5, lab=lab2)
    entry = sync_entry(lab2, "sb1", 1)
    assert entry["version"] == version and entry["reloaded"] is True
    assert lab2.ask_alias(lim_address(1), timeout=0.5) == "LIM 1 on lim1"      # the active side still serves
    assert lab2.exec("lim1", "cat", reloads, check=False).returncode != 0      # and was not reloaded


def sync_ssh(key: str, known_hosts: str, bind: str | None = None) -> str:
    """rsync's -e as a member would run it with the cluster's sync key."""
    words = ["ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlias=sb1",
             "-o", "ConnectTimeout=3"] + (["-b", bind] if bind else [])
    return " ".join(words)


def test_the_sync_key_serves_a_member_only_its_own_lim_and_nobody_else_anything(lab2, tmp_path):
    create(lab2, 1, 2)
    version = backup(lab2, "lim1", 1)
    wait_for(f"{version} on sb1", lambda: version in copies(lab2, 1), 8, lab=lab2)
    key, known = "/etc/opt/eri_sn/sync.key", "/etc/opt/eri_sn/cluster_known_hosts"
    # lim2, a member with the key, asks the standby for LIM 1's copy: the forced command refuses
    asked = lab2.exec("lim2", "rsync", "-e", sync_ssh(key, known, "10.77.0.112"), "-r", "--list-only",
                      f"root@10.77.0.20:standby/lim1/{version}/", check=False)
    assert asked.returncode != 0 and "reload.dat" not in asked.stdout, asked.stdout
    assert "not served" in asked.stderr or "refused" in asked.stderr, asked.stderr
    # its listing of everything shows nothing of LIM 1
    listing = lab2.exec("lim2", "rsync", "-e", sync_ssh(key, known, "10.77.0.112"), "-r", "--list-only",
                        "root@10.77.0.20:./", check=False)
    assert "xdata_1_" not in listing.stdout, listing.stdout
    # the client host holding a stolen copy of the key: from= keeps it out
    stolen = tmp_path / "sync.key"
    stolen.write_bytes((lab2.host_dir("sb1") / "etc/sync.key").read_bytes())
    stolen.chmod(0o600)
    hosts = tmp_path / "known_hosts"
    hosts.write_text((lab2.host_dir("sb1") / "etc/cluster_known_hosts").read_text())
    thief = lab2.exec("client", "rsync", "-e", sync_ssh(str(stolen), str(hosts)), "-r", "--list-only",
                      f"root@10.77.0.20:standby/lim1/{version}/", check=False)
    assert thief.returncode != 0 and "reload.dat" not in thief.stdout
    assert "Permission denied" in thief.stderr, thief.stderr
    # and lim1 itself, the LIM's own regular, may list its copy on the standby
    own = lab2.exec("lim1", "rsync", "-e", sync_ssh(key, known, "10.77.0.111"), "-r", "--list-only",
                    f"root@10.77.0.20:standby/lim1/{version}/", check=False)
    assert own.returncode == 0 and "reload.dat" in own.stdout, own.stderr
