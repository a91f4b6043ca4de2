"""bench_replace: a regular rebuilt on new hardware, from `server replace` to "LIM back on its regular",
with 200 MB of exchange data the standby made while it ran the LIM (lab, root).

Each run: cluster c1 (lim1 with LIM 1, sb1; automatic fallback, D 1 s, heartbeat 0.2 s); lim1 dies;
once sb1 serves LIM 1, a 200 MB data backup is made on sb1; lim1 comes back as new hardware (`lab
replace lim1 --address 10.77.0.111/24`: a fresh host key, no files). Measured from the start of
`server replace --host-key ... --yes`: the command's own time, and until the client's call to LIM 1's
alias is answered by lim1 (the data pulled first, then the fallback). Registered in bench.py as
"replace"; runs alone as `scripts/bench_replace.py [--runs N]`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from labtools import Lab, venv_command  # noqa: E402

UTILITY = venv_command("mxone_maintenance")
FILES, FILE_MB = 20, 10                 # 200 MB
LIMIT_S = 120.0


def utility(lab: Lab, *args: str) -> str:
    done = subprocess.run([UTILITY, *args], env={**os.environ, **lab.env}, capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"mxone_maintenance {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def served_by(lab: Lab) -> str | None:
    answer = lab.ask_alias("10.77.0.11", timeout=0.5)
    return answer.removeprefix("LIM 1 on ") if answer else None


def wait_until(what: str, probe, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
    return time.monotonic()


def big_backup_on_standby(lab: Lab) -> str:
    name = Path(lab.exec("sb1", "data_backup", "--lim", "1").stdout.strip()).name
    folder = lab.host_dir("sb1") / "var/xdata" / name
    for n in range(FILES):
        (folder / f"data{n:02}.dat").write_bytes(os.urandom(FILE_MB << 20))
    return name


def fingerprint(lab: Lab, host: str) -> str:
    shown = subprocess.run(["ssh-keygen", "-lf", str(lab.dir / f"keys/{host}_ed25519.pub")],
                           capture_output=True, text=True, check=True).stdout
    return shown.split()[1]


def one_run(lab: Lab) -> dict:
    lab.reset(1)
    utility(lab, "cluster", "create", "--name", "c1", "--standby", "sb1", "--fallback", "automatic",
            "--detect-s", "1", "--heartbeat-s", "0.2", "--lim", "1:10.77.0.111", "--yes")
    wait_until("LIM 1 on lim1", lambda: served_by(lab) == "lim1", 15)
    lab.kill("lim1")
    wait_until("LIM 1 on sb1", lambda: served_by(lab) == "sb1", 15)
    version = big_backup_on_standby(lab)
    lab.replace("lim1", address="10.77.0.111/24")
    start = time.monotonic()
    utility(lab, "server", "replace", "--name", "lim1", "--host-key", fingerprint(lab, "lim1"), "--yes")
    command_done = time.monotonic()
    back = wait_until("LIM 1 back on lim1", lambda: served_by(lab) == "lim1", LIMIT_S)
    pulled = lab.host_dir("lim1") / "var/xdata" / version
    size = sum(p.stat().st_size for p in pulled.rglob("*") if p.is_file()) if pulled.is_dir() else 0
    if size < FILES * (FILE_MB << 20):
        raise RuntimeError(f"LIM 1 back on lim1 without the standby's {version} ({size} bytes there)")
    return {"command_s": command_done - start, "back_s": back - start, "bytes": float(size)}


def bench_replace(args) -> dict:
    runs = max(getattr(args, "runs", 1) or 1, 1)
    lab = Lab(1)
    results = [one_run(lab) for _ in range(runs)]
    for number, result in enumerate(results, 1):
        print(f"replace run {number}: command {result['command_s']:.2f} s, LIM back on lim1 after "
              f"{result['back_s']:.2f} s ({result['bytes'] / 2**20:.0f} MB pulled)", file=sys.stderr)
    return {"replace_command_median_s": statistics.median(r["command_s"] for r in results),
            "replace_to_lim_back_median_s": statistics.median(r["back_s"] for r in results),
            "replace_to_lim_back_worst_s": max(r["back_s"] for r in results),
            "replace_data_mb": results[0]["bytes"] / 2**20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_replace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    print(json.dumps(bench_replace(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
