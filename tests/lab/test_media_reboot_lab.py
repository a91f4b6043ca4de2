"""Issue 19 in the lab, seen by the client: a co-located Media Server moves with its LIM (7001 and 7002
answer from the standby after a failover, from the regular again after the fallback), and a Media
Server bound elsewhere is refused before anything changes; `cluster reboot --server lim1` keeps LIM 1
off the standby throughout and ends unlocked with LIM 1 on lim1."""
from __future__ import annotations

import threading
import time

import pytest
from helpers.cluster_lab import served_by, utility
from helpers.waiting import wait_for
from labtools import Lab, socket_in_netns

CREATE = ("cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "automatic", "--detect-s", "1",
          "--heartbeat-s", "0.2", "--hold-s", "2", "--lim", "1:10.77.0.111", "--yes")


def ask(ip: str, port: int) -> str | None:
    try:
        with socket_in_netns("mxlab-client", 0.5) as sock:
            sock.connect((ip, port))
            return sock.recv(200).decode(errors="replace").strip() or None
    except OSError:
        return None


@pytest.fixture
def media_lab(lab_up):
    lab = lab_up(1).reset(1, media_server=True)
    yield lab
    lab.up(1)                                             # the next tests get the plain lab back


def test_a_media_server_bound_elsewhere_is_refused_before_anything_changes(media_lab):
    lab = media_lab
    conf = lab.host_dir("lim1") / "etc/lab-ms.conf"
    conf.write_text("control_address=10.77.0.11\nmedia_address=10.77.0.99\n")
    refused = utility(lab, *CREATE)
    assert refused.returncode == 1
    assert "the Media Server on lim1 binds control 10.77.0.11 and media 10.77.0.99, not LIM 1's alias " \
           "10.77.0.11: it would not move with the LIM" in refused.stdout + refused.stderr
    assert not (lab.host_dir("lim1") / "etc/cluster.yaml").exists()


def test_a_co_located_media_server_moves_with_its_lim(media_lab):
    lab = media_lab
    made = utility(lab, *CREATE)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "a co-located Media Server on lim1 binds control and media to LIM 1's alias 10.77.0.11" in made.stdout
    wait_for("both on lim1", lambda: (ask("10.77.0.11", 7001), ask("10.77.0.11", 7002)) == ("LIM 1 on lim1", "MS 1 on lim1"),
             15, lab=lab)
    lab.kill("lim1")
    wait_for("both on sb1", lambda: (ask("10.77.0.11", 7001), ask("10.77.0.11", 7002)) == ("LIM 1 on sb1", "MS 1 on sb1"),
             15, lab=lab)
    lab.revive("lim1")
    wait_for("both back on lim1", lambda: (ask("10.77.0.11", 7001), ask("10.77.0.11", 7002)) ==
             ("LIM 1 on lim1", "MS 1 on lim1"), 30, lab=lab)
    assert "MS 1" not in (lab.exec("sb1", "lab-media-server", "status", "1", check=False).stdout or "running")


class Watch:
    """The client: who answers LIM 1's alias, every 50 ms."""

    def __init__(self, lab: Lab):
        self.lab, self.seen, self.stop = lab, set(), threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            self.seen.add(served_by(self.lab, 1))
            time.sleep(0.05)

    def finish(self) -> set:
        self.stop.set()
        self.thread.join()
        return self.seen


def test_a_guided_reboot_keeps_the_lim_off_the_standby_and_ends_unlocked(lab_up):
    lab = lab_up(1).reset(1)
    made = utility(lab, *CREATE)
    assert made.returncode == 0, made.stdout + made.stderr
    wait_for("LIM 1 on lim1", lambda: served_by(lab, 1) == "lim1", 15, lab=lab)
    watch = Watch(lab)
    rebooted = utility(lab, "cluster", "reboot", "--server", "lim1", "--wait-s", "120", "--yes")
    seen = watch.finish()
    assert rebooted.returncode == 0, rebooted.stdout + rebooted.stderr
    assert "Guided reboot of lim1: done" in rebooted.stdout
    assert "back after" in rebooted.stdout
    assert "sb1" not in seen and "lim1" in seen and None in seen     # it was down, never on the standby
    assert served_by(lab, 1) == "lim1"
    assert "lock: null" in lab.system_file.read_text() and "lock: regular" not in lab.system_file.read_text()
    assert not lab.system_file.with_name(lab.system_file.name + ".reboot").exists()
