#!/usr/bin/env python3
"""Measure an idle cluster agent (issue 20): the real Agent, with a real HeartbeatChannel, the control
socket and the event sink, on the loopback, fake effects (tests/helpers/fakes.py), and PEERS simulated
peers (a child process) sending signed heartbeats every heartbeat period. No root, no lab.

    .venv/bin/python scripts/profile_agent.py [--seconds 20] [--peers 10] [--heartbeat 0.5]
                                              [--profile] [--tracemalloc] [--metrics]

Prints the RSS after the imports, then per second the RSS (VmRSS, VmHWM of /proc/self/status), the
CPU of this process (user + system, % of one core; in brackets the part spent in full cycles) and the
full cycles run, then the averages. --profile [tottime|cumulative]: cProfile's top of the run
(PROFILE_TOP=N entries, PROFILE_CALLERS=REGEX who calls what); --tracemalloc: the biggest allocations
of the imports and what the run added. A copy in another checkout, run with PYTHONPATH=that checkout,
measures that one (before/after comparisons).

The agent is the standby `sb1` on 127.0.0.2; peer `limN` sends from 127.0.0.(10+N) and runs LIM N.
"""
from __future__ import annotations

import argparse
import itertools
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
KEY = b"0123abcd" * 4
AGENT_ADDRESS = "127.0.0.2"


def vm(field: str) -> int:
    """A /proc/self/status field in kB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((AGENT_ADDRESS, 0))
        return probe.getsockname()[1]


def cluster(peers: int, heartbeat_s: float, port: int):
    from ipaddress import IPv4Interface

    from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
    lims = tuple(ClusterLim(n, f"lim{n}", IPv4Interface(f"127.0.0.{10 + n}/8"), IPv4Interface(f"10.77.0.{n}/24"), 1)
                 for n in range(1, peers + 1))
    return Cluster("c1", StandbyRef("sb1", IPv4Interface(f"{AGENT_ADDRESS}/8")), lims, generation=1,
                   detect_s=max(3.0, 6 * heartbeat_s), heartbeat_s=heartbeat_s, port=port, interface="lo")


def send_peers(peers: int, heartbeat_s: float, port: int) -> None:
    """The child: each peer's heartbeat every period, from its own base address, until killed. The peers
    are spread over the period as independent servers are (not one burst): each one wakes the agent."""
    from mxone_maintenance.agent.heartbeat import Heartbeat, encode
    socks = []
    for n in range(1, peers + 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.0.0.{10 + n}", 0))
        socks.append(sock)
    started, slot = time.monotonic(), heartbeat_s / peers
    for beat in itertools.count():
        n, seq = beat % peers + 1, beat // peers
        time.sleep(max(0.0, started + beat * slot - time.monotonic()))
        hb = Heartbeat("c1", f"lim{n}", 1, seq, time.time(), (n,), up_since=round(time.monotonic() - started, 3),
                       boot=1000 + n)
        socks[n - 1].sendto(encode(hb, KEY), (AGENT_ADDRESS, port))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--peers", type=int, default=10)
    p.add_argument("--heartbeat", type=float, default=0.5)
    p.add_argument("--profile", nargs="?", const="tottime", choices=("tottime", "cumulative"),
                   help="cProfile's top 25 of the run, by own time (default) or cumulative")
    p.add_argument("--tracemalloc", action="store_true", help="the biggest allocations")
    p.add_argument("--metrics", action="store_true", help="write the node-exporter textfile too")
    p.add_argument("--send-peers", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.send_peers:
        send_peers(args.peers, args.heartbeat, args.send_peers)
        return 0
    if args.tracemalloc:
        import tracemalloc
        tracemalloc.start(8)
    baseline = vm("VmRSS")
    import mxone_maintenance.agent.main as agent_main     # what the daemon imports, before anything of ours
    imported = vm("VmRSS")
    print(f"RSS: interpreter {baseline / 1024:.1f} MB, after importing agent.main {imported / 1024:.1f} MB "
          f"({len(sys.modules)} modules; {Path(agent_main.__file__).parent.parent.parent})")
    if args.tracemalloc:
        top("imports", tracemalloc.take_snapshot(), None)
    return run(args, agent_main)


def run(args: argparse.Namespace, agent_main: ModuleType) -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.fakes import FakeAddresses, FakeFirewall, FakeNeighbours, FakeService

    from mxone_maintenance.agent.control import ControlServer, agent_handlers
    from mxone_maintenance.agent.events import EventSink
    from mxone_maintenance.agent.runtime import Agent, Effects, wait_readable
    from mxone_maintenance.agent.settings import AgentSettings
    from mxone_maintenance.core.config import dump_cluster, write_atomic
    from mxone_maintenance.core.paths import Paths

    tmp = tempfile.TemporaryDirectory(prefix="profile-agent-")
    paths = Paths(Path(tmp.name))
    port = free_port()
    write_atomic(paths.cluster_file, dump_cluster(cluster(args.peers, args.heartbeat, port)))
    write_atomic(paths.cluster_key, KEY, mode=0o600)
    settings = AgentSettings("sb1", metrics_textfile=Path(tmp.name) / "mxone.prom" if args.metrics else None)
    events = EventSink(settings, paths, "sb1")
    effects = Effects(FakeAddresses(), FakeNeighbours(), FakeFirewall(), FakeService())
    agent = Agent(paths, "sb1", lambda _config, _node: effects, agent_main.real_channel("sb1"), events=events)
    server = ControlServer(paths.agent_socket, agent_handlers(agent))
    sender = subprocess.Popen([sys.executable, __file__, "--send-peers", str(port), "--peers", str(args.peers),
                               "--heartbeat", str(args.heartbeat)])
    samples: list[tuple[float, float]] = []
    start = last = time.monotonic()
    last_cpu, times_before = cpu_s(), os.times()

    def wait(seconds: float, sources) -> None:
        nonlocal last, last_cpu
        wait_readable(seconds, sources)
        wakes[0] += 1
        now = time.monotonic()
        if now - last >= 1.0:
            used = cpu_s()
            samples.append((now - start, 100 * (used - last_cpu) / (now - last)))
            print(f"{now - start:5.1f} s  RSS {vm('VmRSS') / 1024:5.1f} MB  HWM {vm('VmHWM') / 1024:5.1f} MB  "
                  f"CPU {samples[-1][1]:5.2f} % (cycles {100 * cycle_cpu[0] / (now - last):4.2f} %)  "
                  f"cycles/s {agent_cycles[0] / (now - last):4.1f}", flush=True)
            agent_cycles[0], cycle_cpu[0] = 0, 0.0
            last, last_cpu = now, used
        agent.stop_requested = now - start >= args.seconds

    agent_cycles, cycle_cpu = [0], [0.0]     # since the last sample: full cycles, and their CPU seconds
    wakes = [0]                              # the loop's waits that returned (datagrams, ticks, doorbell)
    real_cycle = agent.cycle

    def counted_cycle():
        agent_cycles[0] += 1
        began = time.thread_time()
        try:
            return real_cycle()
        finally:
            cycle_cpu[0] += time.thread_time() - began
    agent.cycle = counted_cycle
    if args.tracemalloc:
        import tracemalloc
        before = tracemalloc.take_snapshot()
    profiler = None
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    try:
        agent.run(wait=wait)
    finally:
        if profiler is not None:
            profiler.disable()
        sender.kill()
        sender.wait()
        server.close()
        events.close()
    times = os.times()
    wall = time.monotonic() - start
    print(f"whole run: user {100 * (times.user - times_before.user) / wall:.2f} %, "
          f"system {100 * (times.system - times_before.system) / wall:.2f} %, {wakes[0] / wall:.1f} wakes/s")
    steady = [cpu for at, cpu in samples if at > 3.0] or [cpu for _at, cpu in samples]
    peers_heard = sum(1 for peer in agent.peers.values() if peer.last_heard is not None)
    print(f"peers heard {peers_heard}/{args.peers}; counters {agent.status()['counters']}")
    print(f"average CPU after the first 3 s: {sum(steady) / max(1, len(steady)):.2f} % of a core; "
          f"RSS {vm('VmRSS') / 1024:.1f} MB, HWM {vm('VmHWM') / 1024:.1f} MB; threads {threading_count()}")
    if profiler is not None:
        import pstats
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats(args.profile).print_stats(int(os.environ.get("PROFILE_TOP", "25")))
        if os.environ.get("PROFILE_CALLERS"):          # e.g. PROFILE_CALLERS='replace|_parse_args'
            stats.print_callers(os.environ["PROFILE_CALLERS"])
    if args.tracemalloc:
        top("the run", tracemalloc.take_snapshot(), before)
    tmp.cleanup()
    return 0


def threading_count() -> int:
    return len(os.listdir("/proc/self/task"))


def top(what: str, snapshot, before) -> None:
    """The 15 biggest allocation sites (by file), or the 15 that grew most since `before`."""
    import tracemalloc
    snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = snapshot.compare_to(before, "filename") if before is not None else snapshot.statistics("filename")
    total = sum(stat.size for stat in snapshot.statistics("filename"))
    print(f"tracemalloc, {what}: {total / 1024 / 1024:.1f} MB traced in all")
    for stat in stats[:15]:
        print(f"  {stat}")


if __name__ == "__main__":
    sys.exit(main())
