"""PM/SNM redundancy in the lab, seen from the client: webserver_config sets up the pair (LIM 1's server
lim1 and the standby sb1) on real keepalived and real PostgreSQL streaming replication; the client reaches
/mp on the virtual IP; a row written through it is on the standby's database; the master dies and PM/SNM
moves with every row; with manual fallback nothing moves back until Fallback is ordered; with automatic
fallback it moves back by itself; remove in the wrong order is refused, in the right order it leaves both
servers as before setup."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers.cluster_lab import utility
from helpers.waiting import wait_for

TOOL = Path(sys.executable).with_name("webserver_config")
VIP = "10.77.0.50"
SECRETS = "manager-Pa55\nrepl-Pa55\n"
SETUP = ("--virtual-ip", VIP, "--replication-user", "replicator")


def tool(lab, *args: str, secrets: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOL), *args], input=secrets, capture_output=True, text=True,
                          env={**os.environ, **lab.env}, timeout=600)


def serving(lab, address: str = VIP) -> str | None:
    answer = lab.http(address, "/mp", timeout=0.5)
    if answer is None or answer[0] != 200:
        return None
    return answer[1].strip().rsplit(" on ", 1)[-1]


def status(lab) -> dict:
    shown = tool(lab, "redundancy", "status", "--json")
    return json.loads(shown.stdout)


def row(lab, key: str) -> str | None:
    answer = lab.http(VIP, f"/wbm/rows/{key}", timeout=1.0)
    return answer[1] if answer and answer[0] == 200 else None


def put(lab, key: str, value: str) -> bool:
    answer = lab.http(VIP, f"/wbm/rows/{key}", method="PUT", body=value, timeout=2.0)
    return bool(answer) and answer[0] in (200, 201, 204)


class Watch:
    """The client: GET /mp on the virtual IP every 50 ms; the longest time without an answer."""

    def __init__(self, lab):
        self.lab, self.seen, self.stop = lab, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            self.seen.append((time.monotonic(), serving(self.lab)))
            time.sleep(0.05)

    def longest_gap(self) -> float:
        self.stop.set()
        self.thread.join()
        gap, last = 0.0, None
        for moment, host in self.seen:
            if host is not None:
                if last is not None:
                    gap = max(gap, moment - last)
                last = moment
        return gap


@pytest.fixture
def pair_lab(lab_up):
    lab = lab_up(2).reset(2)
    made = utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "manual",
                   "--detect-s", "1", "--heartbeat-s", "0.2", "--lim", "1:10.77.0.111", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    return lab


def set_up(lab) -> None:
    master = tool(lab, "redundancy", "setup", "--role", "master", *SETUP, "--yes", secrets=SECRETS)
    assert master.returncode == 0, master.stdout + master.stderr
    assert "Master configuration on lim1 (standby sb1, cluster c1):" in master.stdout
    assert "install SNM" in master.stdout            # sb1 had none; --yes installs it
    standby = tool(lab, "redundancy", "setup", "--role", "standby", *SETUP, "--yes", secrets=SECRETS)
    assert standby.returncode == 0, standby.stdout + standby.stderr
    wait_for("lim1 serves PM/SNM on the virtual IP", lambda: serving(lab) == "lim1", 30)


def test_a_virtual_ip_the_cluster_uses_is_refused_and_nothing_changes(pair_lab):
    refused = tool(pair_lab, "redundancy", "setup", "--role", "master", "--virtual-ip", "10.77.0.11",
                   "--replication-user", "replicator", "--yes", secrets=SECRETS)
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("error: the virtual IP 10.77.0.11 is an address a cluster or server uses; "
                                      "choose a free one (reusing the standby's alias forces a reinstall of the "
                                      "whole system)")
    assert not (pair_lab.host_dir("lim1") / "etc/redundancy.yaml").exists()


def test_the_life_of_pmsnm_redundancy(pair_lab):
    lab = pair_lab
    assert serving(lab, "10.77.0.11") == "lim1"        # before: the master's own web application
    set_up(lab)
    shown = status(lab)
    assert shown["serving"] == "lim1" and shown["virtual_ip"] == f"{VIP}/24" and shown["fallback"] == "manual"
    sb1 = next(s for s in shown["servers"] if s["server"] == "sb1")
    assert sb1["database_role"] == "standby" and sb1["redundancy"] is True
    login = lab.exec("sb1", "runuser", "-u", "mxone_manager", "--", "ssh", "-o", "BatchMode=yes",
                     "mxone_manager@10.77.0.111", "hostname", check=False)
    assert login.stdout.strip() == "lim1", login.stderr

    assert put(lab, "before-failover", "one")
    wait_for("the row on sb1's database", lambda: lab.psql("sb1", "select value from rows where key = "
                                                                  "'before-failover'") == "one", 1.0)
    watch = Watch(lab)
    lab.kill("lim1")
    wait_for("sb1 serves PM/SNM", lambda: serving(lab) == "sb1", 20)
    failover_gap = watch.longest_gap()
    assert row(lab, "before-failover") == "one"
    assert put(lab, "during-failover", "two")

    lab.revive("lim1")                                  # manual fallback: it stays on sb1
    wait_for("lim1's database follows sb1", lambda: any(
        s["server"] == "lim1" and s["database_role"] == "standby" for s in status(lab)["servers"]), 90)
    time.sleep(3)
    assert serving(lab) == "sb1"
    refused = tool(lab, "redundancy", "remove", "--role", "master", "--yes")
    assert refused.returncode == 2 and "PM/SNM runs on sb1 now; order Fallback first" in refused.stderr

    watch = Watch(lab)
    back = tool(lab, "redundancy", "fallback", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert serving(lab) == "lim1"
    fallback_gap = watch.longest_gap()
    assert row(lab, "during-failover") == "two" and row(lab, "before-failover") == "one"
    print(f"client gap at failover {failover_gap:.2f} s, at manual fallback {fallback_gap:.2f} s")

    changed = utility(lab, "cluster", "change", "--name", "c1", "--fallback", "automatic", "--yes")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    retyped = tool(lab, "redundancy", "reconfigure-fallback", "--yes")
    assert retyped.returncode == 0, retyped.stdout + retyped.stderr
    assert status(lab)["fallback"] == "automatic"
    lab.kill("lim1")
    wait_for("sb1 serves PM/SNM", lambda: serving(lab) == "sb1", 20)
    assert put(lab, "while-lim1-away", "three")
    lab.revive("lim1")
    wait_for("lim1 takes PM/SNM back by itself", lambda: serving(lab) == "lim1", 120)
    assert [row(lab, k) for k in ("before-failover", "during-failover", "while-lim1-away")] == ["one", "two", "three"]

    wrong = tool(lab, "redundancy", "remove", "--role", "standby", "--yes")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "error: remove redundancy on the master lim1 first (--role master)"
    for role in ("master", "standby"):
        removed = tool(lab, "redundancy", "remove", "--role", role, "--yes")
        assert removed.returncode == 0, removed.stdout + removed.stderr
    assert status(lab)["set"] is False
    assert serving(lab, "10.77.0.11") == "lim1" and serving(lab) is None
    for host in ("lim1", "sb1"):
        assert lab.exec(host, "lab-service", "is-active", "keepalived", check=False).returncode == 3
        assert lab.exec(host, "lab-service", "is-enabled", "postgresql", check=False).returncode == 0
