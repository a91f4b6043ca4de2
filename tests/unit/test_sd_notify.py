"""sd_notify for real: an AF_UNIX datagram socket (a path and an abstract name) stands in for systemd
and reads what the agent's loop sends (READY, WATCHDOG only after cycles, STATUS, STOPPING)."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from helpers.fakes import Clock

from mxone_maintenance.agent.runtime import Agent, loop
from mxone_maintenance.agent.runtime.agent import status_line
from mxone_maintenance.agent.sd_notify import Notifier, socket_address, watchdog_interval
from mxone_maintenance.core.contracts.agent_status import AgentStatus, AlarmStatus
from mxone_maintenance.core.paths import Paths


@pytest.fixture(params=["path", "abstract"])
def manager(request, tmp_path) -> Iterator[tuple[socket.socket, str]]:
    """systemd's end: a bound datagram socket and the $NOTIFY_SOCKET that names it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        name = str(tmp_path / "notify")
    else:
        name = f"@mxone-test-notify-{os.getpid()}-{id(sock)}"
    sock.bind(socket_address(name))
    sock.setblocking(False)
    yield sock, name
    sock.close()


def received(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


class Loop:
    """What loop.run needs of an agent: cycles that run, fail, or are not needed; stops after `turns`."""

    def __init__(self, clock: Clock, turns: int, needed: bool = True, fails: bool = False) -> None:
        self.clock, self.turns, self.needed, self.fails = clock, turns, needed, fails
        self.stop_requested = False
        self.cycles = 0

    def cycle_needed(self) -> bool:
        return self.needed

    def cycle(self) -> None:
        self.cycles += 1
        if self.fails:
            raise RuntimeError("a bug")

    def tick(self) -> float:
        return 0.25

    def wake_sources(self) -> list:
        return []

    def wait(self, seconds: float, _sources) -> None:
        self.clock.t += seconds
        self.turns -= 1
        self.stop_requested = self.turns <= 0


def test_the_agent_says_ready_pings_after_cycles_and_says_stopping(manager, tmp_path) -> None:
    sock, name = manager
    clock = Clock()
    agent = Agent(Paths(tmp_path), "sb1", lambda config, node: None, lambda config, key: None,
                  clock=clock, threaded_service=False)
    waits = []

    def wait(seconds: float, _sources) -> None:     # 12 idle cycles, IDLE_TICK_S (0.5 s) apart
        clock.t += seconds
        waits.append(seconds)
        agent.stop_requested = len(waits) >= 12

    agent.run(wait=wait, notifier=Notifier(name, ping_every_s=1.0, clock=clock))
    messages = received(sock)
    assert messages[0] == "READY=1\nSTATUS=idle: no cluster config"
    assert waits == [loop.IDLE_TICK_S] * 12
    assert messages[1:-1] == ["WATCHDOG=1"] * 5         # 1, 2, ... 5 s after READY: not every cycle
    assert messages[-1] == "STOPPING=1\nSTATUS=stopping"


def test_no_ping_while_no_cycle_runs_or_every_cycle_fails(manager) -> None:
    sock, name = manager
    for idle in (Loop(Clock(), turns=20, needed=False), Loop(Clock(), turns=20, fails=True)):
        notifier = Notifier(name, ping_every_s=1.0, clock=idle.clock)
        loop.run(idle, idle.wait, lambda n=notifier: n.cycled("x"))
        assert received(sock) == [], "a loop that gets nothing done must let the watchdog fire"


def test_a_ping_follows_a_cycle_once_the_interval_passed(manager) -> None:
    sock, name = manager
    clock = Clock()
    notifier = Notifier(name, ping_every_s=5.0, clock=clock)
    notifier.cycled("cluster c1 generation 4: LIM 1 running here")
    clock.t += 4.9
    notifier.cycled("cluster c1 generation 4: LIM 1 running here")
    clock.t += 0.1
    notifier.cycled("cluster c1 generation 5: no LIM running here")
    assert received(sock) == ["READY=1\nSTATUS=cluster c1 generation 4: LIM 1 running here",
                              "WATCHDOG=1\nSTATUS=cluster c1 generation 5: no LIM running here"]


def test_without_watchdog_only_status_changes_are_sent(manager) -> None:
    sock, name = manager
    notifier = Notifier(name)
    for status in ("a", "a", "b\nREADY=0"):
        notifier.cycled(status)
    assert received(sock) == ["READY=1\nSTATUS=a", "STATUS=b READY=0"], "one line: no smuggled assignment"


def test_without_a_socket_nothing_happens_and_nothing_raises(tmp_path, caplog) -> None:
    quiet = Notifier(None, ping_every_s=0.0)
    quiet.cycled("x")
    quiet.stopping()
    assert not quiet.send("READY=1") and not quiet.ready
    gone = Notifier(str(tmp_path / "nobody-listens"), ping_every_s=0.0)
    for _ in range(3):
        gone.cycled("x")
    Notifier("/bad\0path").cycled("x")
    assert not gone.ready
    said = [r.getMessage() for r in caplog.records if "cannot notify systemd" in r.getMessage()]
    assert len(said) == 2, "a failing socket is logged once, not every cycle"


def test_the_environment_is_read_once_and_not_passed_on() -> None:
    environ = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid()), "PATH": "/bin"}
    notifier = Notifier.from_env(environ)
    assert notifier.address == b"\0x" and notifier.ping_every_s == 15.0
    assert environ == {"PATH": "/bin"}, "the Service Nodes the agent starts must not ping for it"
    assert Notifier.from_env({}).address is None


@pytest.mark.parametrize("environ, every", [
    ({"WATCHDOG_USEC": "2000000"}, 1.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, None),     # meant for another process
    ({"WATCHDOG_USEC": "0"}, None), ({"WATCHDOG_USEC": "soon"}, None), ({}, None)])
def test_the_watchdog_interval_is_half_of_watchdog_usec(environ, every) -> None:
    assert watchdog_interval(environ, 4242) == every


def test_the_status_line_says_cluster_generation_and_what_runs_here() -> None:
    assert status_line(AgentStatus(node="sb1", cluster="c1", generation=4, running=(1,))) == \
        "cluster c1 generation 4: LIM 1 running here"
    alarm = AlarmStatus("k", "LIM 2 is running on standby server", raised=1.0)
    assert status_line(AgentStatus(node="sb1", cluster="c1", generation=5, running=(), blocked=(2,),
                                   alarms=(alarm, alarm))) == \
        "cluster c1 generation 5: no LIM running here, LIM 2 blocked (preloaded passive), 2 alarms"
    assert status_line(AgentStatus(node="sb1", config="no cluster config")) == "idle: no cluster config"


def test_abstract_names_start_with_a_nul() -> None:
    assert socket_address("@sd") == b"\0sd" and socket_address("/run/systemd/notify") == "/run/systemd/notify"
