"""Heartbeat wire format, authentication, replay guard and the UDP channel (no root needed)."""
from __future__ import annotations

import dataclasses
import select
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxone_maintenance.agent.heartbeat_flags import AgentFlags
from mxone_maintenance.agent.heartbeat import (
    PROCESS_BOOT_ID,
    BadHeartbeat,
    Heartbeat,
    HeartbeatChannel,
    ReplayGuard,
    decode,
    encode,
)

KEY = b"k" * 32
finite = st.floats(allow_nan=False, allow_infinity=False)
lims = st.lists(st.integers(min_value=0, max_value=2**31), max_size=10).map(tuple)
heartbeats = st.builds(
    Heartbeat,
    cluster=st.text(max_size=30), node=st.text(max_size=30),
    generation=st.integers(min_value=0, max_value=2**63), seq=st.integers(min_value=0, max_value=2**63),
    sent_wall=finite, running=lims, blocked=lims, releasing=lims, up_since=finite,
    flags=st.lists(st.text(max_size=20), max_size=4).map(tuple),
    boot=st.integers(min_value=0, max_value=2**64 - 1),
)


def beat(seq: int = 1, node: str = "lim1", boot: int = 7, **changes) -> Heartbeat:
    values = dict(cluster="c1", node=node, generation=3, seq=seq, sent_wall=1000.0 + seq,
                  running=(1,), boot=boot)
    values.update(changes)
    return Heartbeat(**values)


@given(heartbeats)
def test_round_trip(hb):
    assert decode(encode(hb, KEY), KEY) == hb


@settings(max_examples=60)
@given(heartbeats, st.data())
def test_any_flipped_bit_is_rejected(hb, data):
    packet = bytearray(encode(hb, KEY))
    bit = data.draw(st.integers(min_value=0, max_value=len(packet) * 8 - 1))
    packet[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(BadHeartbeat) as caught:
        decode(bytes(packet), KEY)
    assert caught.value.reason in {"forged", "malformed"}


@given(st.binary(max_size=300))
def test_garbage_is_rejected_not_crashing(data):
    with pytest.raises(BadHeartbeat):
        decode(data, KEY)


def test_truncated_packet_is_malformed():
    packet = encode(beat(), KEY)
    with pytest.raises(BadHeartbeat, match="malformed"):
        decode(packet[:20], KEY)


def test_wrong_key_is_forged():
    with pytest.raises(BadHeartbeat) as caught:
        decode(encode(beat(), KEY), b"another key")
    assert caught.value.reason == "forged"


def test_wrong_cluster_is_rejected_only_when_asked():
    packet = encode(beat(cluster="c2"), KEY)
    assert decode(packet, KEY).cluster == "c2"
    with pytest.raises(BadHeartbeat) as caught:
        decode(packet, KEY, cluster="c1")
    assert caught.value.reason == "wrong-cluster"


def test_signed_but_invalid_body_is_malformed():
    """A sender with the key but a bug (e.g. a string seq) must not get past decode."""
    import hashlib
    import hmac

    body = b'\x01{"c":"c1","n":"lim1","g":1,"s":"1","w":1.0,"r":[],"b":[],"x":[],"u":0,"f":[],"i":1}'
    packet = body + hmac.new(KEY, body, hashlib.sha256).digest()
    with pytest.raises(BadHeartbeat, match="malformed"):
        decode(packet, KEY)


def test_encode_refuses_values_that_would_not_decode():
    with pytest.raises(ValueError):
        encode(beat(sent_wall=float("nan")), KEY)
    with pytest.raises(ValueError):
        encode(beat(running=(True,)), KEY)


def test_default_boot_is_this_process_id():
    hb = Heartbeat(cluster="c1", node="n", generation=1, seq=0, sent_wall=0.0, running=())
    assert hb.boot == PROCESS_BOOT_ID


def test_replayed_or_old_sequence_is_refused():
    guard = ReplayGuard()
    assert guard.accept(beat(1))
    assert guard.accept(beat(2))
    assert not guard.accept(beat(2))
    assert not guard.accept(beat(1))
    assert guard.accept(beat(5))


def test_peers_have_separate_windows():
    guard = ReplayGuard()
    assert guard.accept(beat(10, node="lim1"))
    assert guard.accept(beat(1, node="lim2"))


def test_new_boot_resets_the_window():
    guard = ReplayGuard()
    assert guard.accept(beat(100, boot=1))
    assert guard.accept(beat(0, boot=2, sent_wall=2000.0))
    assert guard.accept(beat(1, boot=2, sent_wall=2001.0))
    assert not guard.accept(beat(1, boot=2, sent_wall=2001.0))


def test_old_boot_cannot_be_replayed_after_restart():
    guard = ReplayGuard()
    assert guard.accept(beat(100, boot=1, sent_wall=1000.0))
    assert guard.accept(beat(0, boot=2, sent_wall=1010.0))
    assert not guard.accept(beat(101, boot=1, sent_wall=1000.5))


def test_recording_of_an_earlier_run_is_refused():
    guard = ReplayGuard()
    assert guard.accept(beat(5, boot=3, sent_wall=10_000.0, up_since=3600.0))
    assert not guard.accept(beat(50, boot=2, sent_wall=5_000.0))
    assert guard.accept(beat(0, boot=4, sent_wall=9_990.0, up_since=0.5)), \
        "clock stepped back a little: a real restart (it started after the run it replaces)"


# --- the UDP channel on the loopback: two agents on one port, as in a cluster -----------------

def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def pair():
    port = free_udp_port()
    with HeartbeatChannel(port, KEY, "c1", bind="127.0.0.1", max_skew_s=None) as one, \
            HeartbeatChannel(port, KEY, "c1", bind="127.0.0.2", max_skew_s=None) as two:
        yield one, two


def receive(channel: HeartbeatChannel, expected: int, timeout: float = 1.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        select.select([channel], [], [], 0.05)
        got += channel.receive_all()
    return got


def test_udp_round_trip(pair):
    one, two = pair
    hb = beat(1, node="one")
    one.send(hb, ["127.0.0.2"])
    assert receive(two, 1) == [(hb, "127.0.0.1")]
    assert two.counters.accepted == 1 and one.counters.sent == 1


def test_channel_drops_and_counts_bad_packets(pair):
    one, two = pair
    one.send(beat(1, node="one"), ["127.0.0.2"])
    one.send(beat(1, node="one"), ["127.0.0.2"])                      # replay
    one.send(beat(2, node="one", cluster="other"), ["127.0.0.2"])     # wrong cluster
    with HeartbeatChannel(one.port, b"wrong key", "c1", bind="127.0.0.3") as intruder:
        intruder.send(beat(3, node="one"), ["127.0.0.2"])
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raw.sendto(b"\x01hello", ("127.0.0.2", one.port))
    raw.close()
    one.send(beat(4, node="one"), ["127.0.0.2"])
    got = receive(two, 2, timeout=0.5)
    assert [hb.seq for hb, _ in got] == [1, 4]
    counters = dataclasses.asdict(two.counters)
    assert counters == dict(received=6, accepted=2, malformed=1, forged=1, replayed=1, wrong_cluster=1,
                            stale=0, foreign=0, sent=0, send_errors=0)


def test_stale_heartbeats_are_dropped_when_a_skew_limit_is_set(pair):
    one, two = pair
    two.max_skew_s = 5.0
    one.send(beat(1, node="one", sent_wall=time.time() - 60), ["127.0.0.2"])
    one.send(beat(2, node="one", sent_wall=time.time()), ["127.0.0.2"])
    assert [hb.seq for hb, _ in receive(two, 1)] == [2]
    assert two.counters.stale == 1


def test_send_errors_are_counted_not_raised(pair):
    one, _ = pair
    one.send(beat(1), ["255.255.255.255", "127.0.0.2"])  # broadcast without SO_BROADCAST: EACCES
    assert one.counters.send_errors == 1 and one.counters.sent == 1


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        HeartbeatChannel(free_udp_port(), b"", "c1", bind="127.0.0.1")


def test_heartbeats_leave_from_the_given_source_address(pair):
    """A node sends from its base address, not from whichever address the kernel would pick first
    (often a LIM's alias, which a peer holding the same alias drops)."""
    _, two = pair
    with HeartbeatChannel(two.port, KEY, "c1", bind="127.0.0.3", source="127.0.0.5") as sender:
        sender.send(beat(1, node="one"), ["127.0.0.2"])
        assert receive(two, 1) == [(beat(1, node="one"), "127.0.0.5")]


def test_a_source_address_not_yet_up_falls_back_to_the_kernel_choice(pair):
    one, two = pair
    one.source = "192.0.2.1"                     # not on any interface here
    one.send(beat(1, node="one"), ["127.0.0.2"])
    assert receive(two, 1) == [(beat(1, node="one"), "127.0.0.1")]


@given(st.frozensets(st.integers(min_value=0, max_value=2**31)), st.none() | st.text(min_size=1, max_size=20),
       st.frozensets(st.integers(min_value=1, max_value=99)))
def test_agent_flags_round_trip_beside_the_flags_of_others(fallback, mac, unready):
    flags = AgentFlags(fallback, mac, unready)
    assert AgentFlags.parse(("xdata=1:20251125120000", *flags.encode(), "future=1")) == flags


@given(st.lists(st.text(max_size=12) | st.sampled_from(["fallback=²", "fallback=", "mac=", "fallback=x"])))
def test_unreadable_flags_are_ignored(flags):
    parsed = AgentFlags.parse(tuple(flags))
    assert all(isinstance(n, int) for n in parsed.fallback)
