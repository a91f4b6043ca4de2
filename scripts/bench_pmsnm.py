#!/usr/bin/env python3
"""bench_pmsnm: PM/SNM redundancy as the client sees it (lab, root): how long /mp on the virtual IP does
not answer at failover (the master killed) and at a manual fallback, and how many rows the web
application acknowledged that are missing afterwards (must be 0).

Set-up once: cluster c1 (lim1 with LIM 1, sb1; manual fallback), `webserver_config redundancy setup`
master then standby. Each run: a writer PUTs a new row through the virtual IP every 50 ms and remembers
the ones acknowledged (204); a reader GETs /mp every 20 ms; lim1 is killed (`lab kill`, a random part of
a second after the run starts); once sb1 serves, lim1 is power-cycled, its database follows sb1, and
`redundancy fallback --yes` is ordered; once lim1 serves again, every acknowledged row is read back.
Registered in bench.py as "pmsnm"; standalone: `scripts/bench_pmsnm.py [--runs N]`."""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

from labtools import Lab, venv_command  # noqa: E402

VIP = "10.77.0.50"
SECRETS = "bench-manager-pw\nbench-repl-pw\n"
TOOL, UTILITY = venv_command("webserver_config"), venv_command("mxone_maintenance")


def run(lab: Lab, program: str, *args: str, secrets: str = "") -> str:
    done = subprocess.run([program, *args], input=secrets, env={**os.environ, **lab.env}, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{os.path.basename(program)} {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def serving(lab: Lab) -> str | None:
    answer = lab.http(VIP, "/mp", timeout=0.2)
    return answer[1].strip().rsplit(" on ", 1)[-1] if answer and answer[0] == 200 else None


def wait_until(what: str, probe, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)


class Client:
    """The writer and the reader, each on its own thread, until stopped."""

    def __init__(self, lab: Lab, tag: str):
        self.lab, self.tag, self.stop = lab, tag, threading.Event()
        self.acked: list[str] = []
        self.answers: list[tuple[float, str | None]] = []
        self.threads = [threading.Thread(target=self.write, daemon=True), threading.Thread(target=self.read, daemon=True)]
        for thread in self.threads:
            thread.start()

    def write(self) -> None:
        n = 0
        while not self.stop.is_set():
            key = f"{self.tag}-{n}"
            answer = self.lab.http(VIP, f"/wbm/rows/{key}", method="PUT", body=key, timeout=0.5)
            if answer and answer[0] in (200, 201, 204):
                self.acked.append(key)
            n += 1
            time.sleep(0.05)

    def read(self) -> None:
        while not self.stop.is_set():
            self.answers.append((time.monotonic(), serving(self.lab)))
            time.sleep(0.02)

    def switch(self, since: float, old: str, new: str) -> float:
        """The client's outage of a move from `old` to `new` after `since`: from the last answer `old`
        gave to the first one `new` gave (answers from both sides at once would be a split: counted 0)."""
        after = [(moment, host) for moment, host in self.answers if moment >= since - 5]
        first_new = next((m for m, h in after if h == new and m >= since), None)
        if first_new is None:
            raise RuntimeError(f"{new} never answered after the move")
        last_old = max((m for m, h in after if h == old and m < first_new), default=since)
        return max(0.0, first_new - last_old)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def one_run(lab: Lab, number: int) -> dict:
    client = Client(lab, f"run{number}")
    time.sleep(1 + random.random())
    killed = time.monotonic()
    lab.kill("lim1")
    wait_until("sb1 serves PM/SNM", lambda: serving(lab) == "sb1", 30)
    lab.revive("lim1")
    wait_until("lim1's database follows sb1", lambda: json.loads(run(lab, TOOL, "redundancy", "status", "--json"))
               ["servers"][0].get("database_role") == "standby", 120)
    ordered = time.monotonic()
    run(lab, TOOL, "redundancy", "fallback", "--yes")
    wait_until("lim1 serves PM/SNM", lambda: serving(lab) == "lim1", 30)
    time.sleep(1)
    client.finish()
    failover, fallback = client.switch(killed, "lim1", "sb1"), client.switch(ordered, "sb1", "lim1")
    lost = [key for key in client.acked
            if (lab.http(VIP, f"/wbm/rows/{key}", timeout=1.0) or (0, ""))[1] != key]
    return {"failover_gap_s": failover, "fallback_gap_s": fallback, "rows_acked": len(client.acked),
            "rows_lost": len(lost)}


def bench_pmsnm(args) -> dict:
    runs = max(getattr(args, "runs", 3) or 3, 1)
    lab = Lab(2)
    lab.reset(2)
    run(lab, UTILITY, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "manual",
        "--detect-s", "1", "--heartbeat-s", "0.2", "--lim", "1:10.77.0.111", "--yes")
    for role in ("master", "standby"):
        run(lab, TOOL, "redundancy", "setup", "--role", role, "--virtual-ip", VIP, "--replication-user",
            "replicator", "--yes", secrets=SECRETS)
    wait_until("lim1 serves PM/SNM", lambda: serving(lab) == "lim1", 30)
    results = [one_run(lab, n) for n in range(1, runs + 1)]
    for n, r in enumerate(results, 1):
        print(f"pmsnm run {n}: /mp unanswered {r['failover_gap_s']:.2f} s at failover, {r['fallback_gap_s']:.2f} s "
              f"at fallback; {r['rows_lost']} of {r['rows_acked']} acknowledged rows lost", file=sys.stderr)
    return {"pmsnm_failover_gap_median_s": statistics.median(r["failover_gap_s"] for r in results),
            "pmsnm_failover_gap_worst_s": max(r["failover_gap_s"] for r in results),
            "pmsnm_fallback_gap_median_s": statistics.median(r["fallback_gap_s"] for r in results),
            "pmsnm_fallback_gap_worst_s": max(r["fallback_gap_s"] for r in results),
            "pmsnm_rows_acked": sum(r["rows_acked"] for r in results),
            "pmsnm_rows_lost": sum(r["rows_lost"] for r in results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_pmsnm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    print(json.dumps(bench_pmsnm(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
