"""PM/SNM redundancy set up through the SNM Configuration Tool's menus, as a technician does it: the real
`webserver_config` in tmux against the lab (LIM 1's server lim1, the standby sb1, cluster c1). Master
configuration, then Standby configuration; CheckStatus shows lim1 holding the virtual IP and sb1's
database streaming; the client reaches /mp on the virtual IP and a row written through it is on sb1's
database; Remove Redundancy refuses the standby first, then master and standby are removed and the virtual
IP answers no more. No password typed is ever on the screen."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cluster_lab import utility
from helpers.waiting import wait_for

pytestmark = pytest.mark.lab

TOOL = Path(sys.executable).with_name("webserver_config")
VIP = "10.77.0.50"
MANAGER_PW, REPLICATION_PW = "Mgr-Menu-s3cret", "Repl-Menu-s3cret"
CONFIRM = "Webserver will not work while setting up redundancy, do you wish to continue?"
COLS, ROWS = 140, 40                 # wide enough for CheckStatus's table on one line per server
CORNERS = {"┌": ("┐", "└"), "+": ("+", "+")}


class Tmux:
    """The program in a tmux window of its own socket; every screen captured is kept (the password check)."""

    def __init__(self, socket: Path, command: list[str], env: dict[str, str]) -> None:
        self.socket = str(socket)
        self.captured: list[str] = []
        exports = [f"{name}={value}" for name, value in env.items()]
        self.tmux("new-session", "-d", "-x", str(COLS), "-y", str(ROWS), "env", *exports, *command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-u", "-S", self.socket, *args], capture_output=True, text=True,
                              check=True, env={**os.environ, "LANG": "C.UTF-8"}).stdout

    def screen(self) -> str:
        shown = self.tmux("capture-pane", "-p")
        self.captured.append(shown)
        return shown

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", key)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)

    def wait_for(self, *texts: str, timeout: float = 10, fail_on: tuple[str, ...] = ("Traceback", "FAILED",
                 "Unexpected error"), flat: bool = False) -> str:
        """Until every TEXT is on screen (FLAT: in the top box's text, its wrapped rows joined)."""
        deadline = time.monotonic() + timeout
        shown = ""
        while True:
            try:
                shown = self.screen()
            except subprocess.CalledProcessError:
                pytest.fail(f"the program ended while waiting for {texts}; last screen:\n{shown}")
            bad = [t for t in fail_on if t in shown]
            if bad:
                pytest.fail(f"{bad[0]!r} on screen while waiting for {texts}:\n{shown}")
            seen = " ".join(box_rows(shown)) if flat else shown
            if all(t in seen for t in texts):
                return shown
            if time.monotonic() > deadline:
                pytest.fail(f"waited {timeout} s for {texts}; the screen shows:\n{shown}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-S", self.socket, "has-session"], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


def box_rows(shown: str) -> list[str]:
    """The rows of the last-drawn (innermost) titled box on SHOWN, each stripped: a wrapped question reads
    as one line when joined."""
    lines = shown.splitlines()
    found: list[str] = []
    for top, line in enumerate(lines):
        for corner, (right_corner, bottom_corner) in CORNERS.items():
            for left in [m.start() for m in re.finditer(re.escape(corner), line)]:
                right = line.find(right_corner, left + 1)
                if right < 0 or not line[left + 1:right].strip("─- ").strip():
                    continue                                   # a box without a title
                rows = []
                for below in lines[top + 1:]:
                    if len(below) <= right or below[left] == bottom_corner:
                        break
                    rows.append(" ".join(below[left + 1:right].split()))
                found = rows or found
    return [row for row in found if row]


def serving(lab, address: str = VIP) -> str | None:
    answer = lab.http(address, "/mp", timeout=0.5)
    if answer is None or answer[0] != 200:
        return None
    return answer[1].strip().rsplit(" on ", 1)[-1]


@pytest.fixture
def pair_lab(lab_up):
    lab = lab_up(2).reset(2)
    made = utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "manual",
                   "--detect-s", "1", "--heartbeat-s", "0.2", "--lim", "1:10.77.0.111", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    return lab


@pytest.fixture
def ui(pair_lab, tmp_path):
    env = {**pair_lab.env, "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    shown = Tmux(tmp_path / "tmux.sock", [str(TOOL)], env)
    yield shown
    shown.close()


def answer_yes(ui: Tmux, question: str) -> None:
    """A question box (No has the focus): Yes."""
    ui.wait_for(question, "< No >", flat=True)
    ui.keys("Right", "Enter")


def fill_setup_form(ui: Tmux, title: str) -> None:
    """The form (the virtual IP has the focus): the virtual IP, the user, both passwords twice, Show plan."""
    ui.wait_for(f" {title} ", "Virtual IP", "lim1 (10.77.0.111/24)", "sb1 (10.77.0.20/24)",
                "c1 on eth0, fallback manual")
    ui.type(VIP)
    ui.keys("Tab")
    ui.type("replicator")
    for secret in (MANAGER_PW, MANAGER_PW, REPLICATION_PW, REPLICATION_PW):
        ui.keys("Tab")
        ui.type(secret)
    ui.wait_for("Confirm the replication user's password: " + "*" * len(REPLICATION_PW))
    ui.keys("Tab", "Enter")                                    # [Show plan]


def apply_plan(ui: Tmux, plan_title: str, timeout: float) -> str:
    """The plan (Back has the focus): Apply, then the result; OK back to the menu."""
    ui.wait_for(plan_title, "< Apply >", "< Back >", timeout=30)
    ui.keys("Left", "Enter")
    shown = ui.wait_for(f"Done: {plan_title.rstrip(':')}", timeout=timeout)
    ui.keys("Enter")
    return shown


def pair_in_status(shown: str) -> str | None:
    """SHOWN when CheckStatus's table has lim1 holding the virtual IP with the primary database, and sb1's
    database a streaming standby."""
    lim1 = re.search(r"lim1 +master +master +.* held +primary, standby sb1 streaming ", shown)
    sb1 = re.search(r"sb1 +standby +backup +.* - +standby, streaming ", shown)
    return shown if lim1 and sb1 else None


def test_pmsnm_redundancy_set_up_checked_and_removed_through_the_menus(pair_lab, ui):
    lab = pair_lab
    started = time.monotonic()
    ui.wait_for("SNM Configuration Tool", "5  Redundancy")
    ui.keys("5")
    ui.wait_for("1  Master configuration", "2  Standby configuration", "3  CheckStatus", "7  Remove Redundancy")

    ui.keys("1")                                               # Master configuration
    answer_yes(ui, CONFIRM)
    fill_setup_form(ui, "Master configuration")
    answer_yes(ui, "SNM is not installed on sb1. Install it now?")
    apply_plan(ui, "Master configuration on lim1 (standby sb1, cluster c1):", timeout=120)
    ui.wait_for("1  Master configuration", "7  Remove Redundancy")
    master_s = time.monotonic() - started

    ui.keys("2")                                               # Standby configuration
    fill_setup_form(ui, "Standby configuration")
    answer_yes(ui, "Re-start webserver now?")
    apply_plan(ui, "Standby configuration on sb1 (master lim1, cluster c1):", timeout=120)
    ui.wait_for("1  Master configuration", "7  Remove Redundancy")
    setup_s = time.monotonic() - started

    ui.keys("3")                                               # CheckStatus
    ui.wait_for("PM/SNM redundancy of cluster c1: virtual IP 10.77.0.50/24, fallback manual; served by lim1",
                timeout=20)
    shown = wait_for("CheckStatus: lim1 holds the virtual IP, sb1's database streams",
                     lambda: pair_in_status(ui.screen()), 20)
    assert "does not answer" not in shown and "refresh failed" not in shown

    answer = wait_for("the client gets /mp on the virtual IP", lambda: lab.http(VIP, "/mp", timeout=0.5), 5)
    assert answer[0] == 200 and "on lim1" in answer[1], answer
    written = lab.http(VIP, "/wbm/rows/through-the-menus", method="PUT", body="menus", timeout=2.0)
    assert written is not None and written[0] in (200, 201, 204), written
    wait_for("the row on sb1's database", lambda: lab.psql(
        "sb1", "select value from rows where key = 'through-the-menus'") == "menus", 1.0)

    ui.keys("Escape")                                          # back to Redundancy
    ui.wait_for("7  Remove Redundancy")
    ui.keys("7")
    ui.wait_for("1  Master lim1 (first)", "2  Standby sb1 (after the master)")
    ui.keys("2")                                               # the standby first: refused
    ui.wait_for("Not possible: remove redundancy on the master lim1 first (--role master); nothing was changed",
                timeout=20)
    ui.keys("Enter")
    ui.wait_for("1  Master lim1 (first)")
    assert serving(lab) == "lim1"                              # nothing changed
    ui.keys("1")
    apply_plan(ui, "Remove Redundancy on the master lim1:", timeout=60)
    ui.wait_for("2  Standby sb1 (after the master)")
    ui.keys("2")
    apply_plan(ui, "Remove Redundancy on the standby sb1:", timeout=60)
    ui.wait_for("1  Master lim1 (first)")
    assert serving(lab) is None                                # nothing answers on the virtual IP
    assert serving(lab, "10.77.0.11") == "lim1"                # the master's own web application still does

    ui.keys("q")
    wait_for("q leaves the program", lambda: not ui.alive(), 5)
    total_s = time.monotonic() - started
    for secret in (MANAGER_PW, REPLICATION_PW):
        assert not any(secret in shown for shown in ui.captured), "a password was on the screen"
    ui_log = Path(lab.env["MXONE_ROOT"]) / "var/log/webserver_config-ui.log"
    assert ui_log.exists(), "the menus wrote no log"
    assert not any(secret in ui_log.read_text(errors="replace") for secret in (MANAGER_PW, REPLICATION_PW))
    print(f"through the menus: master {master_s:.1f} s, both {setup_s:.1f} s, all {total_s:.1f} s "
          f"({len(ui.captured)} screens captured)")
