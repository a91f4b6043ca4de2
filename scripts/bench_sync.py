"""bench_sync: how long the standby takes to pull a 200 MB xdata version from a regular, in the lab, against
plain `rsync -a -e ssh` of the same version between the same hosts (the anchor), measured side by side.

Three cases per run (median over --runs):
  first        a fresh 200 MB version, nothing to link to;
  incremental  the next version with one 10 MB file changed and the rest as they were (MX-ONE copies
               unchanged files): --link-dest hard-links them, only the change crosses the wire;
  rewritten    the next version with every file rewritten (same content, new mtimes): rsync's delta
               transfer against the previous version.
Ours is one `cli.main(["pull", ...])` in a fresh interpreter inside sb1 (the cli's process, with timers
around the listing and the pull), the sync key's forced command serving it on lim1 (--serve). The anchor
is `rsync -a` of the same version into a mirror folder on sb1 that holds the previous one, over the same
ssh options with the lab's admin key (no forced command, no listing, no new folder).
  sync_200mb_<case>_s          ours: the whole process, as `scripts/lab exec sb1 python ...` takes it
  rsync_200mb_<case>_s         the anchor, the same way (`scripts/lab exec sb1 rsync ...`)
  sync_200mb_<case>_inproc_s   ours: sync_lim's own time (SyncResult.seconds): what the agent spends, which
                               runs the sync inside its own process
  rsync_200mb_<case>_inhost_s  the anchor timed inside sb1 (bash `time`): no `lab exec`
  sync_200mb_<case>_{listing,pull,rest}_s  ours split: the `rsync --list-only`, the pull's rsync, the rest
                               (lock, local folders, checks, os.sync before the rename, prune)
  rsync_200mb_<case>_flush_s   a `sync` in sb1 after the anchor (not in its times): what putting its copy on
                               disk costs, as ours does before it counts
  sync_imports_s, lab_exec_s   the cli's imports (timed in the process), `scripts/lab exec sb1 true`
  ssh_plain_s, ssh_forced_s    inside sb1: one ssh to lim1 running `true` with the admin key, and one with
                               the sync key (its forced command starts and refuses `true`)
  ssh_session_s                one more session over an open connection (admin key, `true`): no handshake
Registered in bench.py as "sync"; runs alone as `scripts/bench_sync.py [--runs N] [--serve rrsync]` too.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Interface
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from labtools import Lab  # noqa: E402

from mxone_maintenance.agent.datasync.transport import Peer, SyncSettings, ssh_command  # noqa: E402
from mxone_maintenance.core.config.cluster_file import dump_cluster  # noqa: E402
from mxone_maintenance.core.contracts import sync_keys  # noqa: E402
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef  # noqa: E402

PYTHON = sys.executable           # scripts/bench runs in the project venv; the lab hosts share its files
FILES, FILE_MB = 20, 10                 # 200 MB in files of the size MX-ONE's larger data files have
CASES = ("first", "incremental", "rewritten")
SHOWN = ("sync_s", "rsync_s", "sync_inproc_s", "rsync_inhost_s", "sync_listing_s", "sync_pull_s", "sync_rest_s",
         "rsync_flush_s", "sync_received_mb")     # per case, in this order: ours and the anchor side by side
LIM1, SB1 = "10.77.0.11", "10.77.0.20"
CLUSTER = Cluster("c1", StandbyRef("sb1", IPv4Interface(f"{SB1}/24")),
                  (ClusterLim(1, "lim1", IPv4Interface(f"{LIM1}/24"), IPv4Interface("10.77.0.111/24")),))
MIRROR = "/var/opt/eri_sn/anchor"       # inside sb1: the anchor's copy (holds the previous version)
# Ours, timed from inside: the cli's imports, then cli.main with timers around the two rsyncs. The same
# process as `python -m mxone_maintenance.agent.datasync.cli pull ...`.
TIMED_CLI = """
import contextlib, io, json, sys, time
start = time.perf_counter()
from mxone_maintenance.agent.datasync import cli, lim_sync
spent = {"imports": time.perf_counter() - start, "listing": 0.0, "pull": 0.0}
def timed(name, key):
    inner = getattr(lim_sync, name)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - began
    setattr(lim_sync, name, wrapper)
timed("list_peer", "listing")
timed("run_rsync", "pull")
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = cli.main(sys.argv[1:])
print(json.dumps({"result": json.loads(out.getvalue()), "cli": cli.__file__, **spent}))
sys.exit(code)
"""
# The anchor timed inside sb1: bash's `time` of rsync alone, on stderr.
IN_HOST_TIME = 'TIMEFORMAT=%3R; time "$@" >/dev/null'
CLOSE_MASTERS = ('for s in /run/mxone-sync-ssh/*; do [ -S "$s" ] && ssh -F /dev/null -o ControlPath="$s" '
                 '-O exit x 2>/dev/null; done; true')


def install_sync_keys(lab: Lab, serve: str) -> None:
    """serve "sync_serve": the line the utility writes (members, agent/sync_serve.py), which reads a cluster.yaml
    (written here without a cluster key, so the lab's agents stay idle); "rrsync": the earlier line."""
    private, public = sync_keys.make_sync_keypair()
    known = sync_keys.cluster_known_hosts(sync_keys.parse_known_hosts(Path(lab.env["MXONE_KNOWN_HOSTS"]).read_text()))
    members = [LIM1, SB1] if serve == "sync_serve" else []
    line = sync_keys.authorized_keys_line(public, members=members, python=PYTHON)
    for host in lab.servers:
        base = lab.host_dir(host)
        (base / "etc/sync.key").write_bytes(private)
        (base / "etc/sync.key").chmod(0o600)
        (base / "etc/cluster_known_hosts").write_text(known)
        if members:
            (base / "etc/cluster.yaml").write_text(dump_cluster(CLUSTER))
        authorized = base / "ssh/authorized_keys"
        authorized.write_text(sync_keys.merge_authorized_keys(authorized.read_text(), line))


def clear_data(lab: Lab) -> None:
    for host in lab.servers:
        var = lab.host_dir(host) / "var"
        shutil.rmtree(var / "standby", ignore_errors=True)
        shutil.rmtree(var / "anchor", ignore_errors=True)
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


def elapsed(run: Callable[[], subprocess.CompletedProcess]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = run()
    return time.perf_counter() - start, done


def timed_pull(lab: Lab, code: str | None) -> dict[str, float]:
    """Ours; afterwards the shared SSH connection is closed: the agent's next sync of a pair comes minutes
    later, so no measured sync may find one open."""
    env = ["env", f"PYTHONPATH={code}"] if code else []
    seconds, done = elapsed(lambda: lab.exec(
        "sb1", *env, PYTHON, "-c", TIMED_CLI, "pull", "--json", "--lim", "1", "--from", LIM1, "--name", "lim1",
        "--as", "standby", timeout=300))
    lab.exec("sb1", "sh", "-c", CLOSE_MASTERS)
    out = json.loads(done.stdout)
    result = out["result"]
    assert result["ok"] and result["direction"] == "to-standby", result
    assert out["cli"].startswith(code or str(REPO)), f"ours ran from {out['cli']}"   # the cwd comes first
    return {"s": seconds, "inproc_s": result["seconds"], "listing_s": out["listing"], "pull_s": out["pull"],
            "rest_s": result["seconds"] - out["listing"] - out["pull"], "imports_s": out["imports"],
            "received_mb": result["bytes"] / 1e6}


def anchor_argv(lab: Lab, version: Path) -> list[str]:
    """Plain rsync -a of the version into the mirror, over the ssh options ours uses, with the admin key."""
    settings = SyncSettings(key=Path(lab.env["MXONE_SSH_KEY"]), known_hosts=Path("/etc/opt/eri_sn/cluster_known_hosts"))
    return ["rsync", "-a", "-e", ssh_command(settings, Peer(LIM1, "lim1")),
            f"root@{LIM1}:/var/opt/eri_sn/xdata/{version.name}/", f"{MIRROR}/"]


def timed_anchor(lab: Lab, version: Path) -> dict[str, float]:
    """One rsync, two clocks: `lab exec` around it (the process, as ours is timed, plus a bash start) and
    bash's `time` inside sb1."""
    seconds, done = elapsed(lambda: lab.exec("sb1", "bash", "-c", IN_HOST_TIME, "bash", *anchor_argv(lab, version),
                                             timeout=300))
    flushed = lab.exec("sb1", "bash", "-c", IN_HOST_TIME, "bash", "sync", timeout=300)
    return {"s": seconds, "inhost_s": float(done.stderr.strip().splitlines()[-1]),
            "flush_s": float(flushed.stderr.strip().splitlines()[-1])}


def one_run(lab: Lab, code: str | None, anchor_first: bool) -> dict[str, dict[str, float]]:
    """The three cases, ours and the anchor on the same versions (in turn first, against cache effects)."""
    clear_data(lab)
    measured: dict[str, dict[str, float]] = {}
    previous: Path | None = None
    for case in CASES:
        if previous is not None:
            time.sleep(1.0)                 # a later second, so the new version's mtimes are newer
        folder = new_version(lab)
        if previous is None:
            fill_fresh(folder)
        else:
            fill_from(previous, folder, rewrite=case == "rewritten")
        if anchor_first:
            anchor = timed_anchor(lab, folder)
        ours = timed_pull(lab, code)
        if not anchor_first:
            anchor = timed_anchor(lab, folder)
        measured[case] = {**{f"sync_{k}": v for k, v in ours.items()}, **{f"rsync_{k}": v for k, v in anchor.items()}}
        previous = folder
    return measured


def ssh_probe(lab: Lab, key: str, *options: str) -> float:
    """Inside sb1: one ssh to lim1 running `true` (the sync key's forced command refuses it), in seconds."""
    settings = SyncSettings(key=Path(key), known_hosts=Path("/etc/opt/eri_sn/cluster_known_hosts"))
    ssh, *words = shlex.split(ssh_command(settings, Peer(LIM1, "lim1")))
    done = lab.exec("sb1", "bash", "-c", IN_HOST_TIME, "bash", ssh, *options, *words, f"root@{LIM1}", "true",
                    check=False)             # options first: ssh keeps the first value of each
    return float(done.stderr.strip().splitlines()[-1])


def session_probe(lab: Lab, runs: int = 5) -> float:
    """Inside sb1: one more session over an open connection (admin key, `true`): what every session costs
    on the server (sshd's fork, root's login shell, the command) without the handshake."""
    master = ["-o", "ControlPath=/run/bench-sync-master"]
    ssh_probe(lab, lab.env["MXONE_SSH_KEY"], *master, "-o", "ControlMaster=yes", "-o", "ControlPersist=30")
    try:
        return statistics.median(ssh_probe(lab, lab.env["MXONE_SSH_KEY"], *master) for _ in range(runs))
    finally:
        lab.exec("sb1", "ssh", "-F", "/dev/null", *master, "-O", "exit", "x", check=False)


def bench_sync(args) -> dict:
    """Standby pulls of a 200 MB xdata version (first, incremental, rewritten) and plain rsync of the same."""
    runs_wanted = max(1, getattr(args, "runs", 3))
    code, serve = getattr(args, "code", None), getattr(args, "serve", "sync_serve")
    lab = Lab(2).reset(2)
    install_sync_keys(lab, serve)
    runs = [one_run(lab, code, anchor_first=n % 2 == 0) for n in range(runs_wanted)]
    clear_data(lab)
    out: dict[str, float] = {}
    for case in CASES:
        for key in SHOWN:
            tool, _, what = key.partition("_")
            out[f"{tool}_200mb_{case}_{what}"] = statistics.median(r[case][key] for r in runs)
    out["sync_imports_s"] = statistics.median(r[c]["sync_imports_s"] for r in runs for c in CASES)
    out["lab_exec_s"] = statistics.median(elapsed(lambda: lab.exec("sb1", "true"))[0] for _ in range(5))
    out["ssh_plain_s"] = statistics.median(ssh_probe(lab, lab.env["MXONE_SSH_KEY"]) for _ in range(5))
    out["ssh_forced_s"] = statistics.median(ssh_probe(lab, "/etc/opt/eri_sn/sync.key") for _ in range(5))
    out["ssh_session_s"] = session_probe(lab)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", choices=["sync_serve", "rrsync"], default="sync_serve",
                        help="the sync key's forced command on lim1 (default: the utility's line, sync_serve)")
    parser.add_argument("--code", metavar="DIR", help="run ours from this tree (PYTHONPATH), e.g. an older copy")
    for key, value in bench_sync(parser.parse_args()).items():
        print(f"{key:<36} {value:10.3f}")
