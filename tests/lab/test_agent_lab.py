"""The cluster agent on real servers (the lab): failover, fallback, locks, split brain, a foreign
alias holder, preloaded failover, as the telephones see it.

Everything is looked at from outside, the way a user would: a client in the lab's client namespace
connects to a LIM's alias on port 7001 and the stand-in Service Node names the server that answered
("LIM 1 on sb1"); the client's ARP cache shows which MAC the alias resolves to; `cluster status`
and `mxone-cluster-agent status` show where LIMs run and which alarms are up.

Each test starts from a fresh lab, creates its cluster with the utility (D = 3 s, heartbeat 0.5 s,
so failover takes seconds) and first waits until every LIM answers from its regular server.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from helpers.cluster_lab import agent_pid
from labtools import Lab, lim_address

UTILITY = Path(sys.executable).with_name("mxone_maintenance")
AGENT = Path(sys.executable).with_name("mxone-cluster-agent")
DETECT_S = 3.0
HEARTBEAT_S = 0.5
HOLD_S = max(3 * HEARTBEAT_S, 2.0)   # decide.hold_time with these settings
FAILOVER_S = DETECT_S + 4.0          # D plus probe, start and slack on a busy 2-core CI machine
FALLBACK_S = HOLD_S + 6.0            # revive (boot, settle), hold time, release, take
T = TypeVar("T")

pytestmark = pytest.mark.lab


# ---------------------------------------------------------------- helpers

def utility(lab: Lab, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **lab.env}
    result = subprocess.run([str(UTILITY), *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert result.returncode == 0, f"mxone_maintenance {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def create(lab: Lab, *lims: str, fallback: str = "automatic") -> None:
    """Create cluster c1 (standby sb1) and wait until each LIM answers from its regular."""
    spec = [arg for lim in lims for arg in ("--lim", lim)]
    utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", *spec, "--detect-s", str(DETECT_S),
            "--heartbeat-s", str(HEARTBEAT_S), "--fallback", fallback, "--yes")
    for lim in lims:
        number = int(lim.split(":")[0])
        wait_served(lab, number, f"lim{number}", timeout=30)  # the set-up, not what is tested: no hurry


def alias(lim: int) -> str:
    """A LIM's alias is its regular server's old lab address (the cluster gives the server a new base)."""
    return lim_address(lim)


def wait_for(what: str, probe: Callable[[], T], timeout: float, interval: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what} (last seen: {value!r})")
        time.sleep(interval)


def wait_served(lab: Lab, lim: int, host: str, timeout: float) -> None:
    """Until the client gets "LIM <lim> on <host>" from the LIM's alias; fail with the agents' logs."""
    expected = f"LIM {lim} on {host}"
    deadline = time.monotonic() + timeout
    while (answer := lab.ask_alias(alias(lim), timeout=0.3)) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"the client did not get {expected!r} from {alias(lim)} within {timeout:g} s "
                        f"(last answer: {answer!r})\n{lab.agent_logs(15)}")
        time.sleep(0.1)


def holders(lab: Lab, lim: int) -> list[str]:
    """The servers whose interface holds the LIM's alias."""
    return [host for host in lab.servers if f"{alias(lim)}/24" in lab.addresses(host)]


def status(lab: Lab) -> dict:
    """`cluster status --json`, the first (only) cluster."""
    result = utility(lab, "cluster", "status", "--json", check=False)
    return json.loads(result.stdout)["clusters"][0]


def runs_on(lab: Lab, lim: int) -> str:
    return next(row["runs_on"] for row in status(lab)["lims"] if row["lim"] == lim)


def active_alarms(lab: Lab) -> list[str]:
    return [f"{a['server']}: {a['text']}" for a in status(lab)["alarms"] if not a["cleared"]]


def agent_alarms(lab: Lab, host: str) -> list[str]:
    """Active alarms as one server's agent reports them (`cluster status` waits ~2.5 s for a dead
    server's SSH, so polling asks the agent in the host directly)."""
    report = json.loads(lab.exec(host, str(AGENT), "status", "--json").stdout)
    return [a["text"] for a in report["alarms"] if a["active"]]


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def lab2(lab_up) -> Lab:
    """lim1 (LIM 1, priority 5), lim2 (LIM 2, priority 1), sb1; no cluster yet."""
    return lab_up(2).reset(2)


LIM1, LIM2 = "1:10.77.0.111:5", "2:10.77.0.112:1"


# ---------------------------------------------------------------- failover and fallback

def test_killed_regular_is_served_by_the_standby_then_falls_back_automatically(lab2) -> None:
    create(lab2, LIM1, LIM2)
    assert lab2.client_arp(alias(1)) == lab2.mac("lim1")

    lab2.kill("lim1")
    wait_served(lab2, 1, "sb1", timeout=FAILOVER_S)
    assert lab2.client_arp(alias(1)) == lab2.mac("sb1"), "gratuitous ARP moved the client's cache"
    assert lab2.ask_alias(alias(2)) == "LIM 2 on lim2"
    report = status(lab2)
    assert [(row["lim"], row["runs_on"]) for row in report["lims"]] == [(1, "sb1"), (2, "lim2")]
    dead = next(server for server in report["servers"] if server["server"] == "lim1")
    assert not dead["reachable"] and dead["error"], "the dead server is shown as not answering, with why"
    assert any(a["server"] == "sb1" and a["text"] == "LIM 1 is running on standby server" and not a["cleared"]
               for a in report["alarms"])
    agent_status = lab2.exec("sb1", str(AGENT), "status").stdout
    assert "LIM 1 is running on standby server" in agent_status
    assert "lim2" in agent_status and "lim1" in agent_status, "peers are listed"

    lab2.revive("lim1")
    wait_served(lab2, 1, "lim1", timeout=FALLBACK_S)
    assert holders(lab2, 1) == ["lim1"]
    assert lab2.client_arp(alias(1)) == lab2.mac("lim1")
    wait_for("the alarm is cleared", lambda: not any("running on standby" in a for a in active_alarms(lab2)), 5)


def test_two_regulars_killed_the_higher_priority_lim_replaces_the_lower_on_the_standby(lab2) -> None:
    create(lab2, LIM1, LIM2)
    lab2.kill("lim1")
    wait_served(lab2, 1, "sb1", timeout=FAILOVER_S)

    lab2.kill("lim2")   # LIM 2 has priority 1, LIM 1 priority 5
    wait_served(lab2, 2, "sb1", timeout=FAILOVER_S)
    assert holders(lab2, 1) == ["lim1"], "only the dead lim1 still has it on its (down) interface"
    assert lab2.ask_alias(alias(1), timeout=0.3) is None, "LIM 1 is not served any more"
    alarms = agent_alarms(lab2, "sb1")
    assert "LIM 2 is running on standby server" in alarms
    assert any("LIM 1 is not served" in a for a in alarms), alarms


def test_manual_fallback_waits_for_the_order(lab2) -> None:
    create(lab2, LIM1, LIM2, fallback="manual")
    lab2.kill("lim1")
    wait_served(lab2, 1, "sb1", timeout=FAILOVER_S)
    lab2.revive("lim1")
    wait_for("lim1 waits for the manual fallback",
             lambda: any(row["lim"] == 1 and "waiting for manual fallback" in row["state"]
                         for row in status(lab2)["lims"]), timeout=10)
    time.sleep(HOLD_S + 1)  # longer than an automatic fallback would wait
    assert lab2.ask_alias(alias(1)) == "LIM 1 on sb1"

    utility(lab2, "cluster", "fallback", "--lim", "1", "--yes")
    wait_served(lab2, 1, "lim1", timeout=10)
    assert holders(lab2, 1) == ["lim1"]


# ---------------------------------------------------------------- locks

def test_lim_locked_to_regular_is_not_taken_over(lab2) -> None:
    create(lab2, LIM1, LIM2)
    utility(lab2, "cluster", "lock", "--lim", "1", "--to", "regular", "--yes")
    lab2.kill("lim1")
    time.sleep(FAILOVER_S)
    assert lab2.ask_alias(alias(1), timeout=0.3) is None
    assert "sb1" not in holders(lab2, 1)


def test_lim_locked_to_standby_moves_while_its_regular_is_healthy(lab2) -> None:
    create(lab2, LIM1, LIM2)
    utility(lab2, "cluster", "lock", "--lim", "1", "--to", "standby", "--yes")
    wait_served(lab2, 1, "sb1", timeout=10)
    assert holders(lab2, 1) == ["sb1"]
    assert runs_on(lab2, 1) == "sb1"

    utility(lab2, "cluster", "unlock", "--lim", "1", "--yes")   # automatic fallback: back after H
    wait_served(lab2, 1, "lim1", timeout=FALLBACK_S)
    assert holders(lab2, 1) == ["lim1"]


def test_standby_failure_is_alarmed_on_the_regulars_and_nothing_else_moves(lab2) -> None:
    """Row 12: sb1 dies: the regulars raise "Standby server is out of order" and keep their LIMs; the
    alarm clears when sb1 is back."""
    create(lab2, LIM1, LIM2)
    lab2.kill("sb1")
    for host in ("lim1", "lim2"):
        wait_for(f"the standby alarm on {host}", lambda h=host: "Standby server is out of order"
                 in agent_alarms(lab2, h), timeout=FAILOVER_S)
    assert holders(lab2, 1) == ["lim1"] and holders(lab2, 2) == ["lim2"]
    assert lab2.ask_alias(alias(1)) == "LIM 1 on lim1" and lab2.ask_alias(alias(2)) == "LIM 2 on lim2"
    lab2.revive("sb1")
    for host in ("lim1", "lim2"):
        wait_for(f"the standby alarm cleared on {host}", lambda h=host: "Standby server is out of order"
                 not in agent_alarms(lab2, h), timeout=FALLBACK_S)
    assert holders(lab2, 1) == ["lim1"] and holders(lab2, 2) == ["lim2"]


def test_an_agent_restart_keeps_its_running_lim_serving(lab2) -> None:
    """Row 25: lim1's agent crashes and restarts while LIM 1 runs and holds the alias: it keeps
    serving (no release, no takeover by sb1), and the client is answered all along."""
    create(lab2, LIM1, LIM2)
    before = lab2.exec("lim1", "sh", "-c", "cat /run/mxone-lab-sn-1.pid").stdout.strip()
    lab2.restart_agent("lim1")
    deadline = time.monotonic() + 2 * DETECT_S
    while time.monotonic() < deadline:
        assert lab2.ask_alias(alias(1), timeout=0.5) == "LIM 1 on lim1"
        assert holders(lab2, 1) == ["lim1"]
        time.sleep(0.1)
    assert lab2.exec("lim1", "sh", "-c", "cat /run/mxone-lab-sn-1.pid").stdout.strip() == before, \
        "the Service Node was not restarted"


# ---------------------------------------------------------------- split brain, foreign holder

def test_cut_regular_split_brain_is_resolved_after_heal(lab2) -> None:
    create(lab2, LIM1, LIM2)
    lab2.cut("lim1")
    wait_served(lab2, 1, "sb1", timeout=FAILOVER_S)
    assert sorted(holders(lab2, 1)) == ["lim1", "sb1"], "while cut, lim1 cannot know and keeps it"

    lab2.heal("lim1")
    wait_for("only one server keeps alias 1", lambda: len(holders(lab2, 1)) == 1, timeout=5)
    # then fallback by type (automatic): LIM 1 goes home after the hold time; never two holders
    deadline = time.monotonic() + FALLBACK_S
    while lab2.ask_alias(alias(1), timeout=0.3) != "LIM 1 on lim1":
        assert len(holders(lab2, 1)) <= 1, "alias 1 held twice after the heal"
        assert time.monotonic() < deadline, lab2.agent_logs(15)
        time.sleep(0.1)
    assert holders(lab2, 1) == ["lim1"]
    assert lab2.client_arp(alias(1)) == lab2.mac("lim1")


def test_standby_with_its_cable_out_takes_nothing_over(lab2) -> None:
    """sb1 unplugged hears nobody, but it knows it is its own link: it takes no LIM (nobody could reach
    it there, and the regulars would yield it at the heal), raises "No link" instead of calling the
    regulars failed, and after the heal nothing moves: the client never left lim1 and lim2."""
    create(lab2, LIM1, LIM2)
    lab2.cut("sb1")
    wait_for("sb1's link alarm", lambda: "No link on eth0: this server is cut off from the cluster"
             in agent_alarms(lab2, "sb1"), timeout=5)
    time.sleep(DETECT_S + 2)
    assert holders(lab2, 1) == ["lim1"] and holders(lab2, 2) == ["lim2"]
    assert not [a for a in agent_alarms(lab2, "sb1") if "is not served" in a]
    lab2.heal("sb1")
    wait_for("the link alarm cleared", lambda: not [a for a in agent_alarms(lab2, "sb1") if "No link" in a], 5)
    time.sleep(2 * HEARTBEAT_S + 1)
    assert holders(lab2, 1) == ["lim1"] and holders(lab2, 2) == ["lim2"]
    assert lab2.ask_alias(alias(1)) == "LIM 1 on lim1" and lab2.ask_alias(alias(2)) == "LIM 2 on lim2"


def test_healed_regular_does_not_pull_the_client_back_before_fallback(lab2) -> None:
    """A cut regular keeps its alias (it cannot know) but announces nothing while its cable is out, nor
    when it is back before it has heard the standby: the client goes sb1 -> lim1 once, at fallback,
    not lim1 -> sb1 -> lim1 (found by chaos seed 5)."""
    create(lab2, LIM1, LIM2)
    lab2.cut("lim1")
    wait_served(lab2, 1, "sb1", timeout=FAILOVER_S)
    assert "No link on eth0: this server is cut off from the cluster" in agent_alarms(lab2, "lim1")
    assert "Standby server is out of order" not in agent_alarms(lab2, "lim1"), "its own cable, not sb1"
    time.sleep(6)  # more than lim1's periodic announce (5 s) while cut
    lab2.heal("lim1")
    owners: list[str] = []
    macs = {lab2.mac(host): host for host in lab2.servers}
    deadline = time.monotonic() + FALLBACK_S
    while time.monotonic() < deadline and (not owners or owners[-1] != "lim1"):
        owner = macs.get(lab2.client_arp(alias(1)) or "", "?")
        if not owners or owners[-1] != owner:
            owners.append(owner)
        time.sleep(0.02)
    assert owners == ["sb1", "lim1"], f"the client's ARP for alias 1 went {' -> '.join(owners)}"
    log = (lab2.host_dir("lim1") / "log/mxone-cluster-agent.log").read_text()
    assert "no carrier on eth0" in log and "carrier back on eth0" in log


def test_hung_regular_waking_with_its_alias_is_alarmed_then_yields(lab2) -> None:
    """lim1 freezes (agent stopped, cable out: nothing answers), sb1 takes LIM 1; lim1's kernel comes
    back holding alias 1 while its agent is still frozen: sb1 sees the duplicate, alarms, keeps the
    LIM and keeps the client; when lim1's agent wakes, it yields (split brain) and LIM 1 falls back."""
    create(lab2, LIM1, LIM2)
    pid = agent_pid("lim1")
    os.kill(pid, signal.SIGSTOP)
    try:
        lab2.cut("lim1")
        wait_served(lab2, 1, "sb1", timeout=FAILOVER_S)
        lab2.heal("lim1")
        wait_for("sb1 alarms the duplicate alias", lambda: [a for a in agent_alarms(lab2, "sb1")
                                                            if "also answered by" in a and alias(1) in a], 6)
        wait_served(lab2, 1, "sb1", timeout=3)
        assert lab2.client_arp(alias(1)) == lab2.mac("sb1")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_served(lab2, 1, "lim1", timeout=FALLBACK_S)
    assert holders(lab2, 1) == ["lim1"]


def test_foreign_host_holding_the_alias_blocks_the_takeover_with_an_alarm(lab2) -> None:
    create(lab2, LIM1, LIM2)
    lab2.kill("lim1")
    lab2.exec("client", "ip", "addr", "add", f"{alias(1)}/24", "dev", "eth0")
    try:
        foreign = lab2.mac("client")     # the alias alone also matches 10.77.0.111 in other alarms
        wait_for("sb1 alarms: alias 1 answered by a foreign MAC",
                 lambda: [a for a in agent_alarms(lab2, "sb1") if alias(1) in a and foreign in a],
                 timeout=FAILOVER_S)
        assert any(alias(1) in a and lab2.mac("client") in a for a in active_alarms(lab2)), \
            "cluster status names the alias and the MAC"
        assert "sb1" not in holders(lab2, 1)
        assert lab2.exec("sb1", str(Path(__file__).resolve().parents[2] / "scripts/lab-service-node"), "status", "1",
                         check=False).returncode != 0, "LIM 1's Service Node must not run on sb1"
    finally:
        lab2.exec("client", "ip", "addr", "del", f"{alias(1)}/24", "dev", "eth0")
    wait_served(lab2, 1, "sb1", timeout=FAILOVER_S)   # probed again: the alias is free now


# ---------------------------------------------------------------- preloaded

def test_preloaded_standby_takes_over_by_unblocking(lab_up) -> None:
    lab = lab_up(1).reset(1)
    create(lab, LIM1)
    utility(lab, "cluster", "preload", "--name", "c1", "--yes")
    wait_for("sb1 is the passive side of LIM 1",
             lambda: "passive on sb1" in status(lab)["lims"][0]["preloaded"], timeout=10)
    assert lab.ask_alias(alias(1)) == "LIM 1 on lim1"
    assert sorted(holders(lab, 1)) == ["lim1", "sb1"], "preloaded: both hold it, sb1 blocks it"
    time.sleep(2 * 3.0)                          # past detect_s with lim1 alive: sb1 hears it and stays passive
    assert lab.ask_alias(alias(1)) == "LIM 1 on lim1"
    assert "passive on sb1" in status(lab)["lims"][0]["preloaded"]

    lab.kill("lim1")
    wait_served(lab, 1, "sb1", timeout=FAILOVER_S)
    assert lab.client_arp(alias(1)) == lab.mac("sb1")
    text = utility(lab, "cluster", "status", check=False).stdout  # exit 1: lim1 does not answer
    assert re.search(r"^\s+1\s+lim1\s+sb1\s", text, re.M), text    # LIM 1, regular lim1, runs on sb1
    assert re.search(r"^\s+sb1: LIM 1 is running on standby server", text, re.M), text
