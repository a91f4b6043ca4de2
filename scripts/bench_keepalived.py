#!/usr/bin/env python3
"""bench_keepalived: the yardstick. keepalived's client-visible failover time in the lab (root).

Two lab hosts run keepalived 2.2.7 (no systemd: `keepalived -n -l -D -P -f CONF -p/-r/-c PIDFILES`
inside the host): lim1 MASTER, sb1 BACKUP, unicast VRRP between them, one alias (10.77.0.91, in no
cluster). The lab's stand-in Service Node runs on both hosts for "LIM 9", bound to the alias with
IP_FREEBIND, so whoever holds the alias answers "LIM 9 on <host>". The measuring client
(failover_client.py) connects to the alias every 20 ms from the client namespace.

A run: both keepalived started fresh, wait until lim1 answers, wait a random part of the advert cycle
(so the failure lands at a random phase), kill lim1 (`scripts/lab kill`: SIGKILL of every process, link
down), wait for sb1's first answer. Outage = kill moment -> first answer from sb1, where the kill moment
is when lim1 stopped answering (its last answer), which takes `scripts/lab kill`'s own start-up out;
`..._from_command` is measured from the moment the kill command was started. Then keepalived stops
on sb1, lim1 is revived (power cycle) and the next run begins.

Variants: VRRPv2 advert_int 1 (keepalived's default), VRRPv3 advert_int 0.1 (the fastest it allows).
Registered in bench.py as "keepalived"; standalone: `scripts/bench_keepalived.py [--runs N] [--only 1|0.1]`.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from failover_client import FailoverClient, first_answer, last_answer  # noqa: E402
from labtools import Lab  # noqa: E402

ALIAS = "10.77.0.91"
VRID = 91
LIM = 9
MASTER, BACKUP = "lim1", "sb1"
PRIORITY = {MASTER: 150, BACKUP: 100}
SERVICE_NODE = str(REPO / "scripts/lab-service-node")
MIN_RUNS = 5
SETTLE_S = 10.0             # keepalived up and lim1 answering
FAILOVER_LIMIT_S = 15.0     # a run that never fails over gives up here
RETRIES = 3                 # runs spoiled (e.g. by someone else's use of the shared lab): at most runs x 3 tries


@dataclass(frozen=True)
class Variant:
    name: str
    advert_int: float
    vrrp_version: int

    @property
    def key(self) -> str:
        return f"advert_int_{str(self.advert_int).replace('.', '_')}"


VARIANTS = {"1": Variant("VRRPv2 advert_int 1", 1.0, 2), "0.1": Variant("VRRPv3 advert_int 0.1", 0.1, 3)}


def keepalived_conf(host: str, peer_ip: str, own_ip: str, variant: Variant) -> str:
    state = "MASTER" if host == MASTER else "BACKUP"
    return f"""global_defs {{
    router_id {host}
    vrrp_version {variant.vrrp_version}
    script_user root
    enable_script_security
}}
vrrp_instance VI_{VRID} {{
    state {state}
    interface eth0
    virtual_router_id {VRID}
    priority {PRIORITY[host]}
    advert_int {variant.advert_int}
    unicast_src_ip {own_ip}
    unicast_peer {{
        {peer_ip}
    }}
    virtual_ipaddress {{
        {ALIAS}/24 dev eth0
    }}
}}
"""


class Keepalived:
    """keepalived in one lab host, in the foreground of a `scripts/lab exec` (nsenter execs it)."""

    def __init__(self, lab: Lab, host: str, workdir: Path):
        self.lab, self.host, self.workdir = lab, host, workdir
        self.proc: subprocess.Popen | None = None

    def start(self, variant: Variant) -> None:
        peer = BACKUP if self.host == MASTER else MASTER
        conf = self.workdir / f"{self.host}.conf"
        conf.write_text(keepalived_conf(self.host, self.lab.address(peer), self.lab.address(self.host), variant))
        log = open(self.workdir / f"{self.host}.log", "ab")
        pid = f"/run/keepalived-bench-{VRID}"
        argv = ["keepalived", "-n", "-l", "-D", "-P", "-f", str(conf), "-p", f"{pid}.pid", "-r", f"{pid}-vrrp.pid",
                "-c", f"{pid}-checkers.pid"]
        self.proc = subprocess.Popen([str(self.lab.script), "exec", self.host, *argv], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True)
        log.close()

    def stop(self) -> None:
        """SIGTERM (keepalived removes its address), SIGKILL after 3 s; always reaped."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)
        self.proc = None


def service_nodes(lab: Lab, hosts: list[str]) -> None:
    for host in hosts:
        lab.exec(host, SERVICE_NODE, "start", str(LIM), ALIAS)


def drop_alias(lab: Lab, host: str) -> None:
    if f"{ALIAS}/24" in lab.addresses(host):
        lab.exec(host, "ip", "addr", "del", f"{ALIAS}/24", "dev", "eth0", check=False)


def one_run(lab: Lab, variant: Variant, workdir: Path, rng: random.Random) -> dict:
    """One failover of lim1 -> sb1; the outage numbers of this run."""
    daemons = {host: Keepalived(lab, host, workdir) for host in (MASTER, BACKUP)}
    service_nodes(lab, [MASTER, BACKUP])
    with FailoverClient(ALIAS, seconds=SETTLE_S + FAILOVER_LIMIT_S + 5) as client:
        try:
            for daemon in daemons.values():
                daemon.start(variant)
            if client.wait_for(MASTER, timeout=SETTLE_S) is None:
                raise RuntimeError(f"{MASTER} never answered on {ALIAS} (see {workdir})")
            time.sleep(3 * variant.advert_int + rng.uniform(0, variant.advert_int))
            command = time.monotonic()
            lab.kill(MASTER)
            first = client.wait_for(BACKUP, since=command, timeout=FAILOVER_LIMIT_S)
            if first is None:
                raise RuntimeError(f"{BACKUP} never answered after the kill (see {workdir})")
            answers = client.snapshot()
        finally:
            for daemon in daemons.values():      # the master's died with its host: only reaped
                daemon.stop()
    last = last_answer(answers, first.started, MASTER)
    if last is None or last.at < command - 0.1 or first_answer(answers, command - 1.0, BACKUP) is not first:
        raise RuntimeError(f"{MASTER} was not the one answering when it was killed")
    died = max(last.at, command)
    return {"outage_s": first.at - died, "from_command_s": first.at - command}


class LabChanged(Exception):
    """Someone else rebuilt or resized the shared lab during a run: the run does not count."""


def ensure_own_lab(lab: Lab, stamp: tuple) -> tuple:
    """The lab as this bench left it (repaired: dead hosts revived, cut ones healed), else rebuilt with
    1 LIM; returns the stamp to compare with after the run."""
    if stamp and lab.stamp() == stamp:
        lab.up(1)
    else:
        lab.reset(1)
    for host in (MASTER, BACKUP):
        drop_alias(lab, host)
    return lab.stamp()


def reset_hosts(lab: Lab) -> None:
    lab.revive(MASTER)


def measure(lab: Lab, variant: Variant, runs: int, rng: random.Random) -> list[dict]:
    workdir = lab.dir / "keepalived"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    results: list[dict] = []
    stamp: tuple = ()
    for number in range(runs * RETRIES):
        if len(results) == runs:
            break
        try:
            stamp = ensure_own_lab(lab, stamp)
            result = one_run(lab, variant, workdir, rng)
            if lab.stamp() != stamp:
                raise LabChanged("the lab was rebuilt by someone else")
            reset_hosts(lab)
        except (LabChanged, RuntimeError, AssertionError, subprocess.SubprocessError) as error:
            print(f"keepalived: run {number + 1} spoiled, again: {str(error).splitlines()[0]}",
                  file=sys.stderr, flush=True)
            continue
        stamp = lab.stamp()         # revive records lim1's new holder
        results.append(result)
        print(f"keepalived {variant.name} run {len(results)}: outage {result['outage_s']:.3f} s "
              f"(from the kill command {result['from_command_s']:.3f} s)", file=sys.stderr, flush=True)
    if len(results) < runs:
        raise RuntimeError(f"only {len(results)} of {runs} keepalived runs succeeded (the lab kept changing)")
    return results


def summary(variant: Variant, results: list[dict]) -> dict:
    outages = [r["outage_s"] for r in results]
    commands = [r["from_command_s"] for r in results]
    return {f"keepalived_{variant.key}_outage_median_s": statistics.median(outages),
            f"keepalived_{variant.key}_outage_worst_s": max(outages),
            f"keepalived_{variant.key}_outage_best_s": min(outages),
            f"keepalived_{variant.key}_from_command_median_s": statistics.median(commands),
            f"keepalived_{variant.key}_runs": float(len(results))}


def bench_keepalived(args) -> dict:
    """keepalived failover, lim1 -> sb1, at advert_int 1 and 0.1: median and worst of >= 5 runs."""
    if shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
        raise RuntimeError("keepalived is not installed (apt-get install -y --no-install-recommends keepalived)")
    runs = max(getattr(args, "runs", MIN_RUNS), MIN_RUNS)
    rng = random.Random(getattr(args, "seed", None))
    lab = Lab(1)
    out: dict = {}
    try:
        for name in (getattr(args, "variants", None) or list(VARIANTS)):
            out.update(summary(VARIANTS[name], measure(lab, VARIANTS[name], runs, rng)))
    finally:
        for host in (MASTER, BACKUP):
            lab.exec(host, SERVICE_NODE, "stop", str(LIM), check=False)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_keepalived", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=MIN_RUNS)
    parser.add_argument("--only", choices=list(VARIANTS), help="one variant (advert_int)")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    args.variants = [args.only] if args.only else None
    print(json.dumps(bench_keepalived(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
