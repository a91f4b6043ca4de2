"""bench_status: `cluster status` of an 11-host cluster (10 LIMs and the standby, heartbeat 0.5 s) as the
technician runs it, and the agents at idle.

- `cluster status` answered by lim1's agent (the lab's admin seat is lim1's /run: the command's local
  control socket), wall time of the whole command from its start (interpreter included) to its exit,
  as installed for technicians (scripts/install into a test prefix: a regular, not an editable, install)
  and from the project's venv (an editable install, whose import hook costs some milliseconds more);
  side by side, in the same run, the anchor: the same command with every agent asked over SSH (the
  seat's link to lim1's /run moved aside for those runs, as on a server whose agent does not answer).
- The same with lim10 dead (killed: no SSH wait on it through the local agent; the SSH anchor waits
  the status connect timeout).
- The agents idle with 10 peers each: resident memory (VmRSS) and CPU over 10 s, per agent.
Registered in bench.py as "status"; runs alone as `scripts/bench_status.py [--runs N]` too.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from labtools import Lab, venv_command

UTILITY = venv_command("mxone_maintenance")
HOSTS = 11
REPO = Path(__file__).resolve().parent.parent
INSTALL_PREFIX = Path("/tmp/mxone-bench-install")


def installed_utility() -> str:
    """scripts/install into INSTALL_PREFIX (safe to rerun: it upgrades in place)."""
    subprocess.run([str(REPO / "scripts/install")], env={**os.environ, "MXONE_INSTALL_PREFIX": str(INSTALL_PREFIX)},
                   check=True, capture_output=True, timeout=600)
    return str(INSTALL_PREFIX / "bin/mxone_maintenance")


def status_once(lab: Lab, complete: bool = True, utility: str = UTILITY) -> tuple[float, str]:
    """One `cluster status`; exit 0 when every server answered, 1 when one did not."""
    start = time.perf_counter()
    result = subprocess.run([utility, "cluster", "status"], env={**os.environ, **lab.env},
                            capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert result.returncode == (0 if complete else 1), result.stdout + result.stderr
    return elapsed, result.stdout


def covered_by_lim1(out: str) -> bool:
    return "Heard by lim1's agent" in out and "asked over SSH" not in out


@contextlib.contextmanager
def seat_without_agent(lab: Lab) -> Iterator[None]:
    """The admin seat without lim1's /run: the command finds no local agent and asks over SSH."""
    seat = lab.dir / "admin/run"
    aside = lab.dir / "admin/run.bench-aside"
    seat.rename(aside)
    try:
        yield
    finally:
        aside.rename(seat)


def timed(lab: Lab, runs: int, complete: bool, local: bool, utility: str = UTILITY) -> list[float]:
    times = []
    for _ in range(runs):
        elapsed, out = status_once(lab, complete, utility)
        assert covered_by_lim1(out) == local, out
        times.append(elapsed)
    return times


def agent_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "mxone-cluster-agent --root / run"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])          # utime + stime


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def idle_agents(window: float = 10.0) -> tuple[list[float], list[float]]:
    """(RSS MB, CPU % of one core) of every agent over `window` seconds."""
    pids = agent_pids()
    ticks = {pid: cpu_ticks(pid) for pid in pids}
    time.sleep(window)
    cpu = [(cpu_ticks(pid) - ticks[pid]) / os.sysconf("SC_CLK_TCK") / window * 100 for pid in pids]
    return [rss_kb(pid) / 1024 for pid in pids], cpu


def create(lab: Lab) -> None:
    args = ["cluster", "create", "--name", "c1", "--standby", "sb1", "--detect-s", "3", "--heartbeat-s", "0.5",
            "--yes"] + [a for n in range(1, HOSTS) for a in ("--lim", f"{n}:10.77.0.{110 + n}")]
    result = subprocess.run([UTILITY, *args], env={**os.environ, **lab.env}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def wait_covered(lab: Lab, complete: bool, limit_s: float = 30.0) -> None:
    """Until lim1's agent covers every member (and every server answers, or all but a dead one)."""
    until = time.monotonic() + limit_s
    while time.monotonic() < until:
        result = subprocess.run([UTILITY, "cluster", "status"], env={**os.environ, **lab.env},
                                capture_output=True, text=True, timeout=60)
        if covered_by_lim1(result.stdout) and result.returncode == (0 if complete else 1):
            return
        time.sleep(0.5)
    raise RuntimeError("lim1's agent never covered every member")


def bench_status(args) -> dict:
    installed = installed_utility()
    lab = Lab(HOSTS - 1).reset(HOSTS - 1)
    create(lab)
    wait_covered(lab, complete=True)
    runs = max(getattr(args, "runs", 3), 5)
    local = timed(lab, runs, True, local=True, utility=installed)
    dev_venv = timed(lab, runs, True, local=True)
    with seat_without_agent(lab):
        over_ssh = timed(lab, 3, True, local=False, utility=installed)
    rss, cpu = idle_agents()
    lab.kill("lim10")
    try:
        wait_covered(lab, complete=False)
        local_dead = timed(lab, runs, False, local=True, utility=installed)
        with seat_without_agent(lab):
            ssh_dead = timed(lab, 3, False, local=False, utility=installed)
    finally:
        lab.revive("lim10")
    return {"cluster_status_11_hosts_s": statistics.median(local),
            "cluster_status_11_hosts_max_s": max(local),
            "cluster_status_11_hosts_editable_venv_s": statistics.median(dev_venv),
            "cluster_status_11_hosts_over_ssh_s": statistics.median(over_ssh),
            "cluster_status_one_server_dead_s": statistics.median(local_dead),
            "cluster_status_one_server_dead_max_s": max(local_dead),
            "cluster_status_one_server_dead_over_ssh_s": statistics.median(ssh_dead),
            "agent_idle_rss_mb_median": statistics.median(rss), "agent_idle_rss_mb_max": max(rss),
            "agent_idle_cpu_percent_median": statistics.median(cpu), "agent_idle_cpu_percent_max": max(cpu)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    for key, value in bench_status(parser.parse_args()).items():
        print(f"{key:<44} {value:10.3f}")
