"""`cluster status` answered by the agent on LIM 1's server (the lab's admin seat is lim1's /run): every
member as lim1's agent hears it, with the age of what it knows; a dead member named silent without any
SSH wait on it; the view following a takeover; and SSH again for everything when lim1's agent is gone."""
from __future__ import annotations

import json
import os
import signal

import pytest
from helpers.cluster_lab import agent_pid, served_by, utility
from helpers.waiting import wait_for


@pytest.fixture
def cluster(lab_up):
    lab = lab_up(2).reset(2)
    made = utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "manual",
                   "--detect-s", "1", "--heartbeat-s", "0.2",
                   "--lim", "1:10.77.0.111", "--lim", "2:10.77.0.112", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    wait_for("both LIMs on their regulars", lambda: served_by(lab, 1) == "lim1" and served_by(lab, 2) == "lim2",
             15, lab=lab)
    return lab


def status_json(lab) -> dict:
    done = utility(lab, "cluster", "status", "--json")
    return json.loads(done.stdout)


def heard_by_lim1(lab) -> str | None:
    """The status text once every member is covered by lim1's agent (no member asked over SSH)."""
    out = utility(lab, "cluster", "status").stdout
    return out if "Heard by lim1's agent: lim1 now, lim2" in out and "asked over SSH" not in out else None


def test_status_comes_from_lim1s_agent_and_names_a_dead_member_silent(cluster):
    lab = cluster
    text = wait_for("every member's shared status at lim1", lambda: heard_by_lim1(lab), 10)
    assert "  1    lim1      lim1" in text and "  2    lim2      lim2" in text, text
    assert "Servers: lim1 answers, lim2 answers, sb1 answers" in text, text
    servers = {s["server"]: s for s in status_json(lab)["clusters"][0]["servers"]}
    assert {name: s["via"] for name, s in servers.items()} == {"lim1": "lim1", "lim2": "lim1", "sb1": "lim1"}
    assert all(s["age_s"] is not None and s["age_s"] < 1.0 for s in servers.values()), servers

    lab.kill("lim2")
    wait_for("LIM 2 on sb1", lambda: served_by(lab, 2) == "sb1", 10, lab=lab)
    shown = wait_for("lim2 silent and LIM 2 on sb1 in the view",
                     lambda: (out := utility(lab, "cluster", "status")).returncode == 1
                     and "lim2 silent for" in out.stdout and "  2    lim2      sb1" in out.stdout and out.stdout, 10)
    assert "lim2 NOT ANSWERING" in shown and "asked over SSH" not in shown, shown
    assert "lim2: does not answer: silent for" in shown and "(as lim1's agent hears it)" in shown, shown
    report = status_json(lab)
    assert report["complete"] is False
    lims = {row["lim"]: row for row in report["clusters"][0]["lims"]}
    assert lims[2]["runs_on"] == "sb1" and lims[1]["runs_on"] == "lim1"


def test_without_lim1s_agent_every_member_is_asked_over_ssh(cluster):
    lab = cluster
    wait_for("every member's shared status at lim1", lambda: heard_by_lim1(lab), 10)
    pid = agent_pid("lim1")
    os.kill(pid, signal.SIGSTOP)               # hung: it answers no socket call
    try:
        done = utility(lab, "cluster", "status")
        assert "asked over SSH: lim1, lim2, sb1" in done.stdout, done.stdout + done.stderr
        assert "Heard by" not in done.stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for("lim1's agent answers again", lambda: heard_by_lim1(lab), 10)
