#!/usr/bin/env python3
"""bench_stress: our agent and keepalived side by side under packet loss and CPU load (lab, root).

Method. One 1-LIM lab: cluster c1 (LIM 1 on lim1, standby sb1, automatic fallback) at the fastest
comparable settings, detect_s 0.3 and heartbeat_s 0.1, and at the same time, on the same two hosts,
keepalived 2.2.7 VRRPv3 advert_int 0.1 (lim1 MASTER priority 150, sb1 BACKUP 100, unicast between the
hosts' base addresses) moving its own alias 10.77.0.91, with the stand-in Service Node "LIM 9" on both
hosts (IP_FREEBIND), as in bench_keepalived.py. Nothing is killed: both masters stay alive all along,
so every answer from sb1 is a false failover.

Stress, for the whole run (STRESS_S, default 120 s), inside both hosts (`scripts/lab exec`):
- nftables (table inet mxstress, input hook) drops DROP % (default 20) of the liveness packets at
  random (`numgen random mod 100 < DROP`): our heartbeats (UDP dport 7400) and VRRP (ip protocol 112);
- variant 2 drops ARP at the same share too, in a netdev ingress hook on eth0 (the `arp` family's input
  hook only hides ARP from the kernel: the agent's AF_PACKET probe socket still sees the frame; the
  ingress hook runs before it, tested on this kernel);
- HOGS (default 2) busy-loop processes per host (`python3 -c 'while 1: pass'`).
Two clients (failover_client.py, a TCP attempt every 20 ms, 100 ms limit), one per alias, run the
whole time. Per mechanism: false failovers (changes of the answering host from the master to sb1),
failed attempts out of all, the longest time without an answer (ms); plus our agent's takeover events
on sb1 (events.jsonl) and keepalived's "Entering MASTER STATE" lines of sb1. Whatever happens, the
nft tables are deleted, the hogs and keepalived stopped (try/finally).

    scripts/bench --only stress [--stress-s 120] [--drop 20] [--stress-variants 1,2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench_failover import create_cluster
from bench_keepalived import ALIAS as KA_ALIAS, LIM as KA_LIM, SERVICE_NODE, VARIANTS, VRID, keepalived_conf
from failover_client import FailoverClient, changes
from labtools import Lab

from mxone_maintenance.core.model import DEFAULT_PORT as HEARTBEAT_PORT

MASTER, BACKUP = "lim1", "sb1"
OUR_ALIAS = "10.77.0.11"                          # LIM 1's alias (lim1's old address) once c1 exists
BASE = {MASTER: "10.77.0.111", BACKUP: "10.77.0.20"}
DETECT_S, HEARTBEAT_S = 0.3, 0.1
KA_VARIANT = VARIANTS["0.1"]
SETTLE_S = 15.0
TABLE = "mxstress"
MECHANISMS = {"agent": OUR_ALIAS, "keepalived": KA_ALIAS}


@dataclass(frozen=True)
class StressVariant:
    key: str
    name: str
    drop_arp: bool


STRESS_VARIANTS = {"1": StressVariant("liveness", "liveness dropped", False),
                   "2": StressVariant("liveness_arp", "liveness and ARP dropped", True)}


# ------------------------------------------------------------------ pure helpers (unit-tested)
def nft_rules(drop: int, arp: bool) -> str:
    """The nft script that drops `drop` % of heartbeats and VRRP (and ARP when `arp`) at random."""
    rules = (f"table inet {TABLE} {{\n chain input {{\n  type filter hook input priority -10; policy accept;\n"
             f"  udp dport {HEARTBEAT_PORT} numgen random mod 100 < {drop} counter drop\n"
             f"  ip protocol 112 numgen random mod 100 < {drop} counter drop\n }}\n}}\n")
    if arp:
        rules += (f"table netdev {TABLE} {{\n chain ingress {{\n  type filter hook ingress device \"eth0\" "
                  f"priority -10; policy accept;\n  ether type arp numgen random mod 100 < {drop} counter drop\n"
                  " }\n}\n")
    return rules


def answer_stats(samples: list[tuple[float, str]], master: str, began: float, ended: float) -> dict:
    """From (arrival time, answering host) samples in time order: false failovers (the master -> another
    host), answers by others, the longest time without an answer (also from `began` and to `ended`)."""
    moments = [began] + [at for at, _ in samples] + [ended]
    failovers, previous = 0, master
    for _, host in samples:
        if host != previous and previous == master:
            failovers += 1
        previous = host
    return {"false_failovers": failovers,
            "answers_by_others": sum(1 for _, host in samples if host != master),
            "longest_gap_ms": 1000 * max(b - a for a, b in zip(moments, moments[1:]))}


def count_events(history: bytes, since: float, kind: str) -> int:
    """Events of `kind` at or after `since` (wall clock) in an agent's events.jsonl."""
    count = 0
    for line in history.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("kind") == kind and event.get("at", 0) >= since:
            count += 1
    return count


# ------------------------------------------------------------------ the lab parts
def start_keepalived(lab: Lab, host: str, workdir: Path) -> subprocess.Popen:
    """keepalived in `host`, unicast between the cluster's base addresses (10.77.0.11 is LIM 1's alias)."""
    peer = BACKUP if host == MASTER else MASTER
    conf = workdir / f"{host}.conf"
    conf.write_text(keepalived_conf(host, BASE[peer], BASE[host], KA_VARIANT))
    pid = f"/run/keepalived-stress-{VRID}"
    argv = ["keepalived", "-n", "-l", "-D", "-P", "-f", str(conf), "-p", f"{pid}.pid", "-r", f"{pid}-vrrp.pid",
            "-c", f"{pid}-checkers.pid"]
    with open(workdir / f"{host}.log", "ab") as log:
        return subprocess.Popen([str(lab.script), "exec", host, *argv], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True)


def start_hogs(lab: Lab, hosts: list[str], per_host: int) -> list[subprocess.Popen]:
    """Busy loops inside the hosts (`lab exec` ends in exec: each Popen is the loop itself)."""
    return [subprocess.Popen([str(lab.script), "exec", host, "python3", "-c", "while 1: pass"],
                             stdin=subprocess.DEVNULL, start_new_session=True)
            for host in hosts for _ in range(per_host)]


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM, then SIGKILL after 3 s; every one reaped."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=3)


def install_drops(lab: Lab, hosts: list[str], drop: int, arp: bool) -> None:
    for host in hosts:
        lab.exec(host, "nft", "-f", "-", input=nft_rules(drop, arp))


def remove_drops(lab: Lab, hosts: list[str]) -> dict[str, int]:
    """Delete our tables (never raises on nft's answer); the packets each host dropped, from their counters."""
    dropped: dict[str, int] = {}
    for host in hosts:
        dropped[host] = 0
        for family in ("inet", "netdev"):
            listing = lab.exec(host, "nft", "list", "table", family, TABLE, check=False).stdout
            lab.exec(host, "nft", "delete", "table", family, TABLE, check=False)
            words = [part.split()[:2] for part in listing.split("counter")[1:]]
            dropped[host] += sum(int(w[1]) for w in words if len(w) == 2 and w[0] == "packets" and w[1].isdigit())
    return dropped


def wait_serving(alias: str, host: str) -> None:
    with FailoverClient(alias, seconds=SETTLE_S + 1) as client:
        if client.wait_for(host, timeout=SETTLE_S) is None:
            raise RuntimeError(f"{host} does not serve {alias}")


def keepalived_masters(log: Path, offset: int) -> int:
    """'Entering MASTER STATE' lines written to a keepalived log after byte `offset`."""
    with open(log, "rb") as file:
        file.seek(offset)
        return file.read().count(b"Entering MASTER STATE")


# ------------------------------------------------------------------ one run
def run_variant(variant: StressVariant, seconds: float, drop: int, hogs: int) -> dict:
    lab = Lab(1).reset(1)
    create_cluster(lab, DETECT_S, HEARTBEAT_S)
    stamp = lab.stamp()
    workdir = lab.dir / f"stress-{variant.key}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    hosts = [MASTER, BACKUP]
    daemons: list[subprocess.Popen] = []
    hog_procs: list[subprocess.Popen] = []
    try:
        for host in hosts:
            lab.exec(host, SERVICE_NODE, "start", str(KA_LIM), KA_ALIAS)
        daemons = [start_keepalived(lab, host, workdir) for host in hosts]
        for alias in MECHANISMS.values():
            wait_serving(alias, MASTER)
        time.sleep(2.0)                                    # both settled (agent hold, keepalived adverts)
        offset = (workdir / f"{BACKUP}.log").stat().st_size
        wall = time.time()
        install_drops(lab, hosts, drop, variant.drop_arp)
        hog_procs = start_hogs(lab, hosts, hogs)
        clients = {mech: FailoverClient(alias, seconds=seconds).start() for mech, alias in MECHANISMS.items()}
        try:
            watch_own_lab(lab, stamp, seconds + 0.3)
        finally:
            for client in clients.values():
                client.stop()
        ended = time.monotonic()
    finally:
        try:
            dropped = remove_drops(lab, hosts)
        finally:
            cleanup(lab, hosts, hog_procs + daemons)
    extra = {"agent": count_events(history(lab, BACKUP), wall, "takeover"),
             "keepalived": keepalived_masters(workdir / f"{BACKUP}.log", offset)}
    for mech, client in clients.items():
        save_changes(workdir / f"answers-{mech}.txt", client)
    alarms = sum(count_events(history(lab, host), wall, "alarm_raised") for host in hosts)
    return {mech: measured(client, ended, extra[mech]) for mech, client in clients.items()} | {
        "dropped_packets": dropped, "agent_yields": count_events(history(lab, MASTER), wall, "yield"),
        "agent_alarms_raised": alarms, "workdir": workdir}


def watch_own_lab(lab: Lab, stamp: tuple, seconds: float) -> None:
    """Wait ``seconds``, checking every second that nobody rebuilt the shared lab or revived a host in
    it (a test run's `lab up`): then the clients measure someone else's lab, and the run has no result."""
    began = time.monotonic()
    while (left := began + seconds - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        if lab.stamp() != stamp:
            raise RuntimeError(f"the lab was rebuilt or a host revived by someone else "
                               f"{time.monotonic() - began:.0f} s into the stress run: no result")


def cleanup(lab: Lab, hosts: list[str], procs: list[subprocess.Popen]) -> None:
    """Hogs and keepalived stopped, then the LIM 9 Service Nodes, whatever fails on the way."""
    try:
        stop(procs)
    finally:
        for host in hosts:
            lab.exec(host, SERVICE_NODE, "stop", str(KA_LIM), check=False)


def history(lab: Lab, host: str) -> bytes:
    return (lab.host_dir(host) / "var/agent/events.jsonl").read_bytes()


def save_changes(path: Path, client: FailoverClient) -> None:
    """Every change of the answering line, seconds from the client's start (for the diagnosis)."""
    lines = [f"{a.at - client.began:9.3f}  {a.line}" for a in changes(client.snapshot())]
    path.write_text("\n".join(lines) + "\n")


def measured(client: FailoverClient, ended: float, backup_takeovers: int) -> dict:
    samples = [(answer.at, answer.host) for answer in client.snapshot()]
    stats = answer_stats(samples, MASTER, client.began, min(ended, client.began + client.seconds))
    counts = client.counts
    failed = counts.refused + counts.timed_out + counts.errors     # (attempts still open at the end: neither)
    return stats | {"attempts": counts.answered + failed, "failed": failed,
                    "backup_takeovers": backup_takeovers}


def print_table(variant: StressVariant, result: dict, seconds: float, drop: int, hogs: int) -> None:
    print(f"stress {variant.name}: {drop} % for {seconds:g} s, {hogs} hogs per host; dropped by nft "
          f"{result['dropped_packets']}; agent: lim1 yields {result['agent_yields']}, alarms raised "
          f"{result['agent_alarms_raised']}; record in {result['workdir']}", file=sys.stderr)
    print(f"{'mechanism':<12} {'false failovers':>15} {'sb1 takeovers':>13} {'failed/attempts':>17} "
          f"{'longest gap':>12}", file=sys.stderr)
    for mech in MECHANISMS:
        r = result[mech]
        print(f"{mech:<12} {r['false_failovers']:>15} {r['backup_takeovers']:>13} "
              f"{r['failed']:>8}/{r['attempts']:<8} {r['longest_gap_ms']:>9.0f} ms", file=sys.stderr, flush=True)


def flatten(variant: StressVariant, result: dict) -> dict:
    out: dict = {f"stress_{variant.key}_agent_yields": float(result["agent_yields"]),
                 f"stress_{variant.key}_agent_alarms_raised": float(result["agent_alarms_raised"])}
    for mech in MECHANISMS:
        r = result[mech]
        prefix = f"stress_{variant.key}_{mech}_"
        out |= {prefix + "false_failovers": float(r["false_failovers"]),
                prefix + "backup_takeovers": float(r["backup_takeovers"]),
                prefix + "failed_attempts": float(r["failed"]), prefix + "attempts": float(r["attempts"]),
                prefix + "failed_percent": 100.0 * r["failed"] / max(r["attempts"], 1),
                prefix + "longest_gap_ms": r["longest_gap_ms"]}
    return out


def bench_stress(args: argparse.Namespace) -> dict:
    """Both mechanisms under random loss of liveness packets (and ARP) and CPU hogs: false failovers."""
    if os.geteuid() != 0 or shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
        raise RuntimeError("needs root and keepalived (apt-get install -y --no-install-recommends keepalived)")
    seconds = float(getattr(args, "stress_s", None) or 120.0)
    drop = int(getattr(args, "drop", None) if getattr(args, "drop", None) is not None else 20)
    hogs = int(getattr(args, "hogs", None) if getattr(args, "hogs", None) is not None else 2)
    out: dict = {}
    for name in (getattr(args, "stress_variants", None) or "1,2").split(","):
        variant = STRESS_VARIANTS[name.strip()]
        result = run_variant(variant, seconds, drop, hogs)
        print_table(variant, result, seconds, drop, hogs)
        out |= flatten(variant, result)
    out |= {"stress_seconds": seconds, "stress_drop_percent": float(drop), "stress_hogs_per_host": float(hogs)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_stress", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stress-s", type=float, default=120.0)
    parser.add_argument("--drop", type=int, default=20)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--stress-variants", default="1,2")
    print(json.dumps(bench_stress(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
