#!/usr/bin/env python3
"""bench_failover: how long the telephones lose a LIM when its server dies, and when it comes back.

In the lab (root): cluster c1 with lim1 (LIM 1) and the standby sb1, normal failover, automatic
fallback, detect_s D = 3 and heartbeat_s 0.5 unless told otherwise. A client in the client namespace
(failover_client.py) starts a new TCP attempt to the alias :7001 every 20 ms (overlapping, 100 ms
limit each) and records who answered. Each run: lim1 serves; after a random wait (so the kill lands
at a random phase of the heartbeat cycle) lim1 is killed (`scripts/lab kill`: SIGKILL of everything,
link down); outage = kill moment -> first answer from sb1. The kill moment is the later of the kill
command's start and lim1's last answer, which takes the lab script's own start-up out. Then lim1 is
revived (power cycle) and falls back automatically after the hold time; fallback gap = sb1's last
answer -> lim1's first (row 26: about two heartbeat periods plus the service's start).

With --flood, the client host sends forged datagrams (flood.py) to both agents' heartbeat port for
the whole of every run: the takeover must not be later, no run may see the standby answer while lim1
still lives (a false takeover), and the fallback must still happen.

    scripts/bench_failover.py [--runs 5] [--detect-s 3] [--heartbeat-s 0.5] [--seed N] [--flood]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from failover_client import FailoverClient, first_answer, last_answer  # noqa: E402
from flood import Flood  # noqa: E402
from labtools import Lab, venv_command  # noqa: E402

from mxone_maintenance.core.model import DEFAULT_FLAP_RETURNS  # noqa: E402

UTILITY = venv_command("mxone_maintenance")

ALIAS = "10.77.0.11"
REGULAR, STANDBY = "lim1", "sb1"
MIN_RUNS = 5
RETRIES = 3          # a run spoilt by someone else rebuilding the shared lab is done again, this often
RUNS_PER_LAB = DEFAULT_FLAP_RETURNS - 1   # flap damping makes fallback manual at the 3rd failure in 10 min
SETTLE_S = 15.0      # the cluster serves LIM 1 from lim1 within this after create or revive
FLOOD_TARGETS = ["10.77.0.20:7400", "10.77.0.111:7400"]     # both agents' heartbeat sockets


class LabChanged(Exception):
    """Someone else rebuilt the shared lab during a run: the run does not count."""


def create_cluster(lab: Lab, detect_s: float, heartbeat_s: float) -> None:
    args = ["cluster", "create", "--name", "c1", "--standby", STANDBY, "--lim", "1:10.77.0.111:5",
            "--detect-s", f"{detect_s:g}", "--heartbeat-s", f"{heartbeat_s:g}", "--fallback", "automatic",
            "--yes"]
    result = subprocess.run([UTILITY, *args], env={**os.environ, **lab.env},
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"cluster create failed:\n{result.stdout}{result.stderr}")


def fresh_lab(detect_s: float, heartbeat_s: float) -> tuple[Lab, tuple]:
    lab = Lab(1).reset(1)
    create_cluster(lab, detect_s, heartbeat_s)
    return lab, lab.stamp()


def one_run(lab: Lab, rng: random.Random, heartbeat_s: float, limit_s: float, stamp: tuple,
            flood: bool = False) -> dict:
    """Kill lim1 at a random phase, wait for sb1; revive lim1, wait for the fallback."""
    seconds = 2 * SETTLE_S + 2 * limit_s
    with FailoverClient(ALIAS, seconds=seconds) as client, _maybe_flood(flood, seconds) as flooding:
        if client.wait_for(REGULAR, timeout=SETTLE_S) is None:
            raise RuntimeError(f"{REGULAR} does not serve {ALIAS}")
        serving = time.monotonic()
        time.sleep((3.0 if flood else 1.0) + rng.uniform(0, heartbeat_s))   # random phase; under a flood,
        command = time.monotonic()                                          # seconds of it before the kill
        false_takeover = first_answer(client.snapshot(), serving, STANDBY) is not None
        lab.kill(REGULAR)
        first = client.wait_for(STANDBY, since=command, timeout=limit_s)
        if lab.stamp() != stamp:
            raise LabChanged("someone else rebuilt the lab or revived a host")
        if first is None:
            raise RuntimeError(f"{STANDBY} never answered within {limit_s:g} s of the kill")
        answers = client.snapshot()
        last = last_answer(answers, first.started, REGULAR)
        died = max(last.at, command) if last is not None else command

        revived = time.monotonic()
        lab.revive(REGULAR)
        back = client.wait_for(REGULAR, since=revived, timeout=SETTLE_S)
        if back is None:
            raise RuntimeError(f"no fallback to {REGULAR} within {SETTLE_S:g} s of the revive")
        time.sleep(0.3)   # answers that were already on their way
        answers = client.snapshot()
    before = last_answer(answers, back.started, STANDBY)
    stray = first_answer(answers, back.at, STANDBY)
    return {"outage_s": first.at - died, "from_command_s": first.at - command,
            "fallback_gap_s": back.at - before.at if before is not None else float("nan"),
            "fallback_after_revive_s": back.at - revived,
            "answered_by_standby_after_fallback": stray is not None,
            "false_takeover": false_takeover, "flood_sent": flooding.sent if flooding else 0}


def _maybe_flood(flood: bool, seconds: float) -> Flood | contextlib.nullcontext:
    return Flood(FLOOD_TARGETS, seconds) if flood else contextlib.nullcontext()


def measure(runs: int, detect_s: float, heartbeat_s: float, rng: random.Random, flood: bool = False) -> list[dict]:
    lab, stamp = fresh_lab(detect_s, heartbeat_s)
    results: list[dict] = []
    fresh_at = 0
    limit_s = detect_s + 5.0
    for number in range(runs * RETRIES):
        if len(results) == runs:
            break
        if lab.stamp() != stamp or (results and len(results) % RUNS_PER_LAB == 0 and fresh_at != len(results)):
            lab, stamp = fresh_lab(detect_s, heartbeat_s)
            fresh_at = len(results)
        try:
            result = one_run(lab, rng, heartbeat_s, limit_s, stamp, flood)
            if lab.stamp()[:2] != stamp[:2]:
                raise LabChanged("rebuilt by someone else")
        except (LabChanged, RuntimeError, AssertionError) as error:
            if not isinstance(error, LabChanged) and lab.stamp()[:2] == stamp[:2]:
                raise
            print(f"failover: the lab changed under run {number + 1} ({str(error).splitlines()[0]}): again",
                  file=sys.stderr, flush=True)
            continue
        stamp = lab.stamp()   # our own revive gave lim1 a new holder
        results.append(result)
        print(f"failover run {len(results)}: outage {result['outage_s']:.3f} s (D {detect_s:g}), "
              f"fallback gap {result['fallback_gap_s']:.3f} s"
              + (f", {result['flood_sent']} forged datagrams" if flood else ""), file=sys.stderr, flush=True)
    if len(results) < runs:
        raise RuntimeError(f"only {len(results)} of {runs} runs completed (the lab kept changing)")
    return results


def summary(results: list[dict], detect_s: float, prefix: str = "") -> dict:
    outages = [r["outage_s"] for r in results]
    gaps = [r["fallback_gap_s"] for r in results]
    return {prefix + key: value for key, value in _summary(results, outages, gaps, detect_s).items()}


def _summary(results: list[dict], outages: list[float], gaps: list[float], detect_s: float) -> dict:
    return {
        "failover_outage_median_s": statistics.median(outages),
        "failover_outage_worst_s": max(outages),
        "failover_outage_best_s": min(outages),
        "failover_outage_minus_detect_median_s": statistics.median(outages) - detect_s,
        "failover_outage_minus_detect_worst_s": max(outages) - detect_s,
        "failover_from_command_median_s": statistics.median(r["from_command_s"] for r in results),
        "fallback_gap_median_s": statistics.median(gaps),
        "fallback_gap_worst_s": max(gaps),
        "fallback_after_revive_median_s": statistics.median(r["fallback_after_revive_s"] for r in results),
        "fallback_standby_answered_after_regular_runs": float(
            sum(r["answered_by_standby_after_fallback"] for r in results)),
        "failover_false_takeovers": float(sum(r["false_takeover"] for r in results)),
        "failover_forged_datagrams_per_run": statistics.mean(r["flood_sent"] for r in results),
        "failover_detect_s": detect_s,
        "failover_runs": float(len(results)),
    }


def bench_failover(args) -> dict:
    """The agent's failover (regular killed -> standby serves) and fallback gap, >= 5 runs."""
    runs = max(getattr(args, "runs", MIN_RUNS) or MIN_RUNS, MIN_RUNS)
    detect_s = float(getattr(args, "detect_s", None) or 3.0)
    heartbeat_s = float(getattr(args, "heartbeat_s", None) or 0.5)
    rng = random.Random(getattr(args, "seed", None))
    flood = bool(getattr(args, "flood", False))
    return summary(measure(runs, detect_s, heartbeat_s, rng, flood), detect_s, "flood_" if flood else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_failover", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=MIN_RUNS)
    parser.add_argument("--detect-s", type=float, default=3.0)
    parser.add_argument("--heartbeat-s", type=float, default=0.5)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--flood", action="store_true", help="forged datagrams to both agents all along")
    print(json.dumps(bench_failover(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
