"""Fuzzing the heartbeat decoder (issue 15): any bytes in, a Heartbeat or one clean BadHeartbeat out, never
another exception; the same for the catch-up offer, the channel's check of one datagram, the flags
parser and the replay state file. Authentic (signed) inputs are fuzzed too: random bytes almost never
pass the HMAC, and what the parser and the field checks do with signed nonsense matters most."""
from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.agent.config_offer import BadOffer, ConfigOffer, decode_offer
from mxone_maintenance.agent.heartbeat import _KEYS, BadHeartbeat, Heartbeat, HeartbeatChannel, decode, encode
from mxone_maintenance.agent.heartbeat_flags import AgentFlags
from mxone_maintenance.agent.replay_guard import PeerRun, ReplayStore

KEY = b"k" * 32
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**1200)
           | st.floats() | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)
near_heartbeats = st.fixed_dictionaries({key: json_values for key in _KEYS.values()})
nestings = st.tuples(st.integers(1, 30_000), st.sampled_from(["[]", "{}"]),
                     st.sampled_from(["", '{"c":', '{"f":[', '{"r":'])).map(
    lambda t: t[2] + (('{"a":' * t[0] + "1" + "}" * t[0]) if t[1] == "{}" else "[" * t[0] + "]" * t[0]))


def signed(body: bytes, version: int = 1) -> bytes:
    data = bytes([version]) + body
    return data + hmac.new(KEY, data, hashlib.sha256).digest()


def as_json(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def decodes_or_refuses(packet: bytes) -> None:
    try:
        hb = decode(packet, KEY, "c1")
    except BadHeartbeat as bad:
        assert bad.reason in {"malformed", "forged", "wrong-cluster"}
        return
    assert isinstance(hb, Heartbeat) and decode(encode(hb, KEY), KEY) == hb


@given(st.binary(max_size=3000))
def test_any_bytes_decode_or_raise_bad_heartbeat(data):
    decodes_or_refuses(data)
    decodes_or_refuses(bytes([1]) + data)


@given(st.binary(max_size=3000))
def test_any_signed_bytes_decode_or_raise_bad_heartbeat(body):
    decodes_or_refuses(signed(body))


@given(json_values | near_heartbeats)
def test_any_signed_json_decodes_or_raises_bad_heartbeat(value):
    decodes_or_refuses(signed(as_json(value)))


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(nestings)
def test_signed_deep_nesting_is_malformed(text):
    decodes_or_refuses(signed(text.encode()))


@given(st.binary(max_size=2000) | json_values.map(as_json), st.sampled_from(["127.0.0.2", "127.0.0.9"]),
       st.sampled_from([1, 2]))
def test_the_channel_checks_any_datagram_without_raising(body, source, version):
    with HeartbeatChannel(0, KEY, "c1", bind="127.0.0.1") as channel:
        channel.admit({"127.0.0.2": "sb1"})
        for packet in (body, signed(body, version)):
            channel._check(packet, source)
        assert all(isinstance(offer, ConfigOffer) for offer in channel.take_offers())


@given(st.binary(max_size=2000) | json_values.map(as_json) | nestings.map(str.encode))
def test_any_signed_offer_decodes_or_raises_bad_offer(body):
    try:
        offer = decode_offer(signed(body, version=2), KEY, "c1")
    except BadOffer as bad:
        assert bad.reason in {"malformed", "forged", "wrong-cluster"}
        return
    assert isinstance(offer, ConfigOffer)


@given(st.lists(st.text(max_size=30) | st.text(alphabet="0123456789\u00b2\u0663=fallback", max_size=30)
                | st.integers(0, 6000).map(lambda n: "fallback=" + "7" * n), max_size=8))
def test_any_flags_parse_to_plain_lim_numbers(flags):
    parsed = AgentFlags.parse(tuple(flags))
    assert all(type(n) is int and n >= 0 for n in parsed.fallback)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000) | json_values.map(as_json)
       | st.builds(lambda peers: as_json({"version": 1, "peers": peers}), st.lists(json_values, max_size=3)))
def test_any_replay_state_file_loads_as_runs_or_is_ignored(tmp_path, data):
    path = tmp_path / "state.json"
    path.write_bytes(data)
    runs = ReplayStore(path).load()
    assert all(isinstance(run, PeerRun) for run in runs)
