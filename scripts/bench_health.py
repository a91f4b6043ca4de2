#!/usr/bin/env python3
"""bench_health: from a dead or hung Service Node on a live regular to the client served by the standby
(lab, root). The lab's agents check the stand-in Service Node every 2 s (TCP 7001, its greeting expected
within 1 s), 3 misses are the verdict; heartbeat 0.2 s, detect 1 s, hold 3 s.

Each run: cluster c1 with LIM 1 on lim1; a random part of the check interval later the Service Node of
LIM 1 on lim1 is killed (SIGKILL: connections refused) or stopped (SIGSTOP: the kernel still accepts
connections, nothing answers); measured until the client's call to LIM 1's alias is answered by sb1.
Registered in bench.py as "health"; standalone: `scripts/bench_health.py [--runs N]`."""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

from labtools import Lab, venv_command  # noqa: E402

UTILITY = venv_command("mxone_maintenance")
LIMIT_S = 30.0


def served_by(lab: Lab) -> str | None:
    answer = lab.ask_alias("10.77.0.11", timeout=0.3)
    return answer.removeprefix("LIM 1 on ") if answer else None


def wait_until(what: str, probe, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(0.02)
    return time.monotonic()


def one_run(lab: Lab, signal_name: str) -> float:
    lab.reset(1)
    done = subprocess.run([UTILITY, "cluster", "create", "--name", "c1", "--standby", "sb1", "--detect-s", "1",
                           "--heartbeat-s", "0.2", "--hold-s", "3", "--lim", "1:10.77.0.111", "--yes"],
                          env={**os.environ, **lab.env}, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    wait_until("LIM 1 on lim1", lambda: served_by(lab) == "lim1", 15)
    time.sleep(5 + random.random() * 2)       # checks passing by now; the kill at a random phase
    pid = lab.exec("lim1", "cat", "/run/mxone-lab-sn-1.pid").stdout.split()[0]
    started = time.monotonic()
    lab.exec("lim1", "kill", f"-{signal_name}", pid)
    return wait_until("LIM 1 on sb1", lambda: served_by(lab) == "sb1", LIMIT_S) - started


def bench_health(args) -> dict:
    runs = max(getattr(args, "runs", 3) or 3, 1)
    lab = Lab(1)
    result: dict = {}
    for signal_name, what in (("KILL", "dead"), ("STOP", "hung")):
        times = [one_run(lab, signal_name) for _ in range(runs)]
        print(f"health: {what} Service Node -> served by the standby: " +
              ", ".join(f"{t:.2f}" for t in times) + " s", file=sys.stderr)
        result[f"health_{what}_median_s"] = statistics.median(times)
        result[f"health_{what}_worst_s"] = max(times)
    lab.reset(1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_health", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    print(json.dumps(bench_health(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
