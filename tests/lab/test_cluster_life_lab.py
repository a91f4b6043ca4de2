"""The life of a cluster on real servers, as the client and the technician see it: create, a server
dies, power cycles (booting from its own network configuration), fallback, delete. Every server must
end reachable at its original address with no cluster files left, and no LIM unserved on the way."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from helpers.cluster_lab import DETECT_S, ETC, generation_on, served_by, utility
from helpers.waiting import wait_for

IFCFG = "/etc/sysconfig/network/ifcfg-eth0"


def ifcfg(lab, host: str) -> str:
    return lab.exec(host, "cat", IFCFG).stdout


@pytest.fixture
def lab3(lab_up):
    return lab_up(3).reset(3)


def test_create_failover_power_cycle_fallback_delete(lab3):
    made = utility(lab3, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "manual",
                   "--detect-s", str(DETECT_S), "--heartbeat-s", "0.5", "--lim", "1:10.77.0.111",
                   "--lim", "2:10.77.0.112:1", "--lim", "3:10.77.0.113", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    for n in (1, 2, 3):
        assert f"IPADDR='10.77.0.{110 + n}/24'" in ifcfg(lab3, f"lim{n}"), "a reboot must bring the new base"
        wait_for(f"LIM {n} served by lim{n}", lambda n=n: served_by(lab3, n) == f"lim{n}", 10, lab=lab3)
    assert "IPADDR='10.77.0.20/24'" in ifcfg(lab3, "sb1")

    lab3.kill("lim2")
    wait_for("LIM 2 on the standby", lambda: served_by(lab3, 2) == "sb1", DETECT_S + 5, lab=lab3)
    lab3.revive("lim2")                        # a power cycle: the host boots from its own files
    assert lab3.addresses("lim2") == ["10.77.0.112/24"], "only the new base; the alias stays with sb1"
    time.sleep(DETECT_S)
    assert served_by(lab3, 2) == "sb1", "manual fallback: LIM 2 stays on the standby"

    lab3.kill("lim3")
    lab3.revive("lim3")
    assert "10.77.0.113/24" in lab3.addresses("lim3")
    wait_for("LIM 3 served again by lim3", lambda: served_by(lab3, 3) == "lim3", DETECT_S + 10, lab=lab3)

    back = utility(lab3, "cluster", "fallback", "--lim", "2", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    wait_for("LIM 2 back on lim2", lambda: served_by(lab3, 2) == "lim2", 15, lab=lab3)

    kept_key = Path(lab3.env["MXONE_ROOT"]) / "etc/opt/eri_sn/keys/c1.key"
    assert kept_key.stat().st_mode & 0o777 == 0o600
    start = time.monotonic()
    gone = utility(lab3, "cluster", "delete", "--name", "c1", "--yes")
    took = time.monotonic() - start
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not kept_key.exists(), "the deleted cluster's key copy goes with it"
    assert took < 30, f"delete took {took:.1f} s"
    print(f"delete after power cycles: {took:.2f} s")
    for n in (1, 2, 3):
        host = f"lim{n}"
        assert lab3.addresses(host) == [f"10.77.0.{10 + n}/24"], host
        assert f"IPADDR='10.77.0.{10 + n}/24'" in ifcfg(lab3, host)
        assert subprocess.run(lab3.ssh_command(f"10.77.0.{10 + n}", "true"), timeout=10).returncode == 0
    for host in lab3.servers:
        assert "cluster.yaml" not in lab3.exec(host, "ls", "-A", ETC).stdout
    lab3.revive("lim3")                        # and a reboot after the delete brings the original base
    assert lab3.addresses("lim3") == ["10.77.0.13/24"]


def test_changes_with_a_member_down_and_its_catch_up(lab3):
    made = utility(lab3, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "manual",
                   "--detect-s", str(DETECT_S), "--heartbeat-s", "0.5", "--lim", "1:10.77.0.111:1",
                   "--lim", "2:10.77.0.112", "--lim", "3:10.77.0.113", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    lab3.kill("lim1")
    wait_for("LIM 1 on the standby", lambda: served_by(lab3, 1) == "sb1", DETECT_S + 5, lab=lab3)

    refused = utility(lab3, "cluster", "lock", "--lim", "2", "--to", "regular", "--yes")
    assert refused.returncode == 1 and "nothing was changed" in refused.stdout, refused.stdout + refused.stderr
    assert generation_on(lab3, "lim2") == 1

    for change in (["cluster", "lock", "--lim", "2", "--to", "regular"], ["cluster", "unlock", "--lim", "2"],
                   ["cluster", "change", "--name", "c1", "--priority", "2=3"]):
        done = utility(lab3, *change, "--allow-down", "lim1", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "lim1: not answering: takes generation" in done.stdout
    assert {generation_on(lab3, host) for host in ("lim2", "lim3", "sb1")} == {4}
    assert served_by(lab3, 2) == "lim2" and served_by(lab3, 3) == "lim3"

    lab3.revive("lim1")
    start = time.monotonic()
    wait_for("lim1 on generation 4", lambda: generation_on(lab3, "lim1") == 4, 10, interval=0.1, lab=lab3)
    caught_up = time.monotonic() - start
    assert caught_up < 5, f"catch-up took {caught_up:.1f} s"
    print(f"catch-up after revive: {caught_up:.2f} s")
    back = utility(lab3, "cluster", "fallback", "--lim", "1", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    wait_for("LIM 1 back on lim1", lambda: served_by(lab3, 1) == "lim1", 15, lab=lab3)


def test_remove_lim_of_a_dead_regular_then_finish_when_it_is_back(lab3):
    made = utility(lab3, "cluster", "create", "--name", "c1", "--standby", "sb1", "--detect-s", str(DETECT_S),
                   "--heartbeat-s", "0.5", "--lim", "1:10.77.0.111", "--lim", "2:10.77.0.112",
                   "--lim", "3:10.77.0.113", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    lab3.kill("lim3")
    wait_for("LIM 3 on the standby", lambda: served_by(lab3, 3) == "sb1", DETECT_S + 5, lab=lab3)

    refused = utility(lab3, "cluster", "remove-lim", "--name", "c1", "--lim", "3", "--yes")
    assert refused.returncode == 2 and "runs on the standby" in refused.stderr, refused.stdout + refused.stderr
    removed = utility(lab3, "cluster", "remove-lim", "--name", "c1", "--lim", "3", "--allow-down", "lim3", "--yes")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "LIM 3 STOPS: it runs on the standby sb1 and lim3 is down" in removed.stdout
    assert "lim3: not answering: its part waits for `cluster finish` when it is back" in removed.stdout
    wait_for("sb1 lets LIM 3 go", lambda: "10.77.0.13/24" not in lab3.addresses("sb1"), 5, lab=lab3)
    assert {generation_on(lab3, host) for host in ("lim1", "lim2", "sb1")} == {2}
    status = utility(lab3, "cluster", "status")
    assert "Pending: lim3 left cluster c1 while it did not answer" in status.stdout

    lab3.revive("lim3")                        # boots with the base its own files name
    assert lab3.addresses("lim3") == ["10.77.0.113/24"]
    wait_for("lim3 serves its own LIM again", lambda: served_by(lab3, 3) == "lim3", DETECT_S + 10, lab=lab3)
    done = utility(lab3, "cluster", "finish", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert lab3.addresses("lim3") == ["10.77.0.13/24"]
    assert "IPADDR='10.77.0.13/24'" in ifcfg(lab3, "lim3")
    assert "cluster.yaml" not in lab3.exec("lim3", "ls", "-A", ETC).stdout
    assert served_by(lab3, 3) == "lim3"
    assert "Pending" not in utility(lab3, "cluster", "status").stdout


def test_a_change_prunes_to_the_newest_version_of_each_lim(lab3):
    made = utility(lab3, "cluster", "create", "--name", "c1", "--standby", "sb1", "--lim", "1:10.77.0.111",
                   "--lim", "2:10.77.0.112", "--lim", "3:10.77.0.113", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    for host, lim in (("lim1", 1), ("lim1", 1), ("sb1", 2), ("sb1", 3), ("sb1", 2), ("sb1", 3)):
        lab3.exec(host, "data_backup", "--lim", str(lim))
        time.sleep(1.1)                        # versions are stamped by the second
    changed = utility(lab3, "cluster", "change", "--name", "c1", "--priority", "2=3", "--yes")
    assert changed.returncode == 0, changed.stdout + changed.stderr

    def lims_kept(host: str) -> list[str]:     # LIM numbers of what is left: one version of each
        names = lab3.exec(host, "ls", "/var/opt/eri_sn/xdata").stdout.split()
        return sorted(name.split("_")[1] for name in names)

    assert lims_kept("lim1") == ["1"]
    assert lims_kept("sb1") == ["2", "3"], "the standby keeps the newest backup of each LIM it ran"
