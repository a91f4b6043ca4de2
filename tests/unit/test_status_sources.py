"""`cluster status` from the agent on this server, utility side: which members its cluster view tells
about and which are asked over SSH (from_view), collect_status against a real control socket answering a
canned view (and with none there: every member over SSH), and what the technician reads (status_text:
where each member's information came from and how old it is; the JSON's via/age_s); at the end two real
agents on the loopback, the standby's asked by collect_status over its real control socket."""
from __future__ import annotations

import json
import re
import select
import socket
import threading
from dataclasses import replace
from ipaddress import IPv4Interface

import pytest
from helpers.fakes import Clock, FakeAddresses, FakeFirewall, FakeNeighbours, FakeService

from mxone_maintenance.agent import control
from mxone_maintenance.agent.heartbeat import HeartbeatChannel
from mxone_maintenance.agent.runtime import Agent as RealAgent
from mxone_maintenance.agent.runtime import Effects
from mxone_maintenance.core.config import dump_cluster, write_atomic
from mxone_maintenance.core.contracts.agent_status import AgentStatus, LimState, LimStatus
from mxone_maintenance.core.contracts.cluster_view import ClusterView, MemberView
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef, System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops import status, status_sources
from mxone_maintenance.utility.ops.status import ServerReport, StatusReport, collect_status, merge_status, status_text
from mxone_maintenance.utility.ops.status_sources import FRESH_ENOUGH_S, from_view, local_view
from mxone_maintenance.utility.remote.settings import SshSettings

WALL = 1.7e9


def cluster(name: str = "c1", lims=(1, 2), standby: str = "sb1", net: int = 77) -> Cluster:
    items = tuple(ClusterLim(n, f"lim{n}", IPv4Interface(f"10.{net}.0.11{n}/24"), IPv4Interface(f"10.{net}.0.1{n}/24"),
                             priority=5 if n == lims[0] else 1) for n in lims)
    return Cluster(name, StandbyRef(standby, IPv4Interface(f"10.{net}.0.20/24")), items, generation=7, detect_s=3.0)


C1 = cluster()
C2 = cluster("c2", lims=(3,), standby="sb2", net=78)


def agent(node: str, running=(), lims=(), cluster_name: str = "c1") -> AgentStatus:
    return AgentStatus(node=node, now=WALL, cluster=cluster_name, generation=7, config="ok", running=tuple(running),
                       lims=tuple(lims))


LIM1 = agent("lim1", [1], [LimStatus(1, "lim1", LimState.RUNNING_HERE)])
SB1 = agent("sb1", [2], [LimStatus(2, "sb1", LimState.ON_STANDBY)])


def canned(*members: MemberView, node: str = "lim1", name: str = "c1") -> ClusterView:
    """lim1's agent: itself now, lim2 silent for 9.2 s, sb1 heard 0.1 s ago with its current status."""
    default = (MemberView("lim1", 0.0, 0.02, True, LIM1), MemberView("lim2", 9.2, note="silent for 9.2 s"),
               MemberView("sb1", 0.1, 2.5, True, SB1))
    given = {m.server: m for m in members}
    return ClusterView(node, name, 7, 3.0, tuple(given.pop(m.server, m) for m in default) + tuple(given.values()))


# --- from_view: the rules

def test_a_silent_member_is_not_answering_with_how_long_as_the_agent_hears_it():
    reports, over_ssh = from_view(C1, canned())
    assert over_ssh == []
    assert reports["lim2"] == ServerReport("lim2", False, error="silent for 9.2 s (as lim1's agent hears it)",
                                           via="lim1", age_s=9.2)
    assert reports["lim2"].agent is None                        # a dead server's last LIMs are not shown


def test_a_member_never_heard_is_not_answering_and_not_asked():
    reports, over_ssh = from_view(C1, canned(MemberView("lim2", None, note="not heard since this agent started")))
    assert over_ssh == [] and not reports["lim2"].reachable
    assert reports["lim2"].error == "not heard since its agent started (as lim1's agent hears it)"


def test_current_statuses_are_used_with_the_age_of_the_last_heartbeat():
    reports, _ = from_view(C1, canned())
    assert reports["lim1"] == ServerReport("lim1", True, LIM1, via="lim1", age_s=0.0)
    assert reports["sb1"] == ServerReport("sb1", True, SB1, via="lim1", age_s=0.1)   # not the status's 2.5 s


@pytest.mark.parametrize("member", [MemberView("lim2", 0.3, note="no status shared yet"),
                                    MemberView("lim2", 0.3, 0.0, note="its shared status is unreadable: malformed"),
                                    MemberView("lim2", 0.3, FRESH_ENOUGH_S + 0.01, False, agent("lim2", [2])),
                                    MemberView("lim2", 0.3, 30.0, False, agent("lim2", [2]))])
def test_a_heard_member_without_a_usable_status_is_asked_over_ssh(member):
    reports, over_ssh = from_view(C1, canned(member))
    assert over_ssh == ["lim2"] and "lim2" not in reports and set(reports) == {"lim1", "sb1"}


@pytest.mark.parametrize("age", [0.0, 0.4, FRESH_ENOUGH_S])
def test_a_status_not_yet_announced_but_young_is_used_with_its_own_age(age):
    reports, over_ssh = from_view(C1, canned(MemberView("lim2", 0.3, age, False, agent("lim2", [2]))))
    assert over_ssh == [] and reports["lim2"] == ServerReport("lim2", True, agent("lim2", [2]), via="lim1", age_s=age)


def test_members_missing_from_the_view_are_asked_and_strangers_in_it_ignored():
    three = replace(C1, lims=C1.lims + (ClusterLim(3, "lim3", IPv4Interface("10.77.0.113/24"),
                                                   IPv4Interface("10.77.0.13/24"), 1),))
    reports, over_ssh = from_view(three, canned(MemberView("lim9", 0.1, 0.1, True, agent("lim9"))))
    assert over_ssh == ["lim3"] and set(reports) == {"lim1", "lim2", "sb1"}


# --- collect_status against a real control socket

@pytest.fixture
def ssh(monkeypatch):
    """status._over_ssh recorded: the names it is asked for, each answered "asked over SSH" (no network)."""
    calls: list[list[str]] = []

    def over_ssh(system, names, settings):
        calls.append(list(names))
        return {name: ServerReport(name, True, agent(name, cluster_name=system.cluster_of_server(name).name))
                for name in names}

    monkeypatch.setattr(status, "_over_ssh", over_ssh)
    return calls


@pytest.fixture
def settings(tmp_path) -> SshSettings:
    """Settings that could not connect anywhere: no key, no known hosts."""
    return SshSettings(key_file=tmp_path / "no-key", known_hosts=tmp_path / "no-known-hosts", connect_timeout=0.01)


class Agent:
    """A control socket answering {"cmd": "cluster"} with a canned reply, recording the requests."""

    def __init__(self, path, reply) -> None:
        self.requests: list[dict] = []
        self.server = control.ControlServer(path, {"cluster": self.answer}, allowed=lambda uid: True)
        self.reply = reply

    def answer(self, request: dict) -> dict:
        self.requests.append(request)
        return self.reply() if callable(self.reply) else self.reply

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc) -> None:
        self.server.close()


def lines(report: StatusReport) -> list[str]:
    return status_text(report).splitlines()


def test_every_member_covered_by_the_local_agent_needs_no_ssh(tmp_path, ssh, settings):
    path = tmp_path / "agent.sock"
    with Agent(path, canned().to_json()) as local:
        report = collect_status(System(clusters=(C1,)), settings, local=path)
    assert local.requests == [{"cmd": "cluster"}] and ssh == [[]]
    shown = lines(report)
    assert "  Heard by lim1's agent: lim1 now, lim2 silent for 9.2 s, sb1 0.1 s ago" in shown
    assert "  Servers: lim1 answers, lim2 NOT ANSWERING, sb1 answers" in shown
    assert "    lim2: does not answer: silent for 9.2 s (as lim1's agent hears it)" in [
        line.split(" (since")[0] for line in shown]
    assert "  1    lim1      lim1        -        running on regular" in shown
    assert "  2    lim2      sb1         -        running on standby" in shown
    assert not report.complete
    servers = {s["server"]: s for s in json.loads(json.dumps(report.to_json()))["clusters"][0]["servers"]}
    assert {n: (s["via"], s["age_s"], s["reachable"]) for n, s in servers.items()} == {
        "lim1": ("lim1", 0.0, True), "lim2": ("lim1", 9.2, False), "sb1": ("lim1", 0.1, True)}


def test_only_what_the_agent_cannot_tell_goes_over_ssh_and_other_clusters_too(tmp_path, ssh, settings):
    path = tmp_path / "agent.sock"
    young = MemberView("lim2", 0.2, 0.5, False, agent("lim2", [2]))
    with Agent(path, canned(MemberView("sb1", 0.1, note="no status shared yet"), young).to_json()):
        report = collect_status(System(clusters=(C1, C2)), settings, local=path)
    assert ssh == [["sb1", "lim3", "sb2"]]
    first, second = (lines(StatusReport((c,))) for c in report.clusters)
    assert "  Heard by lim1's agent: lim1 now, lim2 0.5 s ago; asked over SSH: sb1" in first
    assert "  asked over SSH: lim3, sb2" in second
    servers = report.to_json()["clusters"][0]["servers"]
    assert [(s["server"], s["via"], s["age_s"]) for s in servers] == [
        ("lim1", "lim1", 0.0), ("lim2", "lim1", 0.5), ("sb1", "ssh", None)]


def test_with_the_socket_missing_every_member_is_asked_over_ssh(tmp_path, ssh, settings):
    report = collect_status(System(clusters=(C1,)), settings, local=tmp_path / "no-agent.sock")
    assert ssh == [["lim1", "lim2", "sb1"]]
    assert "  asked over SSH: lim1, lim2, sb1" in lines(report) and report.complete
    assert {s["via"] for s in report.to_json()["clusters"][0]["servers"]} == {"ssh"}
    collect_status(System(clusters=(C1,)), settings)                        # no local socket given: SSH too
    assert ssh[-1] == ["lim1", "lim2", "sb1"]


@pytest.mark.parametrize("reply", [{"ok": False, "error": "this server's agent has no cluster view: not a member"},
                                   canned(name="c9").to_json(), {"ok": True, "node": "lim1"}, {"whatever": 1}])
def test_an_agent_without_a_view_of_this_cluster_leaves_it_all_to_ssh(tmp_path, ssh, settings, reply):
    path = tmp_path / "agent.sock"
    with Agent(path, reply) as local:
        report = collect_status(System(clusters=(C1,)), settings, local=path)
    assert local.requests == [{"cmd": "cluster"}] and ssh == [["lim1", "lim2", "sb1"]]
    assert "  asked over SSH: lim1, lim2, sb1" in lines(report)


def test_local_view_says_in_one_line_why_there_is_none(tmp_path, monkeypatch):
    assert local_view(None) == "no local agent"
    assert local_view(tmp_path / "gone.sock").startswith("the agent is not running (no socket")
    path = tmp_path / "agent.sock"
    with Agent(path, {"ok": False, "error": "this server's agent has no cluster view: no cluster config"}):
        assert local_view(path) == ("the agent answered an error: this server's agent has no cluster view: "
                                    "no cluster config")
    with Agent(path, canned().to_json()):
        assert local_view(path) == canned()
    released = threading.Event()
    monkeypatch.setattr(status_sources, "LOCAL_TIMEOUT_S", 0.1)
    with Agent(path, lambda: (released.wait(5), canned().to_json())[1]):      # answers only when released
        try:
            assert local_view(path).startswith(f"cannot talk to the agent on {path}")
        finally:
            released.set()


# --- what the technician reads

def test_the_source_line_names_each_members_age_and_the_ones_asked():
    reports = {"lim1": ServerReport("lim1", True, LIM1, via="lim1", age_s=0.0),
               "lim2": ServerReport("lim2", False, error="not heard since its agent started (as lim1's agent hears it)",
                                    via="lim1"),
               "sb1": ServerReport("sb1", True, SB1, via="lim1", age_s=0.04)}
    assert "  Heard by lim1's agent: lim1 now, lim2 never heard, sb1 now" in lines(
        StatusReport((merge_status(C1, reports),)))
    reports["sb1"] = ServerReport("sb1", True, SB1, via="lim1", age_s=12.34)
    reports["lim2"] = ServerReport("lim2", False, error="lim2 (10.77.0.112): connection timed out after 2.5 s")
    shown = lines(StatusReport((merge_status(C1, reports),)))
    assert "  Heard by lim1's agent: lim1 now, sb1 12.3 s ago; asked over SSH: lim2" in shown
    assert "  Servers: lim1 answers, lim2 NOT ANSWERING, sb1 answers" in shown
    assert any(line.startswith("    lim2: does not answer: connection timed out after 2.5 s") for line in shown)


def test_the_real_ssh_path_is_not_taken_when_the_view_covers_every_member(tmp_path, settings):
    path = tmp_path / "agent.sock"
    with Agent(path, canned().to_json()):
        report = collect_status(System(clusters=(C1,)), settings, local=path)   # settings that reach nobody
    assert [(s.server, s.via) for s in report.clusters[0].servers] == [("lim1", "lim1"), ("lim2", "lim1"),
                                                                        ("sb1", "lim1")]


# --- end to end: two real agents on the loopback, sb1's asked over its control socket

KEY = b"0123abcd" * 4


class Node:
    """One agent with fake effects and a real HeartbeatChannel bound to its base address (127.0.0.x)."""

    def __init__(self, root, node: str, config: Cluster, held=()) -> None:
        self.paths, self.clock, self.channels = Paths(root), Clock(), []
        effects = Effects(FakeAddresses(set(held)), FakeNeighbours(), FakeFirewall(), FakeService())
        self.agent = RealAgent(self.paths, node, lambda c, n: effects, self.new_channel, clock=self.clock,
                               wall=lambda: WALL + self.clock.t, threaded_service=False)
        write_atomic(self.paths.cluster_file, dump_cluster(config))
        write_atomic(self.paths.cluster_key, KEY, mode=0o600)

    def new_channel(self, config: Cluster, key: bytes) -> HeartbeatChannel:
        base = config.base_of(self.agent.node)      # max_skew_s None: our wall clock is the hand-moved one
        self.channels.append(HeartbeatChannel(config.port, key, config.name, source=str(base.ip),
                                              max_skew_s=None))
        return self.channels[-1]

    def step(self, seconds: float = 0.5) -> None:
        self.clock.t += seconds
        if self.channels:      # loopback datagrams are queued when sendto returns; this only guards it
            select.select([self.channels[-1]], [], [], 0.02)
        self.agent.cycle()


def test_two_agents_on_the_loopback_share_their_status_and_cluster_status_reads_it(tmp_path, ssh, settings):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]         # free now; both channels bind it, on 127.0.0.1 and 127.0.0.2
    config = Cluster("c1", StandbyRef("sb1", IPv4Interface("127.0.0.2/8")),
                     (ClusterLim(1, "lim1", IPv4Interface("127.0.0.1/8"), IPv4Interface("10.77.0.11/24"), 5),
                      ClusterLim(2, "lim2", IPv4Interface("127.0.0.3/8"), IPv4Interface("10.77.0.12/24"), 1)),
                     generation=7, detect_s=3.0, heartbeat_s=1.0, port=port)
    lim1 = Node(tmp_path / "lim1", "lim1", config, held=[config.lims[0].alias])
    sb1 = Node(tmp_path / "sb1", "sb1", config)
    path = tmp_path / "agent.sock"
    server = control.ControlServer(path, control.agent_handlers(sb1.agent), allowed=lambda uid: True)
    try:
        for _ in range(8):
            lim1.step()
            sb1.step()
        found = ClusterView.from_json(control.ask(path, {"cmd": "cluster"}))
        assert [m.server for m in found.members] == ["lim1", "lim2", "sb1"] and found.node == "sb1"
        shared = found.member("lim1")
        assert shared.current and shared.heard_ago <= 1.0 and shared.status.node == "lim1"
        assert shared.status.running == (1,) and shared.status.peers == () and shared.status.counters == {}
        as_sent = replace(lim1.agent.published, peers=(), counters={}, now=shared.status.now, up_s=shared.status.up_s)
        assert shared.status == AgentStatus.from_json(as_sent.to_json())
        assert found.member("lim2").note == "not heard since this agent started"
        assert found.member("sb1").status.node == "sb1" and found.member("sb1").heard_ago == 0.0
        assert sb1.channels[-1].counters.forged == sb1.channels[-1].counters.malformed == 0

        shown = lines(collect_status(System(clusters=(config,)), settings, local=path))
        assert ssh == [[]]                                 # lim2 never heard: named, not waited for over SSH
        [source] = [line for line in shown if line.startswith("  Heard by sb1's agent: ")]
        assert re.fullmatch(r"  Heard by sb1's agent: lim1 (now|0\.5 s ago), lim2 never heard, sb1 now", source)
        assert "  1    lim1      lim1        -        running on regular" in shown

        for _ in range(8):           # lim1 stops; sb1's loop goes on hearing nobody
            sb1.step()
        shown = lines(collect_status(System(clusters=(config,)), settings, local=path))
        [source] = [line for line in shown if line.startswith("  Heard by sb1's agent: ")]
        assert re.fullmatch(r"  Heard by sb1's agent: lim1 silent for 4\.\d s, lim2 never heard, sb1 now", source)
        assert "  Servers: lim1 NOT ANSWERING, lim2 NOT ANSWERING, sb1 answers" in shown and ssh == [[], []]
    finally:
        server.close()
        for node in (lim1, sb1):
            for channel in node.channels:
                channel.close()
