"""Issue 15, findings 2-6: the heartbeat port cannot be shared, a socket that cannot be opened is alarmed
and retried, the replay windows survive restarts and an older run never retires a newer one, the drain
is bounded and drops non-members before the HMAC, and no authentic oddity aborts a cycle. Real UDP on
127.0.0.x, fakes for the effects (no root)."""
from __future__ import annotations

import errno
import hashlib
import hmac
import json
import socket
import time
from ipaddress import IPv4Interface

import pytest
from helpers.fakes import Clock, FakeAddresses, FakeFirewall, FakeNeighbours, FakeService

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent import heartbeat as hb_module
from mxone_maintenance.agent.config_offer import BadOffer, ConfigOffer, decode_offer, encode_offer
from mxone_maintenance.agent.heartbeat import BadHeartbeat, Heartbeat, HeartbeatChannel, decode, encode
from mxone_maintenance.agent.heartbeat_flags import AgentFlags
from mxone_maintenance.agent.main import real_channel
from mxone_maintenance.agent.replay_guard import STATE_FILE, ReplayGuard
from mxone_maintenance.agent.runtime import Agent, Effects
from mxone_maintenance.core.config import dump_cluster, write_atomic
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.core.paths import Paths

KEY = b"0123abcd" * 4
ALIAS1 = IPv4Interface("127.0.0.11/24")
SB1, LIM1, LIM2 = "127.0.0.20", "127.0.0.111", "127.0.0.112"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def loopback_cluster(port: int) -> Cluster:
    return Cluster("c1", StandbyRef("sb1", IPv4Interface(f"{SB1}/24")),
                   (ClusterLim(1, "lim1", IPv4Interface(f"{LIM1}/24"), ALIAS1, 5),
                    ClusterLim(2, "lim2", IPv4Interface(f"{LIM2}/24"), IPv4Interface("127.0.0.12/24"), 1)),
                   generation=7, detect_s=3.0, heartbeat_s=1.0, port=port)


def beat(node: str, seq: int, running=(), boot: int = 7, sent_wall: float | None = None, **more) -> Heartbeat:
    return Heartbeat("c1", node, 7, seq, time.time() if sent_wall is None else sent_wall, tuple(running),
                     boot=boot, **more)


def signed(body: bytes, version: int = 1) -> bytes:
    data = bytes([version]) + body
    return data + hmac.new(KEY, data, hashlib.sha256).digest()


def send_from(source: str, port: int, *packets: bytes, to: str = LIM1) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind((source, 0))
        for packet in packets:
            sender.sendto(packet, (to, port))
    time.sleep(0.05)


class LoopWorld:
    """One agent with fake effects and the product's own heartbeat channel (main.real_channel), bound to
    its base address on the loopback."""

    def __init__(self, root, node: str, port: int, held=()) -> None:
        self.paths, self.clock = Paths(root), Clock()
        self.addresses, self.service = FakeAddresses(set(held)), FakeService()
        effects = Effects(self.addresses, FakeNeighbours(), FakeFirewall(), self.service)
        write_atomic(self.paths.cluster_file, dump_cluster(loopback_cluster(port)))
        write_atomic(self.paths.cluster_key, KEY, mode=0o600)
        self.make = real_channel(node)
        self.agent = Agent(self.paths, node, lambda config, node: effects, lambda c, k: self.make(c, k),
                           clock=self.clock, threaded_service=False)

    def run(self, seconds: float, step: float = 0.5) -> None:
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.clock.t += step
            self.agent.cycle()


# --- finding 2: nobody can bind beside the heartbeat port ---------------------------------------------

def test_the_channel_binds_its_base_address_without_reuse_and_nobody_can_share_the_port():
    port = free_udp_port()
    with real_channel("lim1")(loopback_cluster(port), KEY) as channel:
        assert channel._sock.getsockname() == (LIM1, port)
        assert channel._sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
        for address in (LIM1, "0.0.0.0"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as thief:
                thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                with pytest.raises(OSError) as caught:
                    thief.bind((address, port))
                assert caught.value.errno == errno.EADDRINUSE, address
        send_from(SB1, port, encode(beat("sb1", 1), KEY))
        assert [hb.node for hb, _ in channel.receive_all()] == ["sb1"]


# --- finding 3: a socket that cannot be opened is alarmed and retried -----------------------------------

def test_a_heartbeat_socket_that_cannot_be_opened_is_alarmed_and_retried_every_cycle(tmp_path):
    port = free_udp_port()
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind((LIM1, port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as standby:
        standby.bind((SB1, port))
        standby.settimeout(2.0)
        world = LoopWorld(tmp_path, "lim1", port, held={ALIAS1})
        world.agent.cycle()
        alarm = world.agent.alarms.active[alarm_keys.HEARTBEAT_SOCKET]
        assert f"UDP {LIM1}:{port}" in alarm.text and "Address already in use" in alarm.text
        assert not world.agent.wiring.ready and world.agent.cycle_needed() and world.agent.tick() == 0.5
        world.run(1.0)                                     # still taken: still alarmed, no exception
        assert alarm_keys.HEARTBEAT_SOCKET in world.agent.alarms.active
        squatter.close()
        world.run(0.5)
        assert alarm_keys.HEARTBEAT_SOCKET not in world.agent.alarms.active and world.agent.wiring.ready
        assert world.agent.wiring.channel._members == {SB1: "sb1", LIM2: "lim2"}, "members only, as at first"
        data, (source, _) = standby.recvfrom(65536)
        assert decode(data, KEY).node == "lim1" and source == LIM1
        world.agent.close_channel()


# --- finding 4: replay windows across restarts, run order by sent time, freshness on by default -------

def test_a_replayed_heartbeat_of_a_peers_previous_run_does_not_retire_its_live_run():
    guard = ReplayGuard()
    assert guard.accept(beat("sb1", 0, boot=2, sent_wall=1030.0, up_since=1.0))     # the live run
    assert not guard.accept(beat("sb1", 11, boot=1, sent_wall=1025.0, up_since=600.0)), "a recording of the run before"
    assert guard.accept(beat("sb1", 1, boot=2, sent_wall=1031.0, up_since=2.0)), "the live run is still heard"


def test_a_restarted_run_is_heard_at_once_even_if_its_clock_was_stepped_back_and_is_never_locked_out():
    guard = ReplayGuard()
    assert guard.accept(beat("sb1", 900, boot=1, sent_wall=10_000.0, up_since=900.0))
    assert guard.accept(beat("sb1", 0, boot=2, sent_wall=9_995.0, up_since=0.2)), "it started after boot 1 did"
    assert not guard.accept(beat("sb1", 850, boot=1, sent_wall=9_950.0, up_since=850.0)), "sent and started before"
    # A recording of boot 1's last seconds was sent later than boot 2's clock says now: by the times it
    # carries it is newer, so it gets in, but boot 2 (which started after boot 1) is heard again at once.
    assert guard.accept(beat("sb1", 899, boot=1, sent_wall=9_999.0, up_since=899.0))
    assert guard.accept(beat("sb1", 1, boot=2, sent_wall=9_996.0, up_since=1.2))


def test_the_replay_windows_survive_a_restart_of_the_receiver(tmp_path):
    port, path = free_udp_port(), tmp_path / "var" / STATE_FILE
    recorded = [encode(beat("sb1", seq, boot=5), KEY) for seq in (1, 2, 3)]
    with HeartbeatChannel(port, KEY, "c1", source=LIM1) as first:
        first.keep_replay_state(path)
        send_from(SB1, port, *recorded)
        assert [hb.seq for hb, _ in first.receive_all()] == [1, 2, 3]
    with HeartbeatChannel(port, KEY, "c1", source=LIM1) as again:
        again.keep_replay_state(path)
        send_from(SB1, port, recorded[2], encode(beat("sb1", 4, boot=5), KEY))
        assert [hb.seq for hb, _ in again.receive_all()] == [4]
        assert again.counters.replayed == 1


def test_row_25_a_restarted_regular_ignores_a_recorded_standby_heartbeat_claiming_its_lim(tmp_path):
    """The issue's attack: lim1's agent restarts while LIM 1 runs; a recorded, still fresh heartbeat of the
    standby ("running LIM 1", from before the fallback) is played to it, from a foreign address and
    from the standby's own. lim1 keeps its alias and its Service Node."""
    port = free_udp_port()
    claim = encode(beat("sb1", 1, running=(1,), boot=9, sent_wall=time.time() - 8), KEY)   # recorded
    before = LoopWorld(tmp_path, "lim1", port, held={ALIAS1})
    before.run(1.0)
    send_from(SB1, port, encode(beat("sb1", 2, boot=9, sent_wall=time.time() - 4), KEY))   # fallback done
    send_from(LIM2, port, encode(beat("lim2", 1, running=(2,)), KEY))
    before.run(1.0)
    assert before.agent.peers["sb1"].running == set()
    before.agent.close_channel()                                                            # the agent stops

    world = LoopWorld(tmp_path, "lim1", port, held={ALIAS1})
    world.run(0.5)
    send_from("127.0.0.9", port, claim)                                                   # not a member
    send_from(SB1, port, claim)                                                           # spoofed source
    world.run(2.0)
    channel = world.agent.wiring.channel
    assert channel.kernel_filter and channel.counters.replayed == 1    # the non-member's: dropped by the kernel
    assert (channel.counters.received, channel.counters.foreign) == (1, 0)
    assert ("remove", ALIAS1) not in world.addresses.calls and ALIAS1 in world.addresses.addresses
    assert not [call for call in world.service.calls if call[0] == "stop"]
    world.agent.close_channel()


def test_freshness_is_on_by_default_and_a_peer_refused_for_its_clock_is_alarmed(tmp_path):
    port = free_udp_port()
    world = LoopWorld(tmp_path, "lim1", port)
    mono = Clock(50.0)

    def make(config, key):
        channel = real_channel("lim1")(config, key)
        channel.monotonic = mono
        return channel
    world.make = make
    world.run(0.5)
    channel = world.agent.wiring.channel
    assert channel.max_skew_s is not None and channel.max_skew_s >= 30
    for seq in range(1, 6):
        send_from(LIM2, port, encode(beat("lim2", seq, sent_wall=time.time() - 100), KEY))
        mono.t += 1.0
        world.run(0.5)
    assert channel.counters.stale == 5 and "lim2" not in world.agent.peers
    alarm = world.agent.alarms.active[alarm_keys.heartbeat_clock("lim2")]
    assert alarm.text == "Heartbeats of lim2 refused: its clock differs from ours by more than 30 s (by 100 s when it began)"
    send_from(LIM2, port, encode(beat("lim2", 6), KEY))
    world.run(1.0)                          # heard in one cycle, the alarm cleared at the start of the next
    assert alarm_keys.heartbeat_clock("lim2") not in world.agent.alarms.active and "lim2" in world.agent.peers
    world.agent.close_channel()


def test_a_damaged_replay_state_file_is_ignored_with_a_log_line(tmp_path, caplog):
    path = tmp_path / STATE_FILE
    path.write_text('{"version": 1, "peers": [{"node": "sb1", "boot": -1}]}')
    with HeartbeatChannel(free_udp_port(), KEY, "c1", bind="127.0.0.1") as channel:
        channel.keep_replay_state(path)
        assert channel.guard.runs() == []
    assert "ignored" in caplog.text and str(path) in caplog.text


def test_the_replay_state_is_bounded_and_written_by_rename(tmp_path):
    path = tmp_path / STATE_FILE
    with HeartbeatChannel(free_udp_port(), KEY, "c1", bind="127.0.0.1") as channel:
        channel.keep_replay_state(path)
        for n in range(100):
            assert channel.guard.accept(beat(f"peer{n}", 1))
        assert channel.save_replay_state(periodic=False)
    saved = json.loads(path.read_text())["peers"]
    assert len(saved) == 64 and saved[-1]["node"] == "peer99"
    assert (path.stat().st_mode & 0o777) == 0o600 and [p.name for p in tmp_path.iterdir()] == [STATE_FILE]


# --- finding 5: a bounded drain, non-members dropped before the HMAC -----------------------------------

@pytest.fixture
def channel():
    with HeartbeatChannel(free_udp_port(), KEY, "c1", source=LIM1) as channel:
        yield channel


def test_the_kernel_drops_non_members_before_they_reach_the_socket(channel):
    channel.admit({SB1: "sb1", LIM2: "lim2"})
    assert channel.kernel_filter and channel.receive_buffer >= 1024 * 1024
    send_from("127.0.0.9", channel.port, *[encode(beat("sb1", seq), KEY) for seq in range(1, 200)])
    send_from(LIM2, channel.port, encode(beat("lim2", 1), KEY))
    assert [(hb.node, source) for hb, source in channel.receive_all()] == [("lim2", LIM2)]
    assert channel.counters.received == 1
    channel.admit({SB1: "sb1"})                          # lim2 left the cluster: its datagrams stop at once
    send_from(LIM2, channel.port, encode(beat("lim2", 2), KEY))
    send_from(SB1, channel.port, encode(beat("sb1", 1), KEY))
    assert [hb.node for hb, _ in channel.receive_all()] == ["sb1"]


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel filter", "no kernel filter"])
def test_non_members_are_dropped_before_the_hmac_and_a_member_must_name_itself(channel, monkeypatch, kernel):
    if not kernel:
        monkeypatch.setattr(hb_module, "attach_member_filter", lambda *a: (_ for _ in ()).throw(OSError("none")))
    checked = []
    monkeypatch.setattr(hb_module, "decode", lambda *a, **k: checked.append(1) or decode(*a, **k))
    monkeypatch.setattr(hb_module, "decode_offer", lambda *a, **k: checked.append(2) or decode_offer(*a, **k))
    channel.admit({SB1: "sb1", LIM2: "lim2"})
    offer = encode_offer(ConfigOffer("c1", "sb1", 9, "schema: 1\n"), KEY)
    send_from("127.0.0.9", channel.port, encode(beat("sb1", 1), KEY), offer, b"\x01garbage" * 50)
    assert channel.receive_all() == [] and checked == []
    assert channel.kernel_filter == kernel
    assert (channel.counters.received, channel.counters.foreign) == ((0, 0) if kernel else (3, 3))
    send_from(LIM2, channel.port, encode(beat("sb1", 1), KEY), encode(beat("lim2", 1), KEY))
    assert [(hb.node, source) for hb, source in channel.receive_all()] == [("lim2", LIM2)]
    assert channel.counters.foreign == (1 if kernel else 4)     # a member's heartbeat naming another


def test_one_drain_reads_a_bounded_number_of_datagrams(channel):
    assert 0 < hb_module.MAX_DRAIN <= 1024 and 0 < hb_module.MAX_DRAIN_S <= 0.05
    channel.max_drain = 16
    send_from("127.0.0.9", channel.port, *[b"flood"] * 40)
    channel.receive_all()
    assert channel.counters.received == 16, "the rest waits for the next call"
    channel.receive_all()
    assert channel.counters.received == 32


def test_one_drain_stops_when_its_time_is_up(channel):
    ticks = iter(range(1000))
    channel.monotonic = lambda: next(ticks) * 0.01       # every datagram takes 10 ms
    send_from("127.0.0.9", channel.port, *[b"flood"] * 10)
    channel.receive_all()
    assert channel.counters.received == 1


# --- finding 6: nothing authentic aborts a cycle ---------------------------------------------------------

def body(**changes) -> dict:
    values = {"c": "c1", "n": "sb1", "g": 1, "s": 1, "w": 1.0, "r": [], "b": [], "x": [], "u": 0, "f": [], "i": 1}
    values.update(changes)
    return values


def nested_in(field: str, depth: int = 20_000) -> bytes:
    return json.dumps(body(**{field: "deep"})).replace('"deep"', "[" * depth + "]" * depth).encode()


@pytest.mark.parametrize("packet", [
    signed(b"[" * 30_000 + b"]" * 30_000),
    signed(nested_in("f")),
    signed(json.dumps(body(w=10**400)).encode()),
    signed(json.dumps(body(u=-(10**400))).encode()),
    signed(json.dumps(body(f=["xdata=" + "1" * 5000 + ":20250101000000"])).encode()),
], ids=["nested", "nested-flag", "huge-sent", "huge-up", "huge-flag"])
def test_authentic_oddities_are_malformed_not_exceptions(packet, channel):
    with pytest.raises(BadHeartbeat, match="malformed"):
        decode(packet, KEY)
    assert channel._check(packet, LIM2) is None and channel.counters.malformed == 1


def test_an_authentic_deeply_nested_offer_is_malformed():
    with pytest.raises(BadOffer, match="malformed"):
        decode_offer(signed(b"[" * 30_000 + b"]" * 30_000, version=2), KEY, "c1")


def test_flag_digits_are_ascii_and_few():
    assert AgentFlags.parse(("fallback=" + "9" * 5000, "fallback=\u0663", "fallback=\u00b2", "fallback=2")) == \
        AgentFlags(frozenset({2}))


def test_a_damaged_json_value_is_refused_in_one_line_whatever_its_keys():
    from collections.abc import Mapping

    from mxone_maintenance.core.contracts import wire
    with pytest.raises(wire.WireError) as caught:
        wire.decode(Mapping[str, int], {"a\nb" * 50: None}, "counters")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 120
