"""A change whose run is killed (SIGKILL: a closed terminal, a power cut on LIM 1) at each phase, then
the next run: status names the unfinished change, other changes are refused, and `cluster finish` or
`cluster undo` brings every server to one generation, with no staged files left and no LIM unserved."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers.cluster_lab import DETECT_S, ETC, UTILITY, generation_on, served_by, utility
from helpers.waiting import wait_for

CREATE = ("cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "automatic",
          "--detect-s", str(DETECT_S), "--heartbeat-s", "0.5", "--lim", "1:10.77.0.111",
          "--lim", "2:10.77.0.112", "--lim", "3:10.77.0.113")


def killed_at(lab, phase: str, *args: str) -> str:
    """Run a change and SIGKILL it as soon as a server reports `phase` ("staging", "committing");
    the output until then."""
    run = subprocess.Popen([str(UTILITY), *args, "--yes"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env={**os.environ, **lab.env})
    seen = []
    for line in run.stdout:
        seen.append(line)
        if line.strip().endswith(phase) or f": {phase}" in line:
            run.send_signal(signal.SIGKILL)
            break
    run.wait(timeout=30)
    run.stdout.close()
    assert run.returncode == -signal.SIGKILL, "".join(seen)
    print(f"killed at {phase}: generations {[generation_on(lab, h) for h in lab.servers]}, "
          f"staged {sorted(staged_left(lab))}")
    return "".join(seen)


def staged_left(lab) -> dict[str, str]:
    found = {}
    for host in lab.servers:
        out = lab.exec(host, "sh", "-c", f"ls -A {ETC} /root/.ssh /etc/sysconfig/network 2>/dev/null | "
                                         "grep -F .mxone- || true").stdout.strip()
        if out:
            found[host] = out
    return found


def journal(lab) -> Path:
    return lab.system_file.with_name(lab.system_file.name + ".journal")


def assert_unfinished_is_named(lab, title: str) -> None:
    status = utility(lab, "cluster", "status")
    assert "Unfinished change: " + title in status.stdout, status.stdout + status.stderr
    refused = utility(lab, "cluster", "change", "--name", "c1", "--priority", "3=2", "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "an interrupted change is not finished: " + title in refused.stderr
    assert "cluster finish" in refused.stderr and "cluster undo" in refused.stderr


def assert_converged(lab, served: dict[int, str], generation: int | None) -> None:
    assert not journal(lab).exists()
    assert {host: generation_on(lab, host) for host in lab.servers} == {host: generation for host in lab.servers}
    for lim, host in served.items():
        wait_for(f"LIM {lim} served by {host}", lambda lim=lim, host=host: served_by(lab, lim) == host,
                 DETECT_S + 10, lab=lab)
    assert staged_left(lab) == {}


@pytest.fixture
def lab3(lab_up):
    lab = lab_up(3).reset(3)
    made = utility(lab, *CREATE, "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    for n in (1, 2, 3):
        wait_for(f"LIM {n} on lim{n}", lambda n=n: served_by(lab, n) == f"lim{n}", 10, lab=lab)
    return lab


def test_a_lock_killed_while_committing_is_finished_by_the_next_run(lab3):
    killed_at(lab3, "committing", "cluster", "lock", "--lim", "1", "--to", "standby")
    assert journal(lab3).exists()
    assert_unfinished_is_named(lab3, "lock LIM 1 to the standby server")

    done = utility(lab3, "cluster", "finish", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Plan: finish the interrupted change: lock LIM 1 to the standby server" in done.stdout
    assert_converged(lab3, {1: "sb1", 2: "lim2", 3: "lim3"}, 2)
    listed = utility(lab3, "cluster", "status")
    assert "Unfinished change" not in listed.stdout and "Configuration differs" not in listed.stdout


def test_a_lock_killed_while_staging_is_undone_as_a_newer_generation(lab3):
    killed_at(lab3, "staging", "cluster", "lock", "--lim", "2", "--to", "standby")
    undone = utility(lab3, "cluster", "undo", "--yes")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert "cluster c1 at generation 3" in undone.stdout     # above the lock's 2, which agents may hold
    assert_converged(lab3, {1: "lim1", 2: "lim2", 3: "lim3"}, 3)
    again = utility(lab3, "cluster", "lock", "--lim", "2", "--to", "standby", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert_converged(lab3, {2: "sb1"}, 4)


def test_a_delete_killed_while_committing_is_undone_then_deleted(lab3):
    killed_at(lab3, "committing", "cluster", "delete", "--name", "c1")
    undone = utility(lab3, "cluster", "undo", "--yes")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert_converged(lab3, {1: "lim1", 2: "lim2", 3: "lim3"}, 1)
    for n in (1, 2, 3):
        assert f"10.77.0.{110 + n}/24" in lab3.addresses(f"lim{n}")

    start = time.monotonic()
    gone = utility(lab3, "cluster", "delete", "--name", "c1", "--yes")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    print(f"delete after an undone interrupted delete: {time.monotonic() - start:.2f} s")
    for n in (1, 2, 3):
        assert lab3.addresses(f"lim{n}") == [f"10.77.0.{10 + n}/24"]
    assert_converged(lab3, {1: "lim1", 2: "lim2", 3: "lim3"}, None)


def test_a_remove_lim_killed_while_committing_is_finished(lab3):
    killed_at(lab3, "committing", "cluster", "remove-lim", "--name", "c1", "--lim", "3")
    done = utility(lab3, "cluster", "finish", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert lab3.addresses("lim3") == ["10.77.0.13/24"]
    assert generation_on(lab3, "lim3") is None
    for host in ("lim1", "lim2", "sb1"):
        assert generation_on(lab3, host) == 2
    assert not journal(lab3).exists() and staged_left(lab3) == {}
    wait_for("LIM 3 still served by lim3", lambda: served_by(lab3, 3) == "lim3", 10, lab=lab3)
    lab3.kill("lim1")
    wait_for("LIM 1 on the standby", lambda: served_by(lab3, 1) == "sb1", DETECT_S + 5, lab=lab3)


def commit_by_hand(lab, host: str) -> None:
    """What a server had done when the run died between its commit and another's: the staged file in."""
    lab.exec(host, "sh", "-c", f'for f in {ETC}/.cluster.yaml.mxone-new-*; do [ -e "$f" ] && '
                               f'mv -- "$f" {ETC}/cluster.yaml; done; true')


def test_a_lock_half_committed_when_the_run_died_is_undone_everywhere(lab3):
    killed_at(lab3, "committing", "cluster", "lock", "--lim", "1", "--to", "standby")
    for host in ("lim1", "sb1"):
        commit_by_hand(lab3, host)
    assert generation_on(lab3, "lim1") == generation_on(lab3, "sb1") == 2
    wait_for("LIM 1 on the standby (locked there by generation 2)", lambda: served_by(lab3, 1) == "sb1",
             DETECT_S + 5, lab=lab3)
    undone = utility(lab3, "cluster", "undo", "--yes")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert_converged(lab3, {1: "lim1", 2: "lim2", 3: "lim3"}, 3)
