"""The shared status, agent side: the signed status datagram (any bytes in: a Received or one BadStatus
out), the book of the peers' newest statuses, StatusShare.publish (when a status goes out and what the
heartbeats announce) and view() (the cluster as one agent hears it, read back as the asker reads it).
Two real agents on the loopback: tests/unit/test_status_sources.py. Hand-moved clocks; no sleeps."""
from __future__ import annotations

import hashlib
import hmac
import json
import tracemalloc
import zlib
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Interface

import pytest
from helpers.fakes import Clock
from hypothesis import given, settings
from hypothesis import strategies as st

from mxone_maintenance.agent import status_datagram as sd
from mxone_maintenance.agent.runtime import status_share
from mxone_maintenance.agent.runtime.status_share import MIN_GAP_S, StatusShare
from mxone_maintenance.agent.status_datagram import BadStatus, Received, StatusBook, digest_flag, parse_digest, verify
from mxone_maintenance.core.contracts.agent_status import AgentStatus, AlarmStatus, PeerStatus, SyncCheck, SyncEntry
from mxone_maintenance.core.contracts.cluster_view import ClusterView
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef

KEY = b"0123abcd" * 4
WALL = 1.7e9
CLUSTER = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")),
                  (ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), IPv4Interface("10.77.0.11/24"), 5),
                   ClusterLim(2, "lim2", IPv4Interface("10.77.0.112/24"), IPv4Interface("10.77.0.12/24"), 1)),
                  generation=7, detect_s=3.0, heartbeat_s=1.0)


def status(node: str = "lim1", **changes) -> AgentStatus:
    """A status as an agent publishes it, with every value that changes with time alone set."""
    base = AgentStatus(node=node, now=WALL, cluster="c1", generation=7, config="ok", fallback="automatic",
                       failover="normal", running=(1,), peers=(PeerStatus("sb1", 7, heard_ago=0.2),),
                       counters={"sent": 5}, up_s=10.0,
                       sync=(SyncEntry(1, "sb1", age_s=10.0, clock_skew_s=0.1, last=WALL - 10, ok=True),),
                       sync_checks=(SyncCheck(1, "sb1", True, ago=1.0),))
    return replace(base, **changes)


def datagram(value: dict, digest: int = 1, sent_wall: float = WALL, key: bytes = KEY) -> bytes:
    return sd.encode_status(value, digest, sent_wall, key)


def signed(body: bytes, sent_wall: float = WALL, digest: int = 1) -> bytes:
    data = bytes([sd.STATUS_VERSION]) + sd.HEADER.pack(sent_wall, digest) + body
    return data + hmac.new(KEY, data, hashlib.sha256).digest()


def parses_or_refuses(data: bytes) -> None:
    """Only ever a status object or one BadStatus, never another exception."""
    try:
        value = verify(data, KEY, 0.0, WALL, 30.0).status_json()
    except BadStatus as bad:
        assert bad.reason in {"malformed", "forged", "stale"}
        return
    assert isinstance(value, dict)


# --- the datagram: bytes from outside

scalars = (st.none() | st.booleans() | st.integers() | st.integers(10**300, 10**400) | st.floats()
           | st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(deadline=None)        # a loaded machine must not fail a correct parser
@given(st.binary(max_size=2000))
def test_any_bytes_signed_or_not_verify_or_raise_bad_status(data):
    parses_or_refuses(data)
    parses_or_refuses(bytes([sd.STATUS_VERSION]) + data)
    parses_or_refuses(signed(data))
    parses_or_refuses(signed(zlib.compress(data)))


@settings(deadline=None)
@given(json_values)
def test_any_signed_json_parses_or_raises_bad_status(value):
    parses_or_refuses(signed(zlib.compress(json.dumps(value).encode())))


@settings(deadline=None)
@given(st.data())
def test_a_flipped_bit_of_a_valid_datagram_is_always_refused(data):
    good = datagram(status().to_json(), digest=0xDEADBEEF)
    assert verify(good, KEY, 0.0, WALL, 30.0).status_json()["node"] == "lim1"
    bit = data.draw(st.integers(0, len(good) * 8 - 1))
    flipped = bytearray(good)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(BadStatus) as refused:
        verify(bytes(flipped), KEY, 0.0, WALL, 30.0)
    assert refused.value.reason in {"malformed", "forged"}


def test_a_zlib_bomb_is_refused_as_malformed_without_inflating_it_all():
    bomb = signed(zlib.compress(b"\0" * 10_000_000, 9))
    assert len(bomb) < 20_000
    received = verify(bomb, KEY, 0.0, WALL, 30.0)       # the header and tag are all verify reads
    tracemalloc.start()
    try:
        with pytest.raises(BadStatus) as refused:
            received.status_json()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.reason == "malformed" and f"more than {sd.MAX_STATUS} bytes" in str(refused.value)
    assert peak < 3 * sd.MAX_STATUS                          # far from the 10 MB it would inflate to


def test_a_status_of_exactly_max_status_bytes_is_read_one_more_is_refused():
    pad = sd.MAX_STATUS - len('{"a":""}')
    assert len(verify(datagram({"a": "x" * pad}), KEY, 0.0, WALL, 30.0).status_json()["a"]) == pad
    with pytest.raises(BadStatus, match="more than"):
        verify(datagram({"a": "x" * (pad + 1)}), KEY, 0.0, WALL, 30.0).status_json()


@pytest.mark.parametrize("body, why", [(b"not zlib", "not zlib data"), (zlib.compress(b"[1, 2]"), "not an object"),
                                       (zlib.compress(b"{nope"), "not JSON"),
                                       (zlib.compress(b"\xff\xfe{}"), "not JSON"),
                                       (zlib.compress(b"[" * 100_000 + b"]" * 100_000), "not JSON")])
def test_a_signed_body_that_is_no_json_object_is_malformed(body, why):
    with pytest.raises(BadStatus, match=why) as refused:
        verify(signed(body), KEY, 0.0, WALL, 30.0).status_json()
    assert refused.value.reason == "malformed"


def test_verify_keeps_the_header_and_refuses_short_other_versions_and_other_keys():
    good = datagram(status().to_json(), digest=0x0123ABCD)
    received = verify(good, KEY, 42.0, WALL, 30.0)
    assert (received.sent_wall, received.digest, received.received) == (WALL, 0x0123ABCD, 42.0)
    assert AgentStatus.from_json(received.status_json()) == status()
    for bad, reason in [(good[:40], "malformed"), (b"", "malformed"), (bytes([1]) + good[1:], "malformed"),
                        (datagram(status().to_json(), key=b"another key"), "forged"), (good[:-1] + b"x", "forged")]:
        with pytest.raises(BadStatus) as refused:
            verify(bad, KEY, 0.0, WALL, 30.0)
        assert refused.value.reason == reason


def test_sent_wall_beyond_the_skew_is_stale_either_way_and_nan_always():
    assert verify(datagram({}, sent_wall=WALL - 29.9), KEY, 0.0, WALL, 30.0).sent_wall == WALL - 29.9
    assert verify(datagram({}, sent_wall=WALL + 29.9), KEY, 0.0, WALL, 30.0).sent_wall == WALL + 29.9
    for sent in (WALL - 30.1, WALL + 30.1, float("inf"), float("-inf"), float("nan")):
        with pytest.raises(BadStatus) as refused:
            verify(datagram({}, sent_wall=sent), KEY, 0.0, WALL, 30.0)
        assert refused.value.reason == "stale"
    assert verify(datagram({}, sent_wall=WALL - 3600), KEY, 0.0, WALL, None).sent_wall == WALL - 3600
    with pytest.raises(BadStatus, match="stale"):
        verify(datagram({}, sent_wall=float("nan")), KEY, 0.0, WALL, None)   # NaN even with no skew limit


# --- the book

@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.integers(0, 3)), min_size=1, max_size=20),
       st.none() | st.integers(0, 3))
def test_a_replayed_or_older_datagram_never_replaces_a_newer_one_unless_announced(datagrams, announced):
    book, held = StatusBook(), None
    book.announced("lim1", announced)
    for sent, digest in datagrams:
        datagram_in = Received(sent, digest, b"", 0.0)
        kept = book.keep("lim1", datagram_in)
        if held is None or sent > held.sent_wall or digest == announced != held.digest:   # newer, or a clock set back
            assert kept
        else:
            assert not kept                          # older, and no news: a replay
        held = datagram_in if kept else held
        assert book.latest("lim1") == (held, held.digest == announced)
    assert book.keep("lim2", Received(-1e9, 99, b"", 0.0))                      # per member


def test_a_peer_whose_clock_was_set_back_is_followed_from_its_next_refresh():
    book = StatusBook()
    book.keep("lim1", first := Received(WALL, 1, b"", 0.0))
    book.announced("lim1", 1)
    assert not book.keep("lim1", Received(WALL - 20, 2, b"", 0.0))     # sent before its heartbeat announces it
    assert book.latest("lim1") == (first, True)
    book.announced("lim1", 2)                                          # its next heartbeat announces the new one
    assert book.latest("lim1") == (first, False)
    assert book.keep("lim1", refresh := Received(WALL - 15, 2, b"", 0.0))   # sent again REFRESH_S later
    assert book.latest("lim1") == (refresh, True)


def test_a_replay_of_the_announced_status_does_not_replace_its_newer_copy():
    book = StatusBook()
    book.announced("lim1", 1)
    book.keep("lim1", newer := Received(WALL, 1, b"new", 0.0))
    assert not book.keep("lim1", Received(WALL - 25, 1, b"recorded 25 s ago", 0.0))
    assert book.latest("lim1")[0] is newer


def test_the_book_tells_whether_its_status_is_the_announced_one():
    book = StatusBook()
    book.announced("lim1", 7)
    assert book.latest("lim1") == (None, False)                               # announced, not yet here
    book.keep("lim1", kept := Received(WALL, 7, b"", 0.0))
    assert book.latest("lim1") == (kept, True)
    book.announced("lim1", 8)
    assert book.latest("lim1") == (kept, False)                               # it changed since
    book.announced("lim1", None)
    assert book.latest("lim1") == (kept, False)                               # an agent that announces none


@settings(deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.sampled_from(["o", "m=02:00:00:00:00:01", "st=", "st=xyz"])))
def test_the_digest_flag_reads_back_among_other_flags(digest, others):
    assert parse_digest((*others, digest_flag(digest))) == digest
    for flags in [tuple(others), ("st=1234567",), ("st=123456789",), ("st=zzzzzzzz",)]:
        assert parse_digest(flags) is None                    # a heartbeat without a digest announces none
    assert digest_flag(0x0000ABCD) == "st=0000abcd"


@pytest.mark.parametrize("flag", ["st=-1234567", "st= 123456f", "st=0000_000", "st=+fffffff"])
def test_only_eight_hex_digits_are_a_digest(flag):
    assert parse_digest((flag,)) is None


# --- publish: when our status goes out

@dataclass
class SendingChannel:
    """What publish needs of a HeartbeatChannel: its key, and send_status recorded."""
    key: bytes = KEY
    sent: list[tuple[bytes, list[str]]] = field(default_factory=list)

    def send_status(self, data: bytes, addresses) -> None:
        self.sent.append((data, list(addresses)))


def received(channel: SendingChannel, index: int = -1) -> Received:
    return verify(channel.sent[index][0], KEY, 0.0, WALL, None)


def test_publish_sends_at_once_to_every_other_member_what_a_peer_needs():
    share, channel = StatusShare(lambda: WALL + 0.5), SendingChannel()
    assert share.flags() == ()
    assert share.publish(status(), CLUSTER, "lim1", channel, now=100.0)
    [(data, targets)] = channel.sent
    assert targets == ["10.77.0.112", "10.77.0.20"]
    got = received(channel)
    assert got.sent_wall == WALL + 0.5 and share.flags() == (digest_flag(got.digest),)
    sent = AgentStatus.from_json(got.status_json())
    assert sent == replace(status(), peers=(), counters={})        # not our view of the others, nor counters
    assert not StatusShare(lambda: WALL).publish(status(), CLUSTER, "lim1", SendingChannel(key=b""), 100.0)
    assert not StatusShare(lambda: WALL).publish(status(), CLUSTER, "lim1", object(), 100.0)


def ticking(s: AgentStatus, t: float) -> AgentStatus:
    """The same status t seconds later: only what changes with time alone changed."""
    return replace(s, now=s.now + t, up_s=s.up_s + t, counters={"sent": 5 + int(t)},
                   peers=(PeerStatus("sb1", 7, heard_ago=t % 1),),
                   sync=tuple(replace(e, age_s=e.age_s + t, clock_skew_s=t) for e in s.sync),
                   sync_checks=tuple(replace(c, ago=c.ago + t) for c in s.sync_checks))


def test_values_changing_with_time_alone_wait_for_the_refresh_and_keep_the_digest():
    share, channel = StatusShare(lambda: WALL), SendingChannel()
    share.publish(status(), CLUSTER, "lim1", channel, now=100.0)
    flags = share.flags()
    for t in (0.05, 0.5, 1.0, 2.5, sd.REFRESH_S - 0.01):
        assert not share.publish(ticking(status(), t), CLUSTER, "lim1", channel, now=100.0 + t)
    assert len(channel.sent) == 1
    assert share.publish(ticking(status(), sd.REFRESH_S), CLUSTER, "lim1", channel, now=100.0 + sd.REFRESH_S)
    assert len(channel.sent) == 2 and share.flags() == flags
    assert received(channel).digest == received(channel, 0).digest
    assert AgentStatus.from_json(received(channel).status_json()).up_s == 10.0 + sd.REFRESH_S   # as they are now


@pytest.mark.parametrize("change", [dict(running=()), dict(blocked=(1,)), dict(generation=8),
                                    dict(fallback_orders=(2,)), dict(alarms=(AlarmStatus("k", "LIM 2 away", WALL),)),
                                    dict(sync=(SyncEntry(1, "sb1", state="running: pulling", age_s=10.0),))])
def test_a_change_goes_out_after_min_gap_and_changes_the_digest(change):
    share, channel = StatusShare(lambda: WALL), SendingChannel()
    share.publish(status(), CLUSTER, "lim1", channel, now=100.0)
    first = share.flags()
    changed = ticking(replace(status(), **change), 0.01)
    assert not share.publish(changed, CLUSTER, "lim1", channel, now=100.0 + MIN_GAP_S / 2)
    assert share.flags() == first                                 # announced: still the one sent
    assert share.publish(changed, CLUSTER, "lim1", channel, now=100.0 + MIN_GAP_S + 1e-9)
    assert share.flags() != first and share.flags() == (digest_flag(received(channel).digest),)
    assert not share.publish(ticking(changed, 1.0), CLUSTER, "lim1", channel, now=101.0)
    assert share.publish(status(), CLUSTER, "lim1", channel, now=101.0 + MIN_GAP_S + 1e-9)   # and back
    assert share.flags() == first and len(channel.sent) == 3


# --- view: the cluster as this agent hears it

def view(config: Cluster, published: AgentStatus, book: StatusBook | None, wall_now: float) -> ClusterView:
    """status_share.view's reply as the asker reads it, through JSON as the control socket carries it."""
    return ClusterView.from_json(json.loads(json.dumps(status_share.view(config, published, book, wall_now))))


def peer_datagram(node: str, digest: int = 5, sent_wall: float = WALL, **changes) -> Received:
    value = replace(status(node), peers=(), counters={}, **changes).to_json()
    return verify(datagram(value, digest, sent_wall), KEY, 0.0, WALL, None)


def heard(lim2: float | None = 0.5, sb1: float | None = 0.2) -> AgentStatus:
    return status("lim1", peers=tuple(PeerStatus(n, 7, heard_ago=a) for n, a in (("lim2", lim2), ("sb1", sb1))))


def test_the_answering_agent_is_a_first_class_member_and_the_others_say_why_they_have_no_status():
    published = heard()
    found = view(CLUSTER, published, StatusBook(), WALL + 0.25)
    assert (found.node, found.cluster, found.generation, found.detect_s) == ("lim1", "c1", 7, 3.0)
    assert [m.server for m in found.members] == ["lim1", "lim2", "sb1"]
    me = found.member("lim1")
    assert (me.heard_ago, me.status_age, me.current, me.status) == (0.0, 0.25, True, published)
    assert ClusterView.from_json(json.loads(json.dumps(found.to_json()))) == found   # as the socket carries it
    assert found.member("sb1").note == "no status shared yet" and found.member("sb1").status is None
    never = view(CLUSTER, heard(lim2=None), None, WALL).member("lim2")
    assert (never.heard_ago, never.note) == (None, "not heard since this agent started")


def test_a_silent_member_carries_no_status_and_its_age_grows_with_the_time_since_publication():
    book = StatusBook()
    book.keep("lim2", peer_datagram("lim2"))
    book.announced("lim2", 5)
    now = view(CLUSTER, heard(lim2=1.0), book, WALL).member("lim2")
    assert (now.heard_ago, now.current, now.status.node) == (1.0, True, "lim2")
    later = view(CLUSTER, heard(lim2=1.0), book, WALL + 2.5).member("lim2")    # the loop published 2.5 s ago
    assert later.heard_ago == 3.5 and later.silent(3.0)
    assert (later.status, later.current, later.note) == (None, False, "silent for 3.5 s")


def test_current_follows_what_the_latest_heartbeat_announced_and_sync_ages_are_aged_since_sending():
    book = StatusBook(Clock(4.0))                  # received at 0.0 by our clock: 4 s ago
    sync = (SyncEntry(1, "lim1", age_s=10.0, last=WALL - 14), SyncEntry(2, "lim2", age_s=None))
    book.keep("sb1", peer_datagram("sb1", digest=5, sent_wall=WALL - 4, sync=sync))
    assert not view(CLUSTER, heard(), book, WALL).member("sb1").current
    book.announced("sb1", 5)
    member = view(CLUSTER, heard(), book, WALL).member("sb1")
    assert member.current and member.status_age == 4.0 and member.heard_ago == 0.2
    assert [e.age_s for e in member.status.sync] == [14.0, None]
    book.announced("sb1", 6)
    member = view(CLUSTER, heard(), book, WALL).member("sb1")
    assert not member.current and member.status.node == "sb1"          # kept, with its age, for the utility to judge


def test_an_unreadable_status_or_one_naming_another_node_is_not_shown_as_the_members():
    book = StatusBook(Clock(1.0))
    book.keep("sb1", Received(WALL - 1, 5, b"garbage", 0.0))
    book.keep("lim2", peer_datagram("lim1", sent_wall=WALL - 1))
    found = view(CLUSTER, heard(), book, WALL)
    assert found.member("sb1").status is None and found.member("sb1").status_age == 1.0
    assert found.member("sb1").note.startswith("its shared status is unreadable: malformed: not zlib data")
    assert found.member("lim2").status is None
    assert found.member("lim2").note == "its shared status names 'lim1' of cluster 'c1'"
    book.keep("lim2", peer_datagram("lim2", sent_wall=WALL, cluster="c9"))
    assert view(CLUSTER, heard(), book, WALL).member("lim2").note == "its shared status names 'lim2' of cluster 'c9'"
    book.keep("lim2", Received(WALL + 1, 5, zlib.compress(b'{"node": "lim2", "cluster": "c1", "lims": 7}'), 0.0))
    book.announced("lim2", 5)
    found = view(CLUSTER, heard(), book, WALL + 1)          # read by the asker: only that member's problem
    assert (found.member("lim2").status, found.member("lim2").current) == (None, False)
    assert found.member("lim2").note.startswith("its shared status does not read: agent status")
    assert found.member("lim1").status is not None


def test_the_age_of_a_status_no_longer_announced_is_not_hidden_by_a_clock_ahead_of_ours():
    ours = Clock(500.0)
    book = StatusBook(ours)
    book.keep("sb1", verify(datagram(replace(status("sb1"), peers=()).to_json(), 5, sent_wall=WALL + 10.0),
                            KEY, ours(), WALL, 30.0))           # sb1's clock is 10 s ahead: accepted
    book.announced("sb1", 6)                                   # its newer status was lost on the way
    ours.t += 4.0
    member = view(CLUSTER, replace(heard(), now=WALL + 4.0), book, WALL + 4.0).member("sb1")
    assert not member.current and member.status_age >= 4.0    # by our clock, not its


@settings(deadline=None)
@given(json_values, st.lists(st.dictionaries(st.sampled_from(["age_s", "lim", "peer"]), scalars), max_size=3))
def test_view_never_fails_on_a_signed_nonsense_status(value, sync):
    book = StatusBook()
    book.keep("sb1", verify(signed(zlib.compress(json.dumps(value).encode())), KEY, 0.0, WALL, None))
    body = zlib.compress(json.dumps({**status("lim2").to_json(), "sync": sync}).encode())
    book.keep("lim2", Received(WALL, 5, body, 0.0))
    found = view(CLUSTER, heard(), book, WALL)
    for member in found.members[1:]:
        assert member.status is not None or member.note.startswith("its shared status")
