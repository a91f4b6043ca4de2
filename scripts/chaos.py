"""chaos: a seeded random schedule of failures against a real cluster in the lab, invariants checked
continuously (root; run as `scripts/chaos --minutes M --seed S [--lims N]`).

Setup: a fresh lab with N LIMs (default 2), cluster c1 created by the utility (detect_s 3, heartbeat_s
0.5; LIM 2 has priority 1, the others the default 5, so the standby has a choice to make).
Events (the schedule is made from the seed alone, so a seed replays the same events at the same times):
kill, revive (a power cycle: the host boots from its own network files), cut, heal, restart_agent,
corrupt_config (garbage cluster.yaml on one member) followed by restore_config (the utility's file back),
data_backup (a new xdata version where the LIM runs), and, while a member is dead or cut, changes made
with the utility (`--allow-down` for each member down): lock (a LIM to its regular), unlock, priority
(`cluster change --priority N=P`). A change must succeed; the members down catch up when back.
Invariants, checked every ~100 ms (pure functions below, unit-tested in tests/lab/test_chaos.py):
  split-brain   no alias held by two connected servers (eth0 addresses, `ip -j addr`), nor the client's
                ARP entry pointing at a server that does not hold it, longer than SPLIT_S;
  served        every servable LIM (its regular reachable, or the standby reachable and free for it by
                priority) answers the client within detect_s + SLACK_S of becoming servable, and never
                stays unanswered longer than that;
  fallback      automatic fallback: a LIM is back on its regular within hold + detect_s + SLACK_S of
                the regular's return;
  config        cluster.yaml on every live member is the utility's newest (except the one being
                corrupted), every live agent reports the generation the utility wrote last (row 19: a
                corrupt file never replaces the last good one); a member back from the dead or a cut
                has CATCH_UP_S to catch up, and nobody is judged while a change is being applied;
  change        every change the utility makes with members down succeeds;
  xdata         an xdata version never disappears from a server unless a newer one of the LIM is there;
  agent         every live server's agent answers `status` (its control socket: the same JSON as
                `mxone-cluster-agent status --json`, without a process start 10 times a second)
                within AGENT_S of any event, i.e. no crash is left unrecovered.
Every violation is printed with its time, the seed and the event log; exit 1 if any, 3 if the shared
lab was rebuilt by someone else during the run (the run proves nothing then: rerun).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from failover_client import FailoverClient  # noqa: E402
from labtools import NETNS_PREFIX, Lab, venv_command  # noqa: E402

CHANGES = ("lock", "unlock", "priority")
KINDS = ("kill", "revive", "cut", "heal", "restart_agent", "corrupt_config", "restore_config", "data_backup",
         *CHANGES)
DETECT_S, HEARTBEAT_S = 3.0, 0.5
HOLD_S = max(3 * HEARTBEAT_S, 2.0)      # the agent's fallback hold time (decide.hold_time) at these settings
SLACK_S = 3.0                           # served within detect_s + this
SPLIT_S = 3.0                           # two holders of one alias at most this long (a healed cut: row 13)
AGENT_S = 5.0                           # an agent answers status within this of any event
CATCH_UP_S = 8.0                        # a member back holds the newest cluster.yaml within this
CHANGE_SETTLE_S = 2.0                   # after a change, members load it within this
SERVED_FRESH_S = 0.35                   # an answer this recent means "served now" (probes every 0.1 s)
TICK_S = 0.1
SETTLE_END_S = 12.0                     # no events in the last seconds: the final state is checked too
GAP_S = (3.5, 7.5)                      # seconds between events
MAX_FAILED = 2                          # servers dead or cut at one time
CORRUPT = "schema: 1\ncluster: {name: c1, generation: [oops\nlims: - - - \x00\n"
UTILITY = venv_command("mxone_maintenance")


# ============================================================== the schedule (pure)

@dataclass(frozen=True)
class Event:
    at: float                   # seconds after the start
    kind: str
    host: str
    lim: int | None = None      # data_backup, changes: the LIM concerned
    value: int | None = None    # priority: the new priority

    def text(self) -> str:
        extra = f" --lim {self.lim}" if self.lim is not None else ""
        extra += f" = {self.value}" if self.value is not None else ""
        return f"{self.at:7.2f}s {self.kind} {self.host}{extra}"


@dataclass
class World:
    """What the schedule has done so far to the servers (dead, cut)."""
    regulars: dict[int, str]            # LIM -> its regular server
    standby: str
    dead: set[str] = field(default_factory=set)
    cut: set[str] = field(default_factory=set)
    locked: int | None = None           # the LIM locked to its regular

    @property
    def servers(self) -> list[str]:
        return [*self.regulars.values(), self.standby]

    def up(self) -> list[str]:
        return [s for s in self.servers if s not in self.dead and s not in self.cut]

    def lim_of(self, host: str) -> int:
        return next(lim for lim, s in self.regulars.items() if s == host)

    def apply(self, event: Event) -> None:
        {"kill": self.dead.add, "revive": self.dead.discard, "cut": self.cut.add,
         "heal": self.cut.discard}.get(event.kind, lambda _host: None)(event.host)
        if event.kind in ("lock", "unlock"):
            self.locked = event.lim if event.kind == "lock" else None


def candidates(world: World) -> dict[str, list[str]]:
    """Which hosts each kind of event may hit now."""
    failed = len(world.dead | world.cut)
    up = world.up()
    may_fail = up if failed < MAX_FAILED and len(up) > 1 else []
    regulars_up = [s for s in world.regulars.values() if s in up]
    down = failed > 0
    return {"kill": may_fail, "cut": may_fail, "revive": sorted(world.dead), "heal": sorted(world.cut),
            "restart_agent": up, "corrupt_config": up, "data_backup": backup_hosts(world),
            "lock": regulars_up if down and world.locked is None else [],
            "unlock": [world.regulars[world.locked]] if down and world.locked is not None else [],
            "priority": sorted(world.regulars.values()) if down else []}


def backup_hosts(world: World) -> list[str]:
    """Hosts where a data backup makes sense: a regular that is up, or the standby for a dead regular."""
    hosts = [s for s in world.regulars.values() if s in world.up()]
    if world.standby in world.up() and any(s in world.dead for s in world.regulars.values()):
        hosts.append(world.standby)
    return hosts


def backup_lim(world: World, host: str, rng: random.Random) -> int:
    if host != world.standby:
        return next(lim for lim, s in world.regulars.items() if s == host)
    return rng.choice(sorted(lim for lim, s in world.regulars.items() if s in world.dead))


def pick_kind(options: dict[str, list[str]], unused: set[str], rng: random.Random) -> str:
    """A kind with a possible target, preferring kinds not used yet (so a short run has them all)."""
    possible = sorted(k for k, hosts in options.items() if hosts)
    fresh = [k for k in possible if k in unused]
    return rng.choice(fresh or possible)


def make_schedule(seed: int, minutes: float, regulars: dict[int, str], standby: str) -> list[Event]:
    """The whole run's events, from the seed alone; it ends with every server revived and healed."""
    rng = random.Random(seed)
    world = World(dict(regulars), standby)
    end = minutes * 60 - SETTLE_END_S
    events: list[Event] = []
    unused = set(KINDS) - {"restore_config"}
    at = rng.uniform(*GAP_S)
    for _ in range(10_000):
        if at >= end - 2 * GAP_S[1]:
            break
        kind = pick_kind(candidates(world), unused, rng)
        host = rng.choice(candidates(world)[kind])
        lim = backup_lim(world, host, rng) if kind == "data_backup" else \
            world.lim_of(host) if kind in CHANGES else None
        value = rng.randint(1, 5) if kind == "priority" else None
        events.append(Event(round(at, 2), kind, host, lim, value))
        unused.discard(kind)
        world.apply(events[-1])
        if kind == "corrupt_config":
            at += rng.uniform(2.0, 4.0)
            events.append(Event(round(at, 2), "restore_config", host))
        at += rng.uniform(*GAP_S)
    return events + restore_all(world, at, rng)


def restore_all(world: World, at: float, rng: random.Random) -> list[Event]:
    out = []
    for kind, hosts in (("heal", sorted(world.cut)), ("revive", sorted(world.dead))):
        for host in hosts:
            out.append(Event(round(at, 2), kind, host))
            at += rng.uniform(*GAP_S)
    return out


# ============================================================== the invariants (pure)

@dataclass(frozen=True)
class LimInfo:
    lim: int
    regular: str
    alias: str
    priority: int
    lock: str | None = None


def requirements(lims: Iterable[LimInfo], reachable: set[str], standby: str,
                 standby_serves: set[int]) -> set[frozenset[int]]:
    """Sets of LIMs of which at least one must be served now.

    A LIM whose regular is reachable must be served (by its regular, or still by the standby). Of the
    LIMs whose regular is not reachable, the standby (when reachable) serves one with the lowest
    priority value (equal priority: any of them, the one it runs stays), unless it is busy with a LIM
    whose regular is back (a fallback pending: the fallback invariant watches that). A LIM locked to
    its regular is never the standby's to take."""
    lims = list(lims)
    needed = {frozenset({i.lim}) for i in lims if i.regular in reachable}
    failed = [i for i in lims if i.regular not in reachable and i.lock != "regular"]
    busy = any(i.lim in standby_serves and i.regular in reachable for i in lims)
    if failed and standby in reachable and not busy:
        best = min(i.priority for i in failed)
        needed.add(frozenset(i.lim for i in failed if i.priority == best))
    return needed


def unserved_for(now: float, required_since: float, last_served: float | None) -> float:
    """How long a requirement has gone unmet: from when it arose or it was last met, whichever is later."""
    return now - max(required_since, last_served if last_served is not None else required_since)


def duplicate_holders(holdings: dict[str, set[str]], connected: set[str]) -> dict[str, set[str]]:
    """alias -> the connected servers holding it, where that is more than one."""
    holders: dict[str, set[str]] = {}
    for host, aliases in holdings.items():
        if host in connected:
            for alias in aliases:
                holders.setdefault(alias, set()).add(host)
    return {alias: hosts for alias, hosts in holders.items() if len(hosts) > 1}


def stale_arp(arp_mac: str | None, holder_macs: set[str]) -> bool:
    """The client's entry points at a server that does not hold the alias while another one does."""
    return arp_mac is not None and bool(holder_macs) and arp_mac not in holder_macs


def late_fallback(serving_host: str | None, info: LimInfo, standby: str, regular_back_for: float | None,
                  automatic: bool) -> bool:
    """Automatic fallback overdue: the standby still serves a LIM whose regular has been back too long."""
    bound = HOLD_S + DETECT_S + SLACK_S
    return automatic and serving_host == standby and regular_back_for is not None and regular_back_for > bound


def version_key(name: str) -> tuple[int, str] | None:
    """xdata_<lim>_<stamp> -> (lim, stamp)."""
    parts = name.split("_")
    if len(parts) != 3 or parts[0] != "xdata" or not parts[1].isdigit() or len(parts[2]) != 14:
        return None
    return int(parts[1]), parts[2]


def lost_versions(before: set[str], now: set[str]) -> set[str]:
    """Versions that disappeared from one folder with no newer version of their LIM left in it."""
    newest: dict[int, str] = {}
    for name in now:
        key = version_key(name)
        if key and key[1] > newest.get(key[0], ""):
            newest[key[0]] = key[1]
    lost = set()
    for name in before - now:
        key = version_key(name)
        if key and newest.get(key[0], "") <= key[1]:
            lost.add(name)
    return lost


def switches(hosts: list[str]) -> int:
    """How often the answering host changed along a sequence of answers."""
    return sum(1 for a, b in zip(hosts, hosts[1:], strict=False) if a != b)


class Persistence:
    """Conditions that are allowed for a while: each is reported once it has lasted beyond the bound,
    once per episode (it must clear before it is reported again). One instance per kind of condition."""

    def __init__(self) -> None:
        self.since: dict[tuple, float] = {}
        self.reported: set[tuple] = set()

    def update(self, active: set[tuple], now: float, bound: float) -> list[tuple[tuple, float]]:
        """`active`: the conditions true now; returns (condition, duration) for those newly past the bound."""
        for key in [k for k in self.since if k not in active]:
            self.since.pop(key)
            self.reported.discard(key)
        out = []
        for key in sorted(active):
            start = self.since.setdefault(key, now)
            if now - start > bound and key not in self.reported:
                self.reported.add(key)
                out.append((key, now - start))
        return out


# ============================================================== the lab side

@dataclass
class HostFacts:
    alive: bool = True
    plugged: bool = True
    changed: float = 0.0            # last event on this host (seconds after the start)
    back_since: float | None = 0.0  # reachable since (None: not reachable)
    corrupt: bool = False


@dataclass(frozen=True)
class Violation:
    at: float
    invariant: str
    text: str

    def line(self, seed: int) -> str:
        return f"VIOLATION t={self.at:.2f}s seed={seed} [{self.invariant}] {self.text}"


class Run:
    """One chaos run: the lab, the cluster, the schedule, the monitors and the checks."""

    def __init__(self, lab: Lab, seed: int, minutes: float):
        self.lab, self.seed, self.minutes = lab, seed, minutes
        self.lims: list[LimInfo] = []
        self.standby = "sb1"
        self.expected_config = b""
        self.generation: int | None = None
        self.automatic = True
        self.facts: dict[str, HostFacts] = {}
        self.macs: dict[str, str] = {}
        self.clients: dict[int, FailoverClient] = {}
        self.log: list[str] = []
        self.violations: list[Violation] = []
        self.started = 0.0
        self.lock = threading.Lock()
        self.persist: dict[str, Persistence] = defaultdict(Persistence)
        self.required_since: dict[frozenset[int], float] = {}
        self.xdata_seen: dict[tuple[str, str], set[str]] = {}
        self.agent_answered: dict[str, float] = {}
        self.stamp: tuple = ()
        self.lab_changed = False
        self.changing = False
        self.change_done_at = -CHANGE_SETTLE_S

    # ---------------------------------------------------------- setup
    def now(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        with self.lock:
            self.log.append(f"{self.now():7.2f}s {text}")
        print(f"chaos: {self.log[-1]}", flush=True)

    def setup(self, tries: int = 3) -> None:
        """A fresh lab and the cluster; retried when the create fails (the shared lab may be in use)."""
        for attempt in range(1, tries + 1):
            try:
                self.lab.reset(self.lab.lims)
                self.create_cluster()
                return
            except (RuntimeError, AssertionError, subprocess.SubprocessError) as error:
                print(f"chaos: setup attempt {attempt} failed: {str(error).strip().splitlines()[-1]}", flush=True)
                if attempt == tries:
                    raise

    def create_cluster(self) -> None:
        create = ["cluster", "create", "--name", "c1", "--standby", self.standby, "--detect-s", str(DETECT_S),
                  "--heartbeat-s", str(HEARTBEAT_S), "--yes"]
        for n in range(1, self.lab.lims + 1):
            create += ["--lim", f"{n}:10.77.0.{110 + n}" + (":1" if n == 2 else "")]
        result = subprocess.run([str(UTILITY), *create], env={**os.environ, **self.lab.env}, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"cluster create failed:\n{result.stdout}{result.stderr}")
        self.learn_cluster()
        self.automatic = self.cluster().fallback == "automatic"
        self.facts = {host: HostFacts() for host in self.servers}
        self.macs = {host: self.lab.mac(host) for host in self.servers}
        self.stamp = self.lab.stamp()

    def cluster(self):
        from mxone_maintenance.core import config as files

        return files.load_system(self.lab.system_file).cluster("c1")

    def learn_cluster(self) -> None:
        """What the utility wrote last: the LIMs' priorities and locks, the generation, the file."""
        from mxone_maintenance.core import config as files

        cluster = self.cluster()
        self.lims = [LimInfo(i.lim, i.server, str(i.alias.ip), i.priority, i.lock) for i in cluster.lims]
        self.standby, self.generation = cluster.standby.server, cluster.generation
        self.expected_config = files.dump_cluster(cluster).encode()

    @property
    def servers(self) -> list[str]:
        return [i.regular for i in self.lims] + [self.standby]

    def wait_all_served(self, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.served_by(i.lim) == i.regular for i in self.lims):
                return True
            time.sleep(0.1)
        return False

    # ---------------------------------------------------------- events
    def perform(self, event: Event) -> None:
        try:
            self._perform(event)
            outcome = "ok"
        except (AssertionError, subprocess.SubprocessError, OSError) as error:
            outcome = "FAILED: " + " | ".join(str(error).strip().splitlines()[:3])
        self.note(f"event {event.kind} {event.host}" + (f" --lim {event.lim}" if event.lim else "")
                  + f" (planned {event.at:.2f}s): {outcome}")

    def _perform(self, event: Event) -> None:
        host, facts = event.host, self.facts[event.host]
        if event.kind in ("kill", "revive", "cut", "heal"):
            getattr(self.lab, event.kind)(host)
            facts.alive = facts.alive if event.kind in ("cut", "heal") else event.kind == "revive"
            facts.plugged = facts.plugged if event.kind in ("kill", "revive") else event.kind == "heal"
            if event.kind == "revive":
                self.stamp = self.lab.stamp()
        elif event.kind == "restart_agent":
            self.lab.restart_agent(host)
        elif event.kind == "corrupt_config":
            facts.corrupt = True
            write_file(self.lab.host_dir(host) / "etc/cluster.yaml", CORRUPT.encode())
        elif event.kind == "restore_config":
            write_file(self.lab.host_dir(host) / "etc/cluster.yaml", self.expected_config)
            facts.corrupt = False
        elif event.kind in CHANGES:
            self.change(event)
        elif event.kind == "data_backup":
            out = self.lab.exec(host, "data_backup", "--lim", str(event.lim)).stdout.strip()
            self.note(f"data_backup on {host} wrote {Path(out).name}")
        reachable = facts.alive and facts.plugged
        facts.back_since = (facts.back_since if facts.back_since is not None else self.now()) if reachable else None
        facts.changed = self.now()

    def change_args(self, event: Event) -> list[str]:
        args = {"lock": ["cluster", "lock", "--lim", str(event.lim), "--to", "regular"],
                "unlock": ["cluster", "unlock", "--lim", str(event.lim)],
                "priority": ["cluster", "change", "--name", "c1", "--priority", f"{event.lim}={event.value}"]}
        down = sorted(h for h, f in self.facts.items() if not (f.alive and f.plugged))
        return args[event.kind] + [word for host in down for word in ("--allow-down", host)] + ["--yes"]

    def change(self, event: Event) -> None:
        """A change with the members down left out; it must succeed (a priority already set is fine)."""
        self.changing = True
        try:
            result = subprocess.run([str(UTILITY), *self.change_args(event)], env={**os.environ, **self.lab.env},
                                    capture_output=True, text=True, timeout=90)
            self.learn_cluster()
        finally:
            self.change_done_at, self.changing = self.now(), False
        if result.returncode != 0 and "nothing to change" not in result.stderr:
            said = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
            violation = Violation(self.now(), "change", f"{event.kind} --lim {event.lim} failed: {said}")
            self.violations.append(violation)
            print(violation.line(self.seed), flush=True)
            raise AssertionError(said)
        self.note(f"change {event.kind} --lim {event.lim}: generation {self.generation}")

    def run_events(self, events: list[Event], stop: threading.Event) -> None:
        for event in events:
            if stop.wait(max(0.0, event.at - self.now())):
                return
            self.perform(event)

    # ---------------------------------------------------------- observations
    def served_by(self, lim: int) -> str | None:
        """The host that answered for the LIM in the last SERVED_FRESH_S, or None."""
        answers = self.clients[lim].snapshot()[-5:]
        recent = [a for a in answers if time.monotonic() - a.at <= SERVED_FRESH_S]
        return recent[-1].host if recent else None

    def last_served(self, lim: int) -> float | None:
        answers = self.clients[lim].snapshot()[-1:]
        return answers[-1].at - self.started if answers else None

    def holdings(self) -> dict[str, set[str]]:
        aliases = {i.alias for i in self.lims}
        out = {}
        for host in self.servers:
            raw = subprocess.run(["ip", "-n", NETNS_PREFIX + host, "-j", "addr", "show", "dev", "eth0"],
                                 capture_output=True, text=True, timeout=5).stdout
            try:
                info = json.loads(raw)[0]
            except (ValueError, IndexError):
                continue
            if "UP" in info.get("flags", []):
                out[host] = {a["local"] for a in info.get("addr_info", []) if a.get("local") in aliases}
        return out

    def client_arp(self) -> dict[str, str]:
        """The client's usable neighbour entries: address -> MAC (one `ip` call for every alias)."""
        raw = subprocess.run(["ip", "-n", NETNS_PREFIX + "client", "-j", "neigh", "show", "dev", "eth0"],
                             capture_output=True, text=True, timeout=5).stdout
        try:
            entries = json.loads(raw or "[]")
        except ValueError:
            return {}
        return {e["dst"]: e["lladdr"] for e in entries
                if e.get("lladdr") and not {"FAILED", "INCOMPLETE"} & set(e.get("state", []))}

    def agent_status(self, host: str) -> dict | None:
        holder = (self.lab.state().get("holders") or {}).get(host)
        if not holder:
            return None
        path = f"/proc/{holder}/root/run/mxone-cluster-agent.sock"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect(path)
                sock.sendall(b'{"cmd": "status"}\n')
                sock.shutdown(socket.SHUT_WR)
                data = b""
                for _ in range(1000):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            reply = json.loads(data)
        except (OSError, ValueError):
            return None
        return reply if isinstance(reply, dict) and reply.get("ok") else None

    # ---------------------------------------------------------- checks
    def check(self, now: float) -> None:
        self.check_split_brain(now)
        self.check_served(now)
        self.check_agents_and_config(now)

    def report(self, now: float, invariant: str, items: list[tuple[tuple, float]], text) -> None:
        for key, lasted in items:
            violation = Violation(now, invariant, text(key, lasted))
            self.violations.append(violation)
            print(violation.line(self.seed), flush=True)

    def reachable(self) -> set[str]:
        return {h for h, f in self.facts.items() if f.alive and f.plugged}

    def check_split_brain(self, now: float) -> None:
        holdings = self.holdings()
        connected = self.reachable() & set(holdings)
        doubles = duplicate_holders(holdings, connected)
        active = {("split", alias, tuple(sorted(hosts))) for alias, hosts in doubles.items()}
        self.report(now, "split-brain", self.persist["split"].update(active, now, SPLIT_S),
                    lambda k, d: f"alias {k[1]} held by {' and '.join(k[2])} for {d:.1f} s")
        stale = set()
        arp_table = self.client_arp()
        for info in self.lims:
            holder_macs = {self.macs[h] for h in connected if info.alias in holdings.get(h, set())}
            arp = arp_table.get(info.alias)
            if stale_arp(arp, holder_macs):
                owner = next((h for h, m in self.macs.items() if m == arp), arp)
                stale.add(("arp", info.alias, owner))
        self.report(now, "split-brain", self.persist["arp"].update(stale, now, SPLIT_S),
                    lambda k, d: f"client's ARP entry for {k[1]} points at {k[2]}, which does not hold it, "
                                 f"for {d:.1f} s")

    def check_served(self, now: float) -> None:
        serving = {i.lim: self.served_by(i.lim) for i in self.lims}
        standby_serves = {lim for lim, host in serving.items() if host == self.standby}
        needed = requirements(self.lims, self.reachable(), self.standby, standby_serves)
        self.required_since = {req: self.required_since.get(req, now) for req in needed}
        bound = DETECT_S + SLACK_S
        unmet = set()
        for req, since in self.required_since.items():
            last = max((self.last_served(lim) or -1.0 for lim in req), default=-1.0)
            if unserved_for(now, since, last if last >= 0 else None) > bound:
                unmet.add(("served", tuple(sorted(req))))
        self.report(now, "served", self.persist["served"].update(unmet, now, 0.0),
                    lambda k, d: f"LIM {' or '.join(map(str, k[1]))} servable but not answering the client for "
                                 f"more than {bound:.1f} s (serving now: {serving})")
        flapping = set()
        for info in self.lims:
            window = [a.host for a in self.clients[info.lim].snapshot()[-60:] if time.monotonic() - a.at <= SPLIT_S]
            if switches(window) > 2:
                flapping.add(("flap", info.lim, tuple(sorted(set(window)))))
        self.report(now, "split-brain", self.persist["flap"].update(flapping, now, 0.0),
                    lambda k, d: f"LIM {k[1]} answered alternately by {' and '.join(k[2])} "
                                 f"(more than two changes within {SPLIT_S:.0f} s)")
        late = set()
        for info in self.lims:
            # the pair must have heard each other: the fallback clock starts when both the regular and the
            # standby are back (a standby that was cut off listens first after its heal)
            backs = (self.facts[info.regular].back_since, self.facts[self.standby].back_since)
            back = None if None in backs else max(backs)
            if late_fallback(serving[info.lim], info, self.standby, None if back is None else now - back,
                             self.automatic):
                late.add(("fallback", info.lim))
        self.report(now, "fallback", self.persist["fallback"].update(late, now, 0.0),
                    lambda k, d: f"LIM {k[1]} still on {self.standby} although its regular has been back "
                                 f"more than {HOLD_S + DETECT_S + SLACK_S:.1f} s (automatic fallback)")

    def config_judged(self, facts: HostFacts, now: float) -> bool:
        """Not while a change is applied, nor on a member that has not had time to catch up."""
        settled = not self.changing and now - self.change_done_at > CHANGE_SETTLE_S
        caught_up = facts.back_since is not None and now - facts.back_since > CATCH_UP_S
        return settled and (caught_up or facts.back_since == 0.0)

    def check_agents_and_config(self, now: float) -> None:
        dead_agents, wrong_config = set(), set()
        for host, facts in self.facts.items():
            if not facts.alive:
                continue
            status = self.agent_status(host)
            if status is not None:
                self.agent_answered[host] = now
            elif now - max(self.agent_answered.get(host, 0.0), facts.changed) > AGENT_S:
                dead_agents.add(("agent", host))
            if not self.config_judged(facts, now):
                continue
            if status is not None and (status.get("config") != "ok" or status.get("generation") != self.generation):
                wrong_config.add(("agent-config", host, str(status.get("config")), str(status.get("generation"))))
            on_disk = read_bytes(self.lab.host_dir(host) / "etc/cluster.yaml")
            if not facts.corrupt and on_disk != self.expected_config:
                wrong_config.add(("file", host, "missing" if on_disk is None else "differs"))
        self.report(now, "agent", self.persist["agent"].update(dead_agents, now, 0.0),
                    lambda k, d: f"the agent on {k[1]} has not answered status for more than {AGENT_S:.0f} s "
                                 f"(crashed and not restarted?)")
        self.report(now, "config", self.persist["config"].update(wrong_config, now, 1.0),
                    lambda k, d: (f"agent on {k[1]} reports config {k[2]!r} generation {k[3]} (utility's: "
                                  f"generation {self.generation})" if k[0] == "agent-config"
                                  else f"cluster.yaml on {k[1]} {k[2]} (not the utility's)"))

    def check_xdata(self, now: float) -> None:
        lost = set()
        for host in self.servers:
            var = self.lab.host_dir(host) / "var"
            folders = [var / "xdata"] + sorted((var / "standby").glob("lim*"))
            for folder in folders:
                names = set(listing(folder))
                key = (host, str(folder.relative_to(var)))
                for name in lost_versions(self.xdata_seen.get(key, set()), names):
                    lost.add(("xdata", host, key[1], name))
                self.xdata_seen[key] = names
        self.report(now, "xdata", self.persist["xdata"].update(lost, now, -1.0),
                    lambda k, d: f"{k[3]} disappeared from {k[1]}:/var/opt/eri_sn/{k[2]} with no newer version "
                                 f"of its LIM there")

    # ---------------------------------------------------------- the run
    def execute(self) -> int:
        self.setup()
        self.started = time.monotonic()
        schedule = make_schedule(self.seed, self.minutes, {i.lim: i.regular for i in self.lims}, self.standby)
        print(f"chaos: seed {self.seed}, {self.minutes:g} min, {len(self.lims)} LIMs, {len(schedule)} events:",
              flush=True)
        for event in schedule:
            print(f"chaos:   plan {event.text()}", flush=True)
        seconds = self.minutes * 60 + 30
        self.clients = {i.lim: FailoverClient(i.alias, seconds=seconds, period=TICK_S, limit=TICK_S).start()
                        for i in self.lims}
        stop = threading.Event()
        try:
            if not self.wait_all_served():
                raise RuntimeError(f"the cluster never served every LIM from its regular:\n{self.lab.status()}")
            self.started = time.monotonic()
            self.note("start (every LIM served by its regular)")
            events = threading.Thread(target=self.run_events, args=(schedule, stop), daemon=True)
            events.start()
            self.monitor(stop)
            events.join(timeout=60)
        finally:
            stop.set()
            for client in self.clients.values():
                client.stop()
        return self.verdict(schedule)

    def monitor(self, stop: threading.Event) -> None:
        end = self.minutes * 60
        next_tick, next_xdata = 0.0, 0.0
        for _ in range(int(end / TICK_S) * 4):
            now = self.now()
            if now >= end:
                break
            if self.lab.stamp()[:2] != self.stamp[:2]:
                self.lab_changed = True
                self.note("the lab was rebuilt by someone else: the run is void")
                break
            self.check(now)
            if now >= next_xdata:
                self.check_xdata(now)
                next_xdata = now + 0.5
            next_tick += TICK_S
            time.sleep(max(0.0, min(next_tick, end) - self.now()))
        stop.set()

    def verdict(self, schedule: list[Event]) -> int:
        kinds = sorted({e.kind for e in schedule})
        print(f"chaos: event kinds: {', '.join(kinds)}", flush=True)
        print("chaos: event log:\n" + "\n".join(f"  {line}" for line in self.log), flush=True)
        if self.lab_changed:
            print(f"chaos: VOID: the shared lab changed under the run; rerun: scripts/chaos --minutes "
                  f"{self.minutes:g} --seed {self.seed} --lims {len(self.lims)}", flush=True)
            return 3
        for violation in self.violations:
            print(violation.line(self.seed), flush=True)
        if self.violations:
            print(f"chaos: the servers' logs are kept in {keep_logs(self.lab, self.seed)}", flush=True)
        print(f"chaos: {len(self.violations)} violation(s); replay: scripts/chaos --minutes {self.minutes:g} "
              f"--seed {self.seed} --lims {len(self.lims)}", flush=True)
        return 1 if self.violations else 0


# ============================================================== small helpers


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def listing(folder: Path) -> list[str]:
    with contextlib.suppress(OSError):
        return os.listdir(folder)
    return []


def keep_logs(lab: Lab, seed: int) -> Path:
    """Copy every server's /var/log (agent, sshd) out of the lab, which the next reset wipes."""
    target = Path(f"/tmp/mxone-chaos-seed{seed}-{time.strftime('%H%M%S')}")
    for host_dir in sorted((lab.dir / "hosts").glob("*")):
        with contextlib.suppress(OSError):
            shutil.copytree(host_dir / "log", target / host_dir.name, dirs_exist_ok=True)
    return target


def write_file(path: Path, data: bytes) -> None:
    """Atomically, as the utility does (temp file in the same folder, then rename)."""
    tmp = path.with_name(f".{path.name}.chaos")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lims", type=int, default=2, choices=range(2, 11), metavar="N")
    parser.add_argument("--plan", action="store_true", help="print the schedule only")
    args = parser.parse_args(argv)
    if args.plan:
        regulars = {n: f"lim{n}" for n in range(1, args.lims + 1)}
        for event in make_schedule(args.seed, args.minutes, regulars, "sb1"):
            print(event.text())
        return 0
    if os.geteuid() != 0:
        print("chaos: must run as root (the lab)", file=sys.stderr)
        return 2
    return Run(Lab(args.lims), args.seed, args.minutes).execute()


if __name__ == "__main__":
    sys.exit(main())
