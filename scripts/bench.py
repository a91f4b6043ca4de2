"""The benchmarks behind `scripts/bench`: each a function that returns named numbers, run in the lab.

Speed targets live here, never in timed tests. Every number is measured against real servers
(OpenSSH in network namespaces), the way a technician or a client would meet them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from labtools import Lab, venv_command  # noqa: E402

UTILITY = venv_command("mxone_maintenance")

from mxone_maintenance.core import config as files  # noqa: E402
from mxone_maintenance.core.paths import Paths  # noqa: E402
from mxone_maintenance.utility.ops.apply import apply_plan  # noqa: E402
from mxone_maintenance.utility.ops.cluster import plan_create, plan_delete  # noqa: E402
from mxone_maintenance.utility.ops.requests import CreateCluster, DeleteCluster, LimSpec, RuntimeFacts  # noqa: E402
from mxone_maintenance.utility.remote.settings import SshSettings  # noqa: E402

BENCHES: dict[str, Callable[[argparse.Namespace], dict]] = {}


def bench(name: str):
    def register(fn):
        BENCHES[name] = fn
        return fn
    return register


def lab_with(lims: int) -> Lab:
    return Lab(lims).reset(lims)


def _create_and_delete(lab: Lab, parallel: bool) -> float:
    system = files.load_system(lab.system_file)
    specs = tuple(LimSpec(n, f"10.77.0.{110 + n}") for n in range(1, lab.lims + 1))
    plan = plan_create(system, CreateCluster("c1", "sb1", specs), b"0" * 64 + b"\n")
    settings = SshSettings.from_env(lab.env)
    paths = Paths.from_env(lab.env["MXONE_ROOT"])
    start = time.perf_counter()
    result = apply_plan(plan, paths, lab.system_file, settings, parallel=parallel)
    elapsed = time.perf_counter() - start
    assert result.ok, result.text()
    system = files.load_system(lab.system_file)
    undo = apply_plan(plan_delete(system, DeleteCluster("c1"), RuntimeFacts(frozenset(), known=True)),
                      paths, lab.system_file, settings)
    assert undo.ok, undo.text()
    return elapsed


@bench("create")
def bench_create(args) -> dict:
    """Creating a 10-LIM cluster (11 hosts): parallel against one host at a time."""
    lab = lab_with(10)
    parallel = [_create_and_delete(lab, True) for _ in range(args.runs)]
    serial = [_create_and_delete(lab, False) for _ in range(args.runs)]
    return {"create_10_lims_parallel_s": statistics.median(parallel),
            "create_10_lims_one_at_a_time_s": statistics.median(serial)}


@bench("status")
def bench_status_registered(args) -> dict:
    from bench_status import bench_status
    return bench_status(args)


@bench("tui")
def bench_tui(args) -> dict:
    """Time from starting the utility to its main menu on screen (tmux, 100x30); a fresh tmux server on
    its own socket for every run, and a run that never shows the menu fails the benchmark."""
    lab = lab_with(2)
    times = []
    with tempfile.TemporaryDirectory(prefix="mxone-bench-tui-") as work:
        for run in range(max(args.runs, 3)):
            times.append(_tui_first_screen(Path(work) / f"tmux-{run}", lab.env))
    return {"tui_first_screen_s": statistics.median(times)}


def _tui_first_screen(sock: Path, env: dict[str, str], limit_s: float = 10.0) -> float:
    tmux = ["tmux", "-S", str(sock)]
    start = time.perf_counter()
    started = subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30",
                              "env", *(f"{k}={v}" for k, v in env.items()), UTILITY],
                             capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(f"tmux did not start: {started.stderr.strip()!r}")
    try:
        while time.perf_counter() - start < limit_s:
            screen = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout
            if "Cluster handling" in screen:
                return time.perf_counter() - start
            time.sleep(0.01)
        raise RuntimeError(f"the main menu did not appear within {limit_s:.0f} s; the screen: {screen.strip()!r}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


@bench("sync")
def bench_sync_registered(args) -> dict:
    from bench_sync import bench_sync
    return bench_sync(args)


@bench("replace")
def bench_replace_registered(args) -> dict:
    from bench_replace import bench_replace
    return bench_replace(args)


@bench("health")
def bench_health_registered(args) -> dict:
    from bench_health import bench_health
    return bench_health(args)


@bench("pmsnm")
def bench_pmsnm_registered(args) -> dict:
    from bench_pmsnm import bench_pmsnm
    return bench_pmsnm(args)


@bench("failover")
def bench_failover_registered(args) -> dict:
    from bench_failover import bench_failover
    return bench_failover(args)


@bench("keepalived")
def bench_keepalived_registered(args) -> dict:
    from bench_keepalived import bench_keepalived
    return bench_keepalived(args)


@bench("stress")
def bench_stress_registered(args) -> dict:
    from bench_stress import bench_stress
    return bench_stress(args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma list of: {', '.join(BENCHES)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--detect-s", type=float, help="failover: the cluster's detect_s (default 3)")
    parser.add_argument("--heartbeat-s", type=float, help="failover: the cluster's heartbeat_s (default 0.5)")
    parser.add_argument("--seed", type=int, help="failover/keepalived: seed of the random kill moments")
    parser.add_argument("--flood", action="store_true",
                        help="failover: forged datagrams from the client host to both agents all along")
    parser.add_argument("--stress-s", type=float, default=120.0, metavar="SECONDS",
                        help="stress: how long each variant runs (default 120)")
    parser.add_argument("--drop", type=int, default=20, metavar="PERCENT",
                        help="stress: share of liveness packets (and ARP in variant 2) dropped (default 20)")
    parser.add_argument("--hogs", type=int, default=2, help="stress: busy-loop processes per host (default 2)")
    parser.add_argument("--stress-variants", default="1,2",
                        help="stress: 1 = liveness dropped, 2 = liveness and ARP dropped (default 1,2)")
    parser.add_argument("--json", default="bench.json", metavar="FILE")
    args = parser.parse_args(argv)
    results: dict[str, float] = {}
    failed = [name for name in args.only.split(",") if not run_one(name, args, results)]
    if results:
        width = max(len(k) for k in results)
        for key, value in results.items():
            print(f"{key:<{width}}  {value:10.3f}")
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"bench: {len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def run_one(name: str, args: argparse.Namespace, results: dict[str, float]) -> bool:
    """Run one benchmark into results; a failure is one line on stderr, and the others still run."""
    bench_fn = BENCHES.get(name)
    if bench_fn is None:
        print(f"bench: unknown benchmark {name!r} (known: {', '.join(BENCHES)})", file=sys.stderr)
        return False
    print(f"running {name} ...", file=sys.stderr, flush=True)
    try:
        results.update(bench_fn(args))
    except Exception as error:      # one line, then the next benchmark: a failure must not lose the others
        detail = " ".join(str(error).split()) or type(error).__name__
        print(f"bench: {name} failed: {detail[:400]}", file=sys.stderr, flush=True)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
