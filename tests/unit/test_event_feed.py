"""The events of a decision are the changes it makes: decide() repeats a release (or a take) every cycle
until the alias is gone (or there), and the history gets one event for it, not one per cycle."""
from __future__ import annotations

from ipaddress import IPv4Interface

from mxone_maintenance.agent import state as st
from mxone_maintenance.agent.runtime.event_feed import Feed
from mxone_maintenance.core.contracts.events import EventKind
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef

CLUSTER = Cluster(name="c1", standby=StandbyRef("sb1", IPv4Interface("10.77.0.20/24")),
                  lims=(ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), IPv4Interface("10.77.0.11/24")),))


class Recorded:
    def __init__(self) -> None:
        self.events: list[tuple[EventKind, str, str]] = []

    def event(self, kind, text, **fields):
        self.events.append((kind, text, fields.get("cause", "")))

    def metrics(self, snapshot) -> None:
        return None


def test_a_release_repeated_until_the_alias_is_gone_is_one_event():
    sink = Recorded()
    feed = Feed(sink, "sb1")
    release = st.Decision(actions=(st.ReleaseAlias(1, "fallback"),))
    feed.decision(CLUSTER, release, {}, 10.0, serving=frozenset({1}))
    feed.decision(CLUSTER, release, {}, 10.1, serving=frozenset())       # the next cycles: already gone
    feed.decision(CLUSTER, release, {}, 10.2, serving=frozenset())
    assert sink.events == [(EventKind.FALLBACK, "LIM 1 released by sb1", "fallback")]


def test_a_take_of_an_alias_already_served_is_no_event():
    sink = Recorded()
    feed = Feed(sink, "sb1")
    take = st.Decision(actions=(st.TakeAlias(1),))
    peers = {"lim1": st.PeerView("lim1", last_heard=9.0)}
    feed.decision(CLUSTER, take, peers, 10.0, serving=frozenset())
    feed.decision(CLUSTER, take, peers, 10.1, serving=frozenset({1}))
    assert [(kind, text) for kind, text, _ in sink.events] == [(EventKind.TAKEOVER, "LIM 1 taken over by the standby sb1")]
    assert sink.events[0][2] == "lim1 silent for 1.0 s (detect 60 s)"
