"""Driving the network-namespace lab (scripts/lab) from Python: the tests (their fixtures are in
tests/conftest.py), the benchmarks and the chaos run.

    def test_something(lab):                 # the lab with 2 LIMs (lim1, lim2, sb1, client)
        lab.exec("lim1", "data_backup")
        lab.http("10.77.0.11", "/wbm")       # (200, "SNM on lim1\n") from the client, or None
        lab.psql("lim1", "SELECT count(*) FROM rows")
    def test_bigger(lab_up):
        lab = lab_up(3)                       # the lab with 3 LIMs (rebuilt only if N differs)

`Lab` wraps the lab's verbs; addresses and names follow DESIGN §7 (lim N at 10.77.0.(10+N), lim10 at
10.77.0.21, sb1 at 10.77.0.20, client at 10.77.0.30).
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB_SCRIPT = REPO / "scripts/lab"
NETNS_PREFIX = "mxlab-"
SERVICE_PORT = 7001
HTTP_PORT = 80                                        # the stand-in PM/SNM (scripts/lab-webapp)
PSQL = "/usr/lib/postgresql/15/bin/psql"
CLONE_NEWNET = 0x40000000
VENV_BIN = Path(sys.executable).parent      # the venv running us: its agent is the one the lab starts


def venv_command(name: str) -> str:
    """A command of the project's venv (the one this interpreter belongs to), never a fixed path."""
    return str(VENV_BIN / name)


def lab_environ() -> dict[str, str]:
    """The environment for scripts/lab: the lab's agents come from this same venv."""
    return dict(os.environ, MXONE_VENV=str(VENV_BIN.parent))


class LabUnavailable(Exception):
    """The lab cannot be built here (not root, tools missing, `lab up` failed)."""


def lim_address(n: int) -> str:
    return f"10.77.0.{10 + n if n < 10 else 21}"


def host_address(host: str) -> str:
    """The lab's own address of a host (before any cluster gives it a new base)."""
    fixed = {"sb1": "10.77.0.20", "client": "10.77.0.30"}
    return fixed.get(host) or lim_address(int(host.removeprefix("lim")))


def socket_in_netns(netns: str, timeout: float) -> socket.socket:
    """A TCP socket created inside a named network namespace (it stays there for its whole life).

    setns(CLONE_NEWNET) changes only the calling thread, so a short-lived thread makes the socket;
    this is ~100x faster than starting a process in the namespace for every probe.
    """
    made: list = []

    def make() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            with open(f"/run/netns/{netns}") as ns:
                if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        except OSError as error:
            made.append(error)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if isinstance(made[0], OSError):
        raise made[0]
    made[0].settimeout(timeout)
    return made[0]


class Lab:
    """A running lab. Every method is safe to call from several threads (the script locks itself)."""

    def __init__(self, lims: int, script: Path = LAB_SCRIPT):
        self.script = script
        self.lims = lims
        self.env = self._read_env()

    # ---------------------------------------------------------------- the script's verbs
    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """`scripts/lab ARGS...` with captured text output."""
        result = subprocess.run([str(self.script), *args], capture_output=True, text=True, timeout=timeout,
                                env=lab_environ())
        if check and result.returncode != 0:
            raise AssertionError(f"scripts/lab {shlex.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def up(self, lims: int | None = None, bond: bool = False, media_server: bool = False) -> Lab:
        """The lab with LIMS LIMs; bond: every host with two links in an active-backup bond; media_server:
        a stand-in co-located Media Server with each LIM. A lab built the other way is rebuilt."""
        self.lims = lims or self.lims
        result = self.run("up", "--lims", str(self.lims), *(["--bond"] if bond else []),
                          *(["--media-server"] if media_server else []), check=False, timeout=300)
        if result.returncode != 0:
            raise LabUnavailable((result.stderr or result.stdout).strip())
        return self

    def reset(self, lims: int | None = None, bond: bool = False, media_server: bool = False) -> Lab:
        """A fresh lab: down, then up (no cluster, fresh host files; keys are kept)."""
        self.down()
        return self.up(lims, bond, media_server)

    def down(self) -> None:
        self.run("down")

    def state(self) -> dict:
        """scripts/lab's record of the running lab ({} when there is none)."""
        try:
            return json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def stamp(self) -> tuple:
        """(built time, LIM count, holder pids): changes when anyone rebuilds the shared lab or revives a
        host (another run's `lab up` repairs: it revives the host a benchmark has just killed). A long
        run compares it to tell its own lab from one rebuilt under it."""
        state = self.state()
        return state.get("built"), state.get("lims"), tuple(sorted((state.get("holders") or {}).items()))

    def exec(self, host: str, *cmd: str, check: bool = True, input: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess:
        """Run CMD inside HOST (text in/out). check=True raises with the output on a non-zero exit."""
        result = subprocess.run([str(self.script), "exec", host, *cmd], capture_output=True, text=True,
                                input=input, timeout=timeout, env=lab_environ())
        if check and result.returncode != 0:
            raise AssertionError(f"{host}: {shlex.join(cmd)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def kill(self, host: str) -> None:
        self.run("kill", host)

    def revive(self, host: str) -> None:
        self.run("revive", host)

    def cut(self, host: str) -> None:
        self.run("cut", host)

    def heal(self, host: str) -> None:
        self.run("heal", host)

    def cut_link(self, host: str, link: int) -> None:
        """Bonded lab: unplug link 1 or 2 of HOST (its switch port down)."""
        self.run("cut-link", host, str(link))

    def heal_link(self, host: str, link: int) -> None:
        self.run("heal-link", host, str(link))

    def replace(self, host: str, address: str | None = None) -> None:
        """New hardware in HOST's place (fresh host key, no cluster files or data), booted at `address`."""
        self.run("replace", host, *(["--address", address] if address else []))

    def restart_agent(self, host: str) -> None:
        self.run("restart-agent", host)

    def status(self) -> str:
        return self.run("status").stdout

    # ---------------------------------------------------------------- facts about the lab
    @property
    def dir(self) -> Path:
        return Path(self.env["MXONE_LAB_DIR"])

    @property
    def system_file(self) -> Path:
        return Path(self.env["MXONE_SYSTEM"])

    @property
    def hosts(self) -> list[str]:
        return [f"lim{n}" for n in range(1, self.lims + 1)] + ["sb1", "client"]

    @property
    def servers(self) -> list[str]:
        return self.hosts[:-1]

    def agent_logs(self, lines: int = 20) -> str:
        """The last lines of every agent's log, for failure messages."""
        out = []
        for host in self.servers:
            log = self.host_dir(host) / "log/mxone-cluster-agent.log"
            tail = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
            out.append(f"--- {host}\n" + "\n".join(tail))
        return "\n".join(out)

    def host_dir(self, host: str) -> Path:
        """The host's files as seen from the root namespace: etc/ (= /etc/opt/eri_sn), var/, log/, ssh/."""
        return self.dir / "hosts" / host

    def address(self, host: str) -> str:
        return host_address(host)

    def addresses(self, host: str) -> list[str]:
        """IPv4 addresses (with prefix) on the host's eth0, as `ip` reports them."""
        return [f"{a['local']}/{a['prefixlen']}" for a in self._link_json(host, "addr")["addr_info"]
                if a.get("family") == "inet"]

    def mac(self, host: str) -> str:
        return self._link_json(host, "link")["address"]

    def client_arp(self, ip: str) -> str | None:
        """The MAC the client's neighbour table holds for IP, or None (no entry, or failed/incomplete)."""
        out = subprocess.run(["ip", "-n", NETNS_PREFIX + "client", "-j", "neigh", "show", "to", ip,
                              "dev", "eth0"], capture_output=True, text=True, check=True).stdout
        for entry in json.loads(out or "[]"):
            if entry.get("lladdr") and not {"FAILED", "INCOMPLETE"} & set(entry.get("state", [])):
                return entry["lladdr"]
        return None

    def ask_alias(self, alias_ip: str, timeout: float = 1.0) -> str | None:
        """Connect from the client to ALIAS:7001; the Service Node's line ("LIM 1 on sb1") or None."""
        try:
            with socket_in_netns(NETNS_PREFIX + "client", timeout) as sock:
                sock.connect((alias_ip, SERVICE_PORT))
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(200)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        return data.decode().strip() or None

    def http(self, host_ip: str, path: str, method: str = "GET", body: str | None = None,
             timeout: float = 1.0) -> tuple[int, str] | None:
        """An HTTP request from the client to HOST_IP:80 (the stand-in PM/SNM); (status, body) or None
        when nothing answers."""
        try:
            with socket_in_netns(NETNS_PREFIX + "client", timeout) as sock:
                sock.connect((host_ip, HTTP_PORT))
                conn = http.client.HTTPConnection(host_ip, HTTP_PORT, timeout=timeout)
                conn.sock = sock
                conn.request(method, path, body=None if body is None else body.encode())
                response = conn.getresponse()
                return response.status, response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            return None

    def psql(self, host: str, sql: str) -> str:
        """SQL run as postgres inside HOST on the database snm; its output (unaligned, tuples only)."""
        return self.exec(host, "runuser", "-u", "postgres", "--", PSQL, "-h", "/run/postgresql", "-d", "snm",
                         "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql).stdout.strip()

    def ssh_command(self, address: str, *cmd: str) -> list[str]:
        """Plain OpenSSH from the root namespace with the admin key and the pinned host keys."""
        return ["ssh", "-i", self.env["MXONE_SSH_KEY"], "-o", f"UserKnownHostsFile={self.env['MXONE_KNOWN_HOSTS']}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2",
                f"root@{address}", *cmd]

    # ---------------------------------------------------------------- internals
    def _read_env(self) -> dict:
        out = subprocess.run([str(self.script), "env"], capture_output=True, text=True, check=True,
                             env=lab_environ()).stdout
        env = {}
        for line in out.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
        return env

    def _link_json(self, host: str, what: str) -> dict:
        out = subprocess.run(["ip", "-n", NETNS_PREFIX + host, "-j", what, "show", "dev", "eth0"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)[0]


class ClientWatch:
    """The client asking ALIAS:7001 on a fixed schedule: a new attempt every PERIOD s (attempts overlap,
    each with a LIMIT s timeout), so an outage is resolved to ~PERIOD (LAB-NOTES, "Measuring failover").

        watch = ClientWatch(lab, "10.77.0.111")
        ...
        gap, answers = watch.stop()          # the longest time between answered attempts; every answer
    """

    def __init__(self, lab: Lab, alias_ip: str, period: float = 0.02, limit: float = 0.1) -> None:
        self.lab, self.alias_ip, self.period, self.limit = lab, alias_ip, period, limit
        self.results: list[tuple[float, str | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._attempts: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self._thread.start()

    def _attempt(self, started: float) -> None:
        answer = self.lab.ask_alias(self.alias_ip, timeout=self.limit)
        with self._lock:
            self.results.append((started, answer))

    def _schedule(self) -> None:
        import time

        next_at = time.monotonic()
        while not self._stop.is_set():
            thread = threading.Thread(target=self._attempt, args=(next_at,), daemon=True)
            thread.start()
            self._attempts.append(thread)
            next_at += self.period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def answers(self) -> list[tuple[float, str | None]]:
        with self._lock:
            return sorted(self.results)

    def stop(self) -> tuple[float, list[tuple[float, str | None]]]:
        """Stop; (the longest time between two answered attempts' starts, every (start, answer))."""
        self._stop.set()
        self._thread.join()
        for thread in self._attempts:
            thread.join()
        results = self.answers()
        answered = [moment for moment, answer in results if answer is not None]
        gaps = [b - a for a, b in zip(answered, answered[1:])]
        return (max(gaps) if gaps else float("inf")), results
