"""bench_sync: how long the standby takes to pull a 200 MB xdata version from a regular, in the lab.

Three numbers per run (median over --runs), each the time of one `python -m mxone_maintenance.agent.datasync.cli
pull` inside sb1 (process start, listing, transfer, rename, prune) and the bytes it received:
  first        a fresh 200 MB version, nothing to link to;
  incremental  the next version with one 10 MB file changed and the rest as they were (MX-ONE copies
               unchanged files): --link-dest hard-links them, only the change crosses the wire;
  rewritten    the next version with every file rewritten (same content, new mtimes): rsync's delta
               transfer against the previous version.
Registered in bench.py as "sync"; runs alone as `scripts/bench_sync.py [--runs N]` too.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from labtools import Lab  # noqa: E402

from mxone_maintenance.core.contracts import sync_keys  # noqa: E402

PYTHON = sys.executable           # scripts/bench runs in the project venv; the lab hosts share its files
FILES, FILE_MB = 20, 10                 # 200 MB in files of the size MX-ONE's larger data files have


def install_sync_keys(lab: Lab) -> None:
    private, public = sync_keys.make_sync_keypair()
    known = sync_keys.cluster_known_hosts(sync_keys.parse_known_hosts(Path(lab.env["MXONE_KNOWN_HOSTS"]).read_text()))
    line = sync_keys.authorized_keys_line(public)
    for host in lab.servers:
        base = lab.host_dir(host)
        (base / "etc/sync.key").write_bytes(private)
        (base / "etc/sync.key").chmod(0o600)
        (base / "etc/cluster_known_hosts").write_text(known)
        authorized = base / "ssh/authorized_keys"
        authorized.write_text(sync_keys.merge_authorized_keys(authorized.read_text(), line))


def clear_data(lab: Lab) -> None:
    for host in lab.servers:
        var = lab.host_dir(host) / "var"
        shutil.rmtree(var / "standby", ignore_errors=True)
        for entry in (var / "xdata").glob("*"):
            shutil.rmtree(entry)


def new_version(lab: Lab) -> Path:
    name = Path(lab.exec("lim1", "data_backup", "--lim", "1").stdout.strip()).name
    return lab.host_dir("lim1") / "var/xdata" / name


def fill_fresh(folder: Path) -> None:
    for n in range(FILES):
        (folder / f"part{n:02}.dat").write_bytes(os.urandom(FILE_MB << 20))


def fill_from(previous: Path, folder: Path, rewrite: bool) -> None:
    """The next version: one file changed; the others copied with their times kept, or rewritten."""
    for n in range(FILES):
        name = f"part{n:02}.dat"
        if n == 0:
            (folder / name).write_bytes(os.urandom(FILE_MB << 20))
        elif rewrite:
            (folder / name).write_bytes((previous / name).read_bytes())
        else:
            shutil.copy2(previous / name, folder / name)


def timed_pull(lab: Lab) -> tuple[float, int]:
    start = time.perf_counter()
    out = lab.exec("sb1", PYTHON, "-m", "mxone_maintenance.agent.datasync.cli", "pull", "--json", "--lim", "1",
                   "--from", "10.77.0.11", "--name", "lim1", "--as", "standby", timeout=300).stdout
    elapsed = time.perf_counter() - start
    result = json.loads(out)
    assert result["ok"] and result["direction"] == "to-standby", result
    return elapsed, result["bytes"]


def one_run(lab: Lab) -> dict[str, tuple[float, int]]:
    clear_data(lab)
    first = new_version(lab)
    fill_fresh(first)
    measured = {"first": timed_pull(lab)}
    previous = first
    for kind in ("incremental", "rewritten"):
        time.sleep(1.0)                     # a later second, so the new version's mtimes are newer
        folder = new_version(lab)
        fill_from(previous, folder, rewrite=kind == "rewritten")
        measured[kind] = timed_pull(lab)
        previous = folder
    return measured


def bench_sync(args) -> dict:
    """Standby pulls of a 200 MB xdata version: first, incremental (link-dest), rewritten (delta)."""
    lab = Lab(2).reset(2)
    install_sync_keys(lab)
    runs = [one_run(lab) for _ in range(max(1, getattr(args, "runs", 3)))]
    clear_data(lab)
    out: dict[str, float] = {}
    for kind in ("first", "incremental", "rewritten"):
        out[f"sync_200mb_{kind}_s"] = statistics.median(r[kind][0] for r in runs)
        out[f"sync_200mb_{kind}_received_mb"] = statistics.median(r[kind][1] for r in runs) / 1e6
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    for key, value in bench_sync(parser.parse_args()).items():
        print(f"{key:<36} {value:10.3f}")
