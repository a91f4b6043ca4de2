"""The agent's loop wired to Fake effects and a hand-moved clock, cycle by cycle (no sleeps), plus
the control socket for real in a temp dir."""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest
from helpers.fakes import FakeAddresses, FakeFirewall, FakeNeighbours, FakeService

from mxone_maintenance.agent import alarm_keys, control
from mxone_maintenance.agent.datasync import NotYetSynced
from mxone_maintenance.agent.heartbeat import Counters, Heartbeat, HeartbeatChannel
from mxone_maintenance.agent.main import main, not_root_error, status_text
from mxone_maintenance.agent.runtime import Agent, Doorbell, Effects, wait_readable
from mxone_maintenance.agent.runtime.worker import Outcome
from mxone_maintenance.agent.settings import SettingsError, load_settings
from mxone_maintenance.core.config import dump_cluster, write_atomic
from mxone_maintenance.core.contracts.agent_status import AgentStatus, LimState
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.core.paths import Paths

ALIAS1 = IPv4Interface("10.77.0.11/24")
CLUSTER = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")),
                  (ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), ALIAS1, 5),
                   ClusterLim(2, "lim2", IPv4Interface("10.77.0.112/24"), IPv4Interface("10.77.0.12/24"), 1)),
                  generation=7, detect_s=3.0, heartbeat_s=1.0)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeChannel:
    """Heartbeats in and out as lists; what a HeartbeatChannel would have accepted."""

    def __init__(self) -> None:
        self.inbox: list[tuple[Heartbeat, str]] = []
        self.sent: list[tuple[Heartbeat, list[str]]] = []
        self.counters = Counters()
        self.closed = False

    def send(self, hb, addresses) -> None:
        self.sent.append((hb, list(addresses)))

    def receive_all(self):
        got, self.inbox = self.inbox, []
        return got

    def send_offer(self, offer, address) -> None:
        self.offers_sent = [*getattr(self, "offers_sent", []), (offer, address)]

    def take_offers(self):
        got, self.offers_in = getattr(self, "offers_in", []), []
        return got

    def close(self) -> None:
        self.closed = True


class FailingSync:
    def push(self, lim: int, server: str) -> None:
        raise RuntimeError(f"rsync to {server} failed")

    pull = push


class SlowRegularSync:
    def __init__(self) -> None:
        self.pulled = False
        self.checks: list[tuple[int, str]] = []

    def push(self, lim: int, server: str) -> None:
        self.checks.append((lim, server))
        if not self.pulled:
            raise NotYetSynced(f"{server} has not yet pulled the standby's newer data")

    pull = push


class World:
    """One agent with fakes under a temp root."""

    def __init__(self, root: Path, node: str, held=(), sync=None) -> None:
        self.paths = Paths(root)
        self.clock = Clock()
        self.addresses = FakeAddresses(set(held))
        self.neighbours = FakeNeighbours()
        self.firewall = FakeFirewall()
        self.service = FakeService()
        self.channels: list[FakeChannel] = []
        effects = Effects(self.addresses, self.neighbours, self.firewall, self.service)
        if sync is not None:
            effects.sync = sync
        self.agent = Agent(self.paths, node, lambda config, node: effects, self.new_channel,
                           clock=self.clock, wall=lambda: 1.7e9 + self.clock.t, threaded_service=False)

    def new_channel(self, config, key) -> FakeChannel:
        self.channels.append(FakeChannel())
        return self.channels[-1]

    @property
    def channel(self) -> FakeChannel:
        return self.channels[-1]

    def write(self, cluster: Cluster | str, key: bytes = b"0123abcd" * 4) -> None:
        text = cluster if isinstance(cluster, str) else dump_cluster(cluster)
        write_atomic(self.paths.cluster_file, text)
        write_atomic(self.paths.cluster_key, key, mode=0o600)

    def beat(self, node: str, *running: int, releasing=(), seq=[0]) -> None:  # noqa: B006 - a counter
        seq[0] += 1
        self.channel.inbox.append((Heartbeat("c1", node, 7, seq[0], 0.0, tuple(running),
                                             releasing=tuple(releasing)), "10.77.0.1"))

    def run(self, seconds: float, step: float = 0.5, beating=()) -> None:
        """Advance the clock cycle by cycle; peers in `beating` (name, running) send each second."""
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.clock.t += step
            if abs(self.clock.t - round(self.clock.t)) < 1e-9:
                for node, running in beating:
                    self.beat(node, *running)
            self.agent.cycle()


@pytest.fixture
def sb1(tmp_path) -> World:
    world = World(tmp_path, "sb1")
    world.write(CLUSTER)
    return world


def test_no_config_is_idle_and_answers_status(tmp_path) -> None:
    world = World(tmp_path, "sb1")
    assert world.agent.cycle() is None
    status = world.agent.status()
    assert status["config"] == "no cluster config" and status["cluster"] is None
    assert "idle" in status_text(status)


def test_config_is_loaded_and_reloaded_when_the_file_changes(sb1) -> None:
    sb1.agent.cycle()
    assert sb1.agent.config.generation == 7
    sb1.write(replace(CLUSTER, generation=8, fallback="manual"))
    sb1.agent.cycle()
    assert (sb1.agent.config.generation, sb1.agent.config.fallback) == (8, "manual")
    assert len(sb1.channels) == 1  # same port and cluster: the channel stays (windows, counters)


def test_row_18_lower_generation_is_ignored_and_logged(sb1, caplog) -> None:
    sb1.agent.cycle()
    sb1.write(replace(CLUSTER, generation=6, fallback="manual"))
    with caplog.at_level(logging.WARNING, logger="mxone-cluster-agent"):
        sb1.agent.cycle()
    assert sb1.agent.config.generation == 7 and sb1.agent.config.fallback == "automatic"
    assert "generation 6 is older than the active 7" in caplog.text


def test_row_19_invalid_file_keeps_last_good_config_with_an_alarm_until_a_valid_one(sb1) -> None:
    sb1.agent.cycle()
    sb1.write("schema: 1\ncluster: c1\ngeneration: [not a number\n")
    sb1.agent.cycle()
    assert sb1.agent.config.generation == 7
    alarm = sb1.agent.alarms.active["config-invalid"]
    assert "keeping generation 7" in alarm.text and "cluster.yaml" in alarm.text
    sb1.clock.t += 5
    sb1.write(replace(CLUSTER, generation=8))
    sb1.agent.cycle()
    assert sb1.agent.config.generation == 8 and "config-invalid" not in sb1.agent.alarms.active
    [cleared] = [a for a in sb1.agent.status()["alarms"] if a["key"] == "config-invalid"]
    assert cleared["cleared"] - cleared["raised"] == pytest.approx(5.0)


def test_reload_flag_rereads_an_unchanged_file(sb1) -> None:
    sb1.agent.cycle()
    sb1.agent.wiring.config = replace(sb1.agent.config, detect_s=99.0)  # as if something went astray
    sb1.agent.reload_requested = True
    sb1.agent.cycle()
    assert sb1.agent.config.detect_s == 3.0


def test_standby_takes_over_a_silent_regular_then_hands_it_back(sb1) -> None:
    sb1.agent.cycle()
    up = [("lim1", (1,)), ("lim2", (2,))]
    sb1.run(5, beating=up)
    assert sb1.addresses.calls == [] and sb1.neighbours.probes == []
    sb1.run(4, beating=[("lim2", (2,))])                       # lim1 silent for D = 3 s
    assert set(sb1.neighbours.probes) == {"10.77.0.11"}  # before taking it, then watching for a duplicate
    assert sb1.addresses.addresses == {ALIAS1}
    assert sb1.neighbours.announces[0] == "10.77.0.11"
    assert sb1.service.calls == [("start", 1, IPv4Address("10.77.0.11"))]
    assert "LIM 1 is running on standby server" in {a.text for a in sb1.agent.alarms.active.values()}
    assert sb1.channel.sent[-1][0].running == (1,)
    assert sorted(sb1.channel.sent[-1][1]) == ["10.77.0.111", "10.77.0.112"]
    sb1.run(6, beating=[("lim1", ()), ("lim2", (2,))])         # lim1 back for more than H
    assert sb1.addresses.addresses == set()
    assert sb1.service.calls[-1] == ("stop", 1, IPv4Address("10.77.0.11"))
    last = sb1.channel.sent[-1][0]
    assert last.running == () and last.releasing == (1,)
    assert "lim-on-standby:1" not in sb1.agent.alarms.active


def test_a_lim_removed_while_the_standby_runs_it_stops_there(sb1) -> None:
    """remove-lim of a dead regular's LIM: the new cluster.yaml without it makes the standby let go."""
    sb1.agent.cycle()
    sb1.run(5, beating=[("lim1", (1,)), ("lim2", (2,))])
    sb1.run(4, beating=[("lim2", (2,))])                       # lim1 dead: the standby runs LIM 1
    assert sb1.addresses.addresses == {ALIAS1}
    sb1.write(replace(CLUSTER, generation=8, lims=tuple(i for i in CLUSTER.lims if i.lim != 1)))
    sb1.run(1, beating=[("lim2", (2,))])
    assert sb1.addresses.addresses == set()
    assert sb1.service.calls[-1] == ("stop", 1, IPv4Address("10.77.0.11"))
    assert sb1.channel.sent[-1][0].running == ()


def test_a_regular_keeps_its_own_lim_when_the_config_no_longer_names_it(tmp_path) -> None:
    world = World(tmp_path, "lim1", held={ALIAS1})
    world.write(CLUSTER)
    world.run(2, beating=[("lim2", (2,)), ("sb1", ())])
    world.write(replace(CLUSTER, generation=8, lims=tuple(i for i in CLUSTER.lims if i.lim != 1)))
    world.run(1, beating=[("lim2", (2,)), ("sb1", ())])
    assert ALIAS1 in world.addresses.addresses
    assert ("stop", 1, IPv4Address("10.77.0.11")) not in world.service.calls


def test_row_23_failed_data_push_stops_the_release(tmp_path) -> None:
    world = World(tmp_path, "sb1", held={ALIAS1}, sync=FailingSync())
    world.write(CLUSTER)
    world.run(8, beating=[("lim1", ()), ("lim2", (2,))])
    assert world.addresses.addresses == {ALIAS1}
    assert "Standby cluster has failed to synchronize data" in world.agent.alarms.active[alarm_keys.sync(1)].text


def test_row_23_release_waits_until_the_regular_holds_the_newer_data(tmp_path) -> None:
    sync = SlowRegularSync()
    world = World(tmp_path, "sb1", held={ALIAS1}, sync=sync)
    world.write(CLUSTER)
    world.run(8, beating=[("lim1", ()), ("lim2", (2,))])
    assert world.addresses.addresses == {ALIAS1} and alarm_keys.sync(1) not in world.agent.alarms.active
    assert len(sync.checks) == 1  # retried every SYNC_RETRY_S, not every cycle
    sync.pulled = True
    world.run(6, beating=[("lim1", ()), ("lim2", (2,))])
    assert world.addresses.addresses == set()


def test_row_25_restarted_agent_keeps_the_alias_it_finds(tmp_path) -> None:
    world = World(tmp_path, "lim1", held={ALIAS1})
    world.write(CLUSTER)
    world.run(3, beating=[("sb1", ()), ("lim2", (2,))])
    assert world.addresses.calls == []
    assert world.service.calls == [("start", 1, IPv4Address("10.77.0.11"))]  # idempotent: make sure it runs
    assert world.channel.sent[0][0].running == (1,)


def test_regular_starts_the_service_of_the_alias_it_held_before_the_cluster(tmp_path) -> None:
    """The lab showed it: the alias is the server's old address, held from boot; nobody had started
    the LIM, and the agent took "alias held" for "LIM running"."""
    world = World(tmp_path, "lim1", held={ALIAS1})
    world.write(CLUSTER)
    world.run(5, beating=[("sb1", ()), ("lim2", (2,))])
    assert world.service.calls == [("start", 1, IPv4Address("10.77.0.11"))]
    assert world.service.running == {1}


def test_a_failed_service_start_is_retried_with_the_alarm_up_until_it_succeeds(tmp_path) -> None:
    world = World(tmp_path, "lim1", held={ALIAS1})
    world.service.failing.add(1)
    world.write(CLUSTER)
    world.run(2, beating=[("sb1", ()), ("lim2", (2,))])
    assert "Service Node of LIM 1" in world.agent.alarms.active["effect:service:1"].text
    world.run(2, beating=[("sb1", ()), ("lim2", (2,))])
    assert len(world.service.calls) == 1, "retried only after SERVICE_RETRY_S, not every cycle"
    world.service.failing.clear()
    world.run(3, beating=[("sb1", ()), ("lim2", (2,))])
    assert world.service.running == {1} and "effect:service:1" not in world.agent.alarms.active


def test_fallback_order_reaches_the_heartbeat_and_completes(tmp_path) -> None:
    world = World(tmp_path, "lim1")
    world.write(replace(CLUSTER, fallback="manual"))
    world.agent.cycle()
    assert world.agent.order_fallback(1) == {"ok": True, "ordered": 1}
    assert world.agent.order_fallback(9)["ok"] is False
    world.run(3, beating=[("sb1", (1,)), ("lim2", (2,))])
    assert world.addresses.addresses == set()
    assert "fallback=1" in world.channel.sent[-1][0].flags
    world.beat("sb1", releasing=(1,))
    world.run(0.5)
    assert world.addresses.addresses == {ALIAS1}
    world.run(0.5)
    assert world.agent.orders == set()


def test_row_20_forged_datagram_is_counted_and_changes_nothing(tmp_path) -> None:
    """A real HeartbeatChannel on the loopback: a datagram with a bad HMAC never reaches a peer view."""
    world = World(tmp_path, "sb1")
    lim1 = replace(CLUSTER.lims[0], base=IPv4Interface("127.0.0.111/24"))   # only members' bases get in
    world.write(replace(CLUSTER, lims=(lim1, CLUSTER.lims[1])))
    key = b"0123abcd" * 4
    channel = HeartbeatChannel(0, key, "c1", bind="127.0.0.1")
    world.agent.wiring.make_channel = lambda config, key: channel
    world.agent.cycle()
    port = channel._sock.getsockname()[1]
    from mxone_maintenance.agent.heartbeat import encode
    good = encode(Heartbeat("c1", "lim1", 7, 1, time.time(), (1,)), key)     # fresh: within 30 s of our clock
    forged = encode(Heartbeat("c1", "lim1", 7, 2, time.time(), ()), b"wrong key")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.111", 0))
        sender.sendto(good, ("127.0.0.1", port))
        sender.sendto(forged, ("127.0.0.1", port))
        sender.sendto(good, ("127.0.0.1", port))  # replayed
    time.sleep(0.05)
    world.clock.t += 0.5
    world.agent.cycle()
    assert world.agent.peers["lim1"].running == {1}
    assert (channel.counters.forged, channel.counters.replayed, channel.counters.accepted) == (1, 1, 1)
    channel.close()


def test_status_fallback_and_refusal_over_a_real_control_socket(sb1, tmp_path, capsys) -> None:
    sb1.run(2, beating=[("lim1", (1,)), ("lim2", (2,))])
    path = sb1.paths.agent_socket
    server = control.ControlServer(path, control.agent_handlers(sb1.agent))
    try:
        assert path.stat().st_mode & 0o777 == 0o600
        status = control.ask(path, {"cmd": "status"})
        assert status["ok"] and status["cluster"] == "c1" and status["generation"] == 7
        assert {(s["lim"], s["where"]) for s in status["lims"]} == {(1, "lim1"), (2, "lim2")}
        assert [p["name"] for p in status["peers"]] == ["lim1", "lim2"]
        assert control.ask(path, {"cmd": "fallback", "lim": 2}) == {"ok": True, "ordered": 2}
        assert control.ask(path, {"cmd": "fallback", "lim": "x"})["ok"] is False
        assert control.ask(path, {"cmd": "nope"})["error"].startswith("unknown command")
        assert control.ask(path, {"cmd": "reload"})["ok"] and sb1.agent.reload_requested
        assert main(["--root", str(tmp_path), "status"]) == 0
        out = capsys.readouterr().out
        assert "cluster c1 generation 7" in out and "lim1" in out and "heartbeats:" in out
        assert main(["--root", str(tmp_path), "status", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["node"] == "sb1"
        assert main(["--root", str(tmp_path), "fallback", "7"]) == 1
        assert "LIM 7 is not in cluster c1" in capsys.readouterr().err
    finally:
        server.close()
    refusing = control.ControlServer(path, control.agent_handlers(sb1.agent), allowed=lambda uid: False)
    try:
        reply = control.ask(path, {"cmd": "status"})
        assert reply["ok"] is False and "not root" in reply["error"]
    finally:
        refusing.close()
    assert main(["--root", str(tmp_path), "status"]) == 1
    assert "the agent is not running" in capsys.readouterr().err


def test_non_root_is_refused_with_one_line() -> None:
    assert control.peer_allowed(0) and not control.peer_allowed(1000)
    assert not_root_error(0, "status") is None
    line = not_root_error(1000, "status")
    assert line == "error: mxone-cluster-agent status must be run as root (you are uid 1000)"


def test_usage_errors_exit_2() -> None:
    assert main(["fallback", "x"]) == 2
    assert main([]) == 2


def test_agent_settings(tmp_path) -> None:
    path = tmp_path / "agent.yaml"
    assert load_settings(path, "hostx").node == "hostx"
    path.write_text('node: lim1\nservice:\n  start: [/bin/sn, start, "{lim}"]\n  stop: [/bin/sn, stop]\n')
    settings = load_settings(path)
    assert settings.node == "lim1" and settings.service_start == ("/bin/sn", "start", "{lim}")
    path.write_text("service: [1, 2]\n")
    with pytest.raises(SettingsError, match="service"):
        load_settings(path)


def test_status_publishes_what_this_server_itself_runs(sb1) -> None:
    """The utility's `cluster status` reads where each LIM runs from the agents' "running"."""
    sb1.agent.cycle()
    sb1.run(5, beating=[("lim1", (1,)), ("lim2", (2,))])
    assert (sb1.agent.status()["running"], sb1.agent.status()["blocked"]) == ([], [])
    sb1.run(4, beating=[("lim2", (2,))])
    assert (sb1.agent.status()["running"], sb1.agent.status()["blocked"]) == ([1], [])


def test_the_published_status_reads_back_as_the_agent_built_it(sb1) -> None:
    """What the control socket answers is what `mxone-cluster-agent status` and the utility read."""
    sb1.run(5, beating=[("lim1", (1,)), ("lim2", (2,))])
    sb1.run(4, beating=[("lim2", (2,))])
    assert AgentStatus.loads(json.dumps(sb1.agent.status())) == sb1.agent.published
    assert [(item.kind, item.state) for item in sb1.agent.published.lims] == [
        (LimState.ON_STANDBY, "running on standby"), (LimState.RUNNING_ON, "running on lim2")]


def test_a_probe_begun_before_the_alias_was_taken_is_not_used(tmp_path) -> None:
    """Probes run off the loop; an answer that comes in after we took the alias may have heard the old
    holder and must not count as a duplicate."""
    world = World(tmp_path, "sb1")
    world.write(CLUSTER)
    world.agent.cycle()
    world.agent.probing.taken_at[1] = world.clock.t
    world.agent.probing.worker.outcomes.put(Outcome(1, "02:00:00:00:00:11", started=world.clock.t - 0.1))
    world.agent.collect_probes()
    assert 1 not in world.agent.probes
    world.agent.probing.worker.outcomes.put(Outcome(1, None, started=world.clock.t + 0.1))
    world.agent.collect_probes()
    assert world.agent.probes[1].kind == "none"


def test_the_loop_wakes_when_a_silent_peer_reaches_its_deadline(sb1) -> None:
    sb1.agent.cycle()
    sb1.run(2, beating=[("lim1", (1,)), ("lim2", (2,))])
    sb1.clock.t += 2.5                     # lim1 and lim2 silent for 2.5 s of D = 3 s
    sb1.agent.cycle()
    assert sb1.agent.tick() <= 0.1 + 1e-9  # wakes for the pre-probe 0.4 s before D, not a whole tick later


def test_a_heartbeat_that_says_nothing_new_waits_for_the_next_due_cycle(sb1) -> None:
    """The loop runs a full cycle (netlink, decide, status) only on news or when one is due."""
    sb1.run(2, beating=[("lim1", (1,)), ("lim2", (2,))])
    sb1.agent.cycle()
    sb1.beat("lim1", 1)
    sb1.clock.t += 0.1
    assert not sb1.agent.cycle_needed()                # same LIMs, no gap: only "still here"
    assert sb1.agent.peers["lim1"].last_heard == sb1.clock.t  # ... but its time is noted
    sb1.beat("lim1")                                   # lim1 no longer runs LIM 1: news
    assert sb1.agent.cycle_needed()
    sb1.agent.cycle()
    sb1.clock.t += 0.5                                 # half a heartbeat period later: due anyway
    assert sb1.agent.cycle_needed()


def test_an_order_from_the_control_socket_gets_a_cycle_at_once(sb1) -> None:
    sb1.run(2, beating=[("lim1", (1,)), ("lim2", (2,))])
    sb1.agent.cycle()
    assert not sb1.agent.cycle_needed()
    sb1.agent.order_fallback(1)
    assert sb1.agent.cycle_needed()


def test_the_agent_notes_when_its_cable_comes_back(tmp_path) -> None:
    """A regular cut off with its alias holds every announcement until it is back and has listened."""
    lim1 = World(tmp_path, "lim1", held={ALIAS1})
    lim1.write(CLUSTER)
    lim1.run(3, beating=[("sb1", ()), ("lim2", (2,))])
    lim1.addresses.cable_in = False
    before = len(lim1.neighbours.announces)
    lim1.run(30)                                       # three announce periods, peers silent
    assert lim1.agent.observe(CLUSTER, lim1.clock.t).link_down
    assert len(lim1.neighbours.announces) == before
    lim1.addresses.cable_in = True
    lim1.run(0.5)
    back = lim1.clock.t
    observed = lim1.agent.observe(CLUSTER, lim1.clock.t)
    assert (observed.link_down, observed.link_back_at) == (False, back)
    assert lim1.neighbours.asked == [("10.77.0.111", ("10.77.0.112", "10.77.0.20"))]  # ARP: who is there?
    lim1.run(2.0)                                      # listening: nothing yet
    assert len(lim1.neighbours.announces) == before
    lim1.run(1.5)                                      # nobody claims LIM 1: point the caches here again
    assert lim1.neighbours.announces[before:] == ["10.77.0.11"]


def test_without_a_heartbeat_channel_the_loop_waits_instead_of_spinning(sb1) -> None:
    """A reload that could not open the new port leaves no channel: retry calmly, not at 200 Hz."""
    sb1.agent.cycle()
    sb1.agent.close_channel()
    sb1.agent.wiring.make_channel = lambda config, key: (_ for _ in ()).throw(OSError(98, "Address already in use"))
    sb1.agent.cycle()
    assert sb1.agent.cycle_needed() and sb1.agent.tick() == 0.5


def test_a_worker_result_gets_a_cycle_at_once(sb1) -> None:
    """A probe's answer is on the failover's path: it must not wait for the next tick."""
    sb1.run(2, beating=[("lim1", (1,)), ("lim2", (2,))])
    sb1.agent.cycle()
    sb1.agent.doorbell = Doorbell()
    assert not sb1.agent.cycle_needed()
    sb1.agent.probing.submit(1, lambda: None)                # inline here; a worker thread in the agent
    assert sb1.agent.cycle_needed()
    assert not sb1.agent.cycle_needed()                       # one ring, one cycle
    sb1.agent.doorbell.close()
    sb1.agent.doorbell.ring()                                 # late rings after the loop stopped are ignored


def test_the_loop_sleeps_until_the_doorbell_rings() -> None:
    bell = Doorbell()
    threading.Timer(0.05, bell.ring).start()
    started = time.monotonic()
    wait_readable(30.0, [None, bell])
    assert time.monotonic() - started < 20, "woken by the ring, not by the 30 s timeout"
    assert bell.answer() and not bell.answer()
    bell.close()


def test_a_sync_order_without_a_cluster_is_refused(tmp_path) -> None:
    world = World(tmp_path, "sb1")
    world.agent.cycle()
    assert world.agent.order_sync() == {"ok": False, "error": "no cluster config on this server"}
    assert not world.agent.sync_requested
