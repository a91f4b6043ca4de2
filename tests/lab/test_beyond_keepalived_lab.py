"""Issue 18 in the lab, seen by the client: the Service Node of LIM 1 killed on a healthy lim1 (its host
still heartbeating) -> LIM 1 on the standby within interval x failures + a heartbeat, and back by the
fallback rules once it answers again; maintenance mode: while paused, killing a regular moves nothing,
after resume the standby takes it; flap damping: a regular power-cycled three times ends with its LIM
on the standby, fallback manual, the alarm raised."""
from __future__ import annotations

import time

import pytest
from helpers.cluster_lab import alarms, served_by, utility
from helpers.waiting import wait_for

CHECK_INTERVAL_S, CHECK_FAILURES, HEARTBEAT_S = 2.0, 3, 0.2     # scripts/lab's agent.yaml: check {tcp: 7001}
HOLD_S = 3


@pytest.fixture
def lab1(lab_up):
    lab = lab_up(2).reset(2)
    made = utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "automatic",
                   "--detect-s", "1", "--heartbeat-s", str(HEARTBEAT_S), "--hold-s", str(HOLD_S),
                   "--lim", "1:10.77.0.111", "--lim", "2:10.77.0.112", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    wait_for("LIM 1 on lim1", lambda: served_by(lab, 1) == "lim1", 15, lab=lab)
    return lab


def kill_service_node(lab, host: str, lim: int) -> None:
    """The Service Node dies (or hangs: SIGSTOP would do the same to a TCP check); the host lives on."""
    pid = lab.exec(host, "cat", f"/run/mxone-lab-sn-{lim}.pid").stdout.split()[0]
    lab.exec(host, "kill", "-9", pid)


def test_a_dead_service_node_on_a_live_regular_moves_its_lim_and_it_comes_back(lab1):
    lab = lab1
    started = time.monotonic()
    kill_service_node(lab, "lim1", 1)
    wait_for("LIM 1 served by sb1", lambda: served_by(lab, 1) == "sb1",
             CHECK_INTERVAL_S * CHECK_FAILURES + HEARTBEAT_S + 3, interval=0.05, lab=lab)
    moved = time.monotonic() - started
    print(f"hung Service Node -> client served by the standby: {moved:.2f} s")
    assert "Service Node of LIM 1 does not answer on lim1" in alarms(lab, "lim1")
    assert served_by(lab, 2) == "lim2"                         # the other LIM never moved
    history = utility(lab, "cluster", "history", "--name", "c1", "--since", "5m")
    assert history.returncode == 0, history.stdout + history.stderr
    taken = [line for line in history.stdout.splitlines() if "LIM 1 taken over by the standby sb1" in line]
    assert taken and "(cause: Service Node of LIM 1 does not answer on lim1 (health check))" in taken[-1], \
        history.stdout
    notified = wait_for("the notify command ran on sb1", lambda: "event=takeover lim=1 server=sb1" in
                        (lab.host_dir("sb1") / "log/mxone-notify.log").read_text(errors="replace"), 10)
    trap = wait_for("the SNMP trap reached the client's snmptrapd", lambda: "LIM 1 taken over by the standby sb1" in
                    (lab.host_dir("client") / "log/snmptrapd.log").read_text(errors="replace"), 10)
    assert notified and trap
    metrics = wait_for("sb1's node-exporter textfile says it runs LIM 1", lambda: 'mxone_lim_running{lim="1",server="sb1"} 1'
                       in (lab.host_dir("sb1") / "log/mxone.prom").read_text(errors="replace"), 10)
    assert metrics
    wait_for("LIM 1 back on lim1 by the fallback rules", lambda: served_by(lab, 1) == "lim1", HOLD_S * 2 + 10,
             lab=lab)
    wait_for("the alarm cleared", lambda: "Service Node of LIM 1 does not answer on lim1" not in alarms(lab, "lim1"),
             10, lab=lab)


def test_paused_nothing_moves_and_resume_lets_the_standby_take_over(lab1):
    lab = lab1
    paused = utility(lab, "cluster", "pause", "--name", "c1", "--minutes", "5", "--yes")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    shown = wait_for("cluster status shows PAUSED for both LIMs",
                     lambda: (out := utility(lab, "cluster", "status").stdout).count("PAUSED") >= 2 and out, 10)
    assert "PAUSED (maintenance mode): running on lim1" in shown, shown
    lab.kill("lim1")
    time.sleep(4)                                            # D is 1 s: it would have moved by now
    assert served_by(lab, 1) is None
    assert any("paused (maintenance mode)" in text for text in alarms(lab, "sb1"))
    resumed = utility(lab, "cluster", "resume", "--name", "c1", "--allow-down", "lim1", "--yes")  # it hears it later
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    wait_for("sb1 takes LIM 1 after resume", lambda: served_by(lab, 1) == "sb1", 10, lab=lab)
    assert not any("paused" in text for text in alarms(lab, "sb1"))


def test_a_regular_power_cycled_three_times_leaves_its_lim_on_the_standby(lab1):
    lab = lab1
    for round_ in range(3):
        lab.kill("lim1")
        wait_for(f"sb1 takes LIM 1 (failure {round_ + 1})", lambda: served_by(lab, 1) == "sb1", 15, lab=lab)
        lab.revive("lim1")
        if round_ < 2:
            wait_for("LIM 1 falls back to lim1", lambda: served_by(lab, 1) == "lim1", HOLD_S + 15, lab=lab)
    time.sleep(HOLD_S + 4)
    assert served_by(lab, 1) == "sb1"
    assert "LIM 1: fallback made manual after 3 failures of lim1 in 10 minutes" in alarms(lab, "sb1")
    ordered = utility(lab, "cluster", "fallback", "--lim", "1", "--yes")
    assert ordered.returncode == 0, ordered.stdout + ordered.stderr
    wait_for("LIM 1 back on lim1 when ordered", lambda: served_by(lab, 1) == "lim1", 15, lab=lab)
