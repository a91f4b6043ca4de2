"""A server dies for good and comes back as new hardware (`lab replace`: a fresh host key, no cluster
files, no data, only its own network file), and the technician runs `server replace`. Seen as the
technician and the client see it: the refusals that change nothing, the LIM back on its regular with
the data the standby made while it ran the LIM, and a new standby that holds two backups again."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cluster_lab import served_by, utility
from helpers.waiting import wait_for

from mxone_maintenance.core.paths import Paths

DETECT_S = 1
AGENT = Path(sys.executable).with_name("mxone-cluster-agent")
OUT_OF_ORDER = "Standby server is out of order"


@pytest.fixture
def lab1(lab_up):
    lab = lab_up(1).reset(1)
    made = utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "automatic",
                   "--detect-s", str(DETECT_S), "--heartbeat-s", "0.2", "--lim", "1:10.77.0.111", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    wait_for("LIM 1 on lim1", lambda: served_by(lab, 1) == "lim1", 10, lab=lab)
    return lab


def backup(lab, host: str) -> str:
    return Path(lab.exec(host, "data_backup", "--lim", "1").stdout.strip()).name


def versions(lab, host: str, folder: str = "var/xdata") -> list[str]:
    where = lab.host_dir(host) / folder
    return sorted(p.name for p in where.iterdir() if p.name.startswith("xdata_1_")) if where.is_dir() else []


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def console_fingerprint(lab, host: str) -> str:
    """What `ssh-keygen -lf` shows on the new server's console."""
    shown = subprocess.run(["ssh-keygen", "-lf", str(lab.dir / f"keys/{host}_ed25519.pub")],
                           capture_output=True, text=True, check=True).stdout
    return shown.split()[1]


def known_hosts(lab) -> str:
    return Path(lab.env["MXONE_KNOWN_HOSTS"]).read_text()


def test_a_dead_regular_rebuilt_gets_its_lim_back_with_the_standbys_data(lab1):
    backup(lab1, "lim1")
    wait_for("lim1's backup on sb1", lambda: versions(lab1, "sb1", "var/standby/lim1"), 8, lab=lab1)
    lab1.kill("lim1")
    wait_for("LIM 1 on sb1", lambda: served_by(lab1, 1) == "sb1", DETECT_S + 6, lab=lab1)
    time.sleep(1.0)                                  # a later second than lim1's backup
    made_on_standby = backup(lab1, "sb1")            # the standby ran LIM 1: this is the newest data
    (lab1.host_dir("sb1") / "var/xdata" / made_on_standby / "big.dat").write_bytes(os.urandom(6 << 20))
    settings = lab1.host_dir("lim1") / "etc/agent.yaml"       # the new lim1's agent pulls slowly
    settings.write_text(settings.read_text() + "sync: {bwlimit_kbps: 2000}\n")

    lab1.replace("lim1")                             # new hardware, set up as the old one was: at the base
    assert lab1.addresses("lim1") == ["10.77.0.111/24"] and versions(lab1, "lim1") == []
    pinned = known_hosts(lab1)

    wrong = utility(lab1, "server", "replace", "--name", "lim1", "--host-key", "SHA256:" + "A" * 43, "--yes")
    assert wrong.returncode == 1
    assert "error: lim1 presents ssh-ed25519 SHA256:" in wrong.stderr and "nothing was changed" in wrong.stderr
    no_terminal = utility(lab1, "server", "replace", "--name", "lim1", "--yes")
    assert no_terminal.returncode == 1 and "give it with --host-key" in no_terminal.stderr
    assert known_hosts(lab1) == pinned and not (lab1.host_dir("lim1") / "etc/cluster.yaml").exists()
    assert served_by(lab1, 1) == "sb1"

    fingerprint = console_fingerprint(lab1, "lim1")
    started = time.monotonic()
    done = utility(lab1, "server", "replace", "--name", "lim1", "--host-key", fingerprint, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"lim1 at 10.77.0.111 presents host key ssh-ed25519 {fingerprint}" in done.stdout
    assert "Done: replace lim1 (LIM 1 of cluster c1, generation 1)" in done.stdout
    new_key = (lab1.dir / "keys/lim1_ed25519.pub").read_text().split()[1]
    assert f"lim1,10.77.0.111 ssh-ed25519 {new_key}" in known_hosts(lab1).splitlines()
    assert [line for line in known_hosts(lab1).splitlines() if "lim1" in line] == \
        [f"lim1,10.77.0.111 ssh-ed25519 {new_key}"], "the old key is pinned no more"

    def pulling() -> str | None:
        status = utility(lab1, "cluster", "status").stdout
        line = next((line.strip() for line in status.splitlines() if "LIM 1 to lim1: running: pulling" in line), None)
        return line if line and served_by(lab1, 1) == "sb1" else None
    shown = wait_for("the pull in cluster status while sb1 still serves LIM 1", pulling, 15, interval=0.2, lab=lab1)
    assert shown.startswith(f"LIM 1 to lim1: running: pulling {made_on_standby} from sb1, ") and "MB so far" in shown
    wait_for("LIM 1 back on lim1", lambda: served_by(lab1, 1) == "lim1", 30, lab=lab1)
    back_s = time.monotonic() - started
    assert made_on_standby in versions(lab1, "lim1"), "the standby's newest data came back first"
    assert tree(lab1.host_dir("lim1") / "var/xdata" / made_on_standby) == \
        tree(lab1.host_dir("sb1") / "var/xdata" / made_on_standby)
    assert lab1.addresses("lim1") == ["10.77.0.111/24", "10.77.0.11/24"]
    print(f"server replace to LIM 1 back on lim1: {back_s:.2f} s")
    audit = Paths.from_env(lab1.env["MXONE_ROOT"]).audit_log.read_text().splitlines()[-1]
    assert "action='server replace'" in audit and fingerprint in audit and "result=ok" in audit


def active_alarms(lab, host: str) -> list[str]:
    shown = lab.exec(host, str(AGENT), "status", "--json", check=False)
    return [a["text"] for a in json.loads(shown.stdout).get("alarms", []) if a["active"]] if shown.stdout else []


def test_a_rebuilt_standby_holds_two_backups_of_the_regular_again(lab1):
    made = []
    for _ in range(2):
        made.append(backup(lab1, "lim1"))
        (lab1.host_dir("lim1") / "var/xdata" / made[-1] / "big.dat").write_bytes(os.urandom(3 << 20))
        time.sleep(1.0)
    wait_for("two backups on sb1", lambda: versions(lab1, "sb1", "var/standby/lim1") == made, 10, lab=lab1)
    lab1.kill("sb1")
    wait_for("lim1 sees the standby out of order", lambda: OUT_OF_ORDER in active_alarms(lab1, "lim1"), 10)
    settings = lab1.host_dir("sb1") / "etc/agent.yaml"        # the new standby's agent pulls slowly
    settings.write_text(settings.read_text() + "sync: {bwlimit_kbps: 1500}\n")
    lab1.replace("sb1")
    assert versions(lab1, "sb1", "var/standby/lim1") == []
    done = utility(lab1, "server", "replace", "--name", "sb1", "--host-key", console_fingerprint(lab1, "sb1"),
                   "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Done: replace sb1 (the standby of cluster c1, generation 1)" in done.stdout
    assert (lab1.host_dir("sb1") / "etc/cluster.yaml").exists()
    seen_while_pulling = []
    while versions(lab1, "sb1", "var/standby/lim1") != made and len(seen_while_pulling) < 200:
        seen_while_pulling.append((len(versions(lab1, "sb1", "var/standby/lim1")),
                                   OUT_OF_ORDER in active_alarms(lab1, "lim1")))
        time.sleep(0.1)
    assert versions(lab1, "sb1", "var/standby/lim1") == made, seen_while_pulling
    assert (1, True) in seen_while_pulling, f"out of order until both backups are there: {seen_while_pulling}"
    wait_for("the alarm cleared", lambda: OUT_OF_ORDER not in active_alarms(lab1, "lim1"), 5, lab=lab1)
    for version in made:
        assert tree(lab1.host_dir("sb1") / "var/standby/lim1" / version) == \
            tree(lab1.host_dir("lim1") / "var/xdata" / version)
    # the new standby takes over as the old one did
    lab1.kill("lim1")
    wait_for("LIM 1 on the new sb1", lambda: served_by(lab1, 1) == "sb1", DETECT_S + 6, lab=lab1)
    lab1.revive("lim1")
    wait_for("LIM 1 back on lim1", lambda: served_by(lab1, 1) == "lim1", 20, lab=lab1)
