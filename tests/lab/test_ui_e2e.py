"""End to end: the real program in tmux against the lab — create a cluster through the menus, then read
it back in Show status (the agents answer over SSH)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.lab


class Tmux:
    """One tmux server on its own socket, running the program in a 100x30 window."""

    def __init__(self, socket: Path, command: list[str], env: dict[str, str]) -> None:
        self.socket = str(socket)
        exports = [f"{name}={value}" for name, value in env.items()]
        self.tmux("new-session", "-d", "-x", "100", "-y", "30", "env", *exports, *command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True,
                              check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", key)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)

    def wait_for(self, *texts: str, timeout: float = 10, fail_on: tuple[str, ...] = ("Traceback",)) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            try:
                shown = self.screen()
            except subprocess.CalledProcessError:
                pytest.fail(f"the program ended while waiting for {texts}; last screen:\n{shown}")
            bad = [t for t in fail_on if t in shown]
            if bad:
                pytest.fail(f"{bad[0]!r} on screen while waiting for {texts}:\n{shown}")
            if all(t in shown for t in texts):
                return shown
            time.sleep(0.1)
        pytest.fail(f"waited {timeout} s for {texts}; the screen shows:\n{shown}")

    def wait_for_any(self, *texts: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if any(t in shown for t in texts):
                return shown
            time.sleep(0.1)
        pytest.fail(f"waited {timeout} s for any of {texts}; the screen shows:\n{shown}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-S", self.socket, "has-session"], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


def test_create_a_cluster_through_the_menus_and_see_it_in_show_status(lab, tmp_path):
    lab.reset(2)
    env = {**lab.env, "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    started = time.monotonic()
    ui = Tmux(tmp_path / "tmux.sock", [sys.executable, "-m", "mxone_maintenance.utility.cli"], env)
    try:
        ui.wait_for("Cluster handling", "q quit")
        first_screen_s = time.monotonic() - started
        ui.keys("3")
        ui.wait_for("Sync exchange data within cluster")
        ui.keys("3")
        ui.wait_for("Create new cluster in system", "LIM 1 on lim1", "LIM 2 on lim2")
        ui.keys("Tab", "Tab", "Space")                        # name c1 -> standby sb1 -> tick LIM 1
        ui.wait_for("New base address")
        ui.keys("Tab")
        ui.type("10.77.0.111")
        ui.keys("Tab", "Tab", "Space")                        # priority 5 -> tick LIM 2
        ui.wait_for("10.77.0.111")
        ui.keys("Tab")
        ui.type("10.77.0.112")
        ui.wait_for("10.77.0.112")
        for _ in range(5):                                    # priority, fallback, detect, heartbeat, [Show plan]
            ui.keys("Tab")
        ui.keys("Enter")                                      # [Show plan]
        ui.wait_for("Plan: create cluster c1: LIM 1, 2 with standby sb1", "< Apply >")
        ui.keys("Left", "Enter")                              # the plan starts on Back: [Apply] is left of it
        result = ui.wait_for_any("Done: create cluster c1", "FAILED", timeout=90)
        if "FAILED" in result:
            pytest.fail(f"apply failed:\n{result}")
        ui.keys("Enter")
        ui.wait_for("Cluster handling")
        ui.keys("2")
        shown = ui.wait_for("updated", "Servers answering: lim1 yes, lim2 yes, sb1 yes", "1    lim1      lim1",
                            "2    lim2      lim2", timeout=45)
        assert "Cluster c1: generation 1, normal failover, automatic fallback, standby sb1" in shown
        ui.keys("Escape", "Escape", "q")
        deadline = time.monotonic() + 5
        while ui.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not ui.alive(), "q did not leave the program"
        assert first_screen_s < 3, f"first screen after {first_screen_s:.2f} s"
    finally:
        ui.close()
