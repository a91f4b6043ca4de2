"""The benchmarks behind `scripts/bench`: each a function that returns named numbers, run in the lab.

Speed targets live here, never in timed tests. Every number is measured against real servers
(OpenSSH in network namespaces), the way a technician or a client would meet them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from labtools import Lab  # noqa: E402

from mxone_maintenance import files  # noqa: E402
from mxone_maintenance.ops.apply import apply_plan  # noqa: E402
from mxone_maintenance.ops.cluster import plan_create, plan_delete  # noqa: E402
from mxone_maintenance.ops.requests import CreateCluster, DeleteCluster, LimSpec, RuntimeFacts  # noqa: E402
from mxone_maintenance.paths import Paths  # noqa: E402
from mxone_maintenance.remote.ssh import SshSettings  # noqa: E402

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma list of: {', '.join(BENCHES)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", default="bench.json", metavar="FILE")
    args = parser.parse_args(argv)
    results: dict[str, float] = {}
    for name in args.only.split(","):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.update(BENCHES[name](args))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.3f}")
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
