"""A member that was down during a change catches up: its peers offer their newer cluster.yaml in a
signed datagram, it takes only a higher generation of its own cluster that still names it, from a
member; forged, foreign and malformed offers change nothing. Real UDP on the loopback for the channel."""
from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from helpers.strategies import sample_cluster, sample_system
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent import state as agent_state
from mxone_maintenance.agent.config_offer import BadOffer, ConfigOffer, decode_offer, encode_offer
from mxone_maintenance.agent.heartbeat import HeartbeatChannel
from mxone_maintenance.agent.runtime.catch_up import CatchUp
from mxone_maintenance.core.config import dump_cluster, load_cluster
from mxone_maintenance.core.paths import Paths

KEY = b"k" * 64


def clusters():
    system = sample_system(lims=3)
    old = sample_cluster(system, (1, 2, 3))
    return old, old.next_generation(fallback="manual")


class Channel:
    def __init__(self, offers=()) -> None:
        self.offers_in, self.offers_sent = list(offers), []

    def take_offers(self):
        got, self.offers_in = self.offers_in, []
        return got

    def send_offer(self, offer, address) -> None:
        self.offers_sent.append((offer, address))


def written(tmp_path, cluster) -> Paths:
    paths = Paths(tmp_path)
    paths.cluster_file.parent.mkdir(parents=True, exist_ok=True)
    paths.cluster_file.write_text(dump_cluster(cluster))
    return paths


def test_a_newer_generation_from_a_member_is_written_and_loads(tmp_path):
    old, new = clusters()
    paths = written(tmp_path, old)
    channel = Channel([ConfigOffer(old.name, "sb1", new.generation, dump_cluster(new))])
    assert CatchUp(paths, "lim3", lambda: 0.0).adopt(old, channel)
    assert load_cluster(paths.cluster_file) == new


@pytest.mark.parametrize("why, offer", [
    ("older", lambda old, new: ConfigOffer(old.name, "sb1", old.generation, dump_cluster(old))),
    ("not a member", lambda old, new: ConfigOffer(old.name, "intruder", new.generation, dump_cluster(new))),
    ("generation does not match", lambda old, new: ConfigOffer(old.name, "sb1", new.generation + 5,
                                                               dump_cluster(new))),
    ("leaves us out", lambda old, new: ConfigOffer(old.name, "sb1", new.generation,
                                                   dump_cluster(replace(new, lims=new.lims[:2])))),
    ("not yaml", lambda old, new: ConfigOffer(old.name, "sb1", new.generation, "schema: [1\n")),
])
def test_an_unfit_offer_changes_nothing(tmp_path, why, offer):
    old, new = clusters()
    paths = written(tmp_path, old)
    before = paths.cluster_file.read_text()
    assert not CatchUp(paths, "lim3", lambda: 0.0).adopt(old, Channel([offer(old, new)])), why
    assert paths.cluster_file.read_text() == before


def test_a_peer_behind_gets_our_file_at_most_every_two_heartbeats(tmp_path):
    old, new = clusters()
    paths = written(tmp_path, new)
    peers = {"lim3": agent_state.PeerView("lim3", last_heard=10.0, generation=old.generation),
             "lim1": agent_state.PeerView("lim1", last_heard=10.0, generation=new.generation)}
    channel, catch_up = Channel(), CatchUp(paths, "sb1", lambda: 0.0)
    catch_up.offer(new, channel, peers, now=10.0)
    interval = max(1.0, 2 * new.heartbeat_s)
    catch_up.offer(new, channel, peers, now=10.0 + interval / 2)
    assert channel.offers_sent == [(ConfigOffer(new.name, "sb1", new.generation, paths.cluster_file.read_text()),
                                    str(new.base_of("lim3").ip))]
    catch_up.offer(new, channel, peers, now=10.0 + interval)
    assert len(channel.offers_sent) == 2


def test_offers_cross_a_real_socket_and_forged_ones_are_counted(tmp_path):
    old, new = clusters()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with HeartbeatChannel(port, KEY, old.name, bind="127.0.0.1") as one, \
            HeartbeatChannel(port, KEY, old.name, bind="127.0.0.2") as two:
        offer = ConfigOffer(old.name, "sb1", new.generation, dump_cluster(new))
        one.send_offer(offer, "127.0.0.2")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as forger:
            forger.sendto(encode_offer(offer, b"wrong key"), ("127.0.0.2", port))
        for _ in range(100):
            two.receive_all()
            if two.counters.forged:
                break
        assert two.take_offers() == [offer]
        assert two.counters.forged == 1


@given(st.binary(max_size=300))
def test_any_bytes_are_an_offer_or_one_error(data):
    try:
        decode_offer(bytes([2]) + data, KEY, "c1")
    except BadOffer:
        pass


@given(st.text(max_size=200), st.integers(1, 10**6))
def test_round_trip(text, generation):
    offer = ConfigOffer("c1", "sb1", generation, text)
    assert decode_offer(encode_offer(offer, KEY), KEY, "c1") == offer
    with pytest.raises(BadOffer, match="wrong-cluster"):
        decode_offer(encode_offer(offer, KEY), KEY, "c2")


def test_a_member_stuck_on_another_generation_raises_an_alarm_after_30_s_and_clears_it(tmp_path):
    from mxone_maintenance.agent.runtime.alarms import AlarmBook

    old, new = clusters()
    alarms, catch_up = AlarmBook(lambda: 1.7e9), CatchUp(Paths(tmp_path), "sb1", lambda: 0.0)
    stuck = {"lim3": agent_state.PeerView("lim3", last_heard=10.0, generation=old.generation)}
    catch_up.watch_agreement(new, stuck, alarms, now=10.0)
    catch_up.watch_agreement(new, stuck, alarms, now=39.0)
    assert [a.text for a in alarms.as_status() if a.active] == []
    catch_up.watch_agreement(new, stuck, alarms, now=40.0)
    assert [a.text for a in alarms.as_status() if a.active] == [
        "Cluster members disagree on the configuration: lim3 runs generation 1, sb1 generation 2"]
    caught = {"lim3": agent_state.PeerView("lim3", last_heard=41.0, generation=new.generation)}
    catch_up.watch_agreement(new, caught, alarms, now=41.0)
    assert [a.text for a in alarms.as_status() if a.active] == []
