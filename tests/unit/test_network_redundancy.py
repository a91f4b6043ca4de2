"""Network redundancy (issue 19): the bond's links, the alarm while one is down, status and its text."""
from __future__ import annotations

from ipaddress import IPv4Interface
from types import SimpleNamespace

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.effects.bond import Link, is_bond, link_works
from mxone_maintenance.agent.effects.rtnl import LinkInfo
from mxone_maintenance.agent.effects.interfaces import EffectError
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.links import READ_S, Links
from mxone_maintenance.core.contracts.agent_status import AgentStatus, LinkStatus
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.utility.ops.status import ServerReport, StatusReport, merge_status, status_text

CONFIG = SimpleNamespace(interface="eth0")
EFFECTS = SimpleNamespace(addresses=object())        # fake effects: no netlink


class FakeBond:
    """A bond reader: `links` is what it answers (None: no bond), `error` makes it fail."""

    def __init__(self, *links: Link | None) -> None:
        self.links_now: tuple[Link, ...] | None = tuple(links) if links != (None,) else None
        self.error: str | None = None

    def links(self) -> tuple[Link, ...] | None:
        if self.error:
            raise EffectError(self.error)
        return self.links_now


def watched(reader: FakeBond) -> tuple[Links, AlarmBook, list[float]]:
    alarms = AlarmBook(lambda: 1000.0)
    return Links("lim1", alarms, lambda ifname: reader), alarms, [0.0]


def step(links: Links, clock: list[float]) -> None:
    clock[0] += READ_S + 0.01
    links.watch(CONFIG, EFFECTS, clock[0])


def active(alarms: AlarmBook) -> list[str]:
    return [alarm.text for alarm in alarms.active.values()]


def test_one_link_down_raises_the_alarm_and_both_back_clear_it():
    bond = FakeBond(Link("link1", True), Link("link2", True))
    links, alarms, clock = watched(bond)
    step(links, clock)
    assert active(alarms) == []
    bond.links_now = (Link("link1", False), Link("link2", True))
    step(links, clock)
    assert active(alarms) == ["Network redundancy lost on lim1"]
    assert alarm_keys.owned_by_runtime(alarm_keys.NETWORK_REDUNDANCY)     # decide() leaves it alone
    bond.links_now = (Link("link1", False), Link("link2", False))        # both down: still lost (and a cut)
    step(links, clock)
    assert active(alarms) == ["Network redundancy lost on lim1"]
    bond.links_now = (Link("link1", True), Link("link2", True))
    step(links, clock)
    assert active(alarms) == []
    assert [alarm.text for alarm in alarms.cleared] == ["Network redundancy lost on lim1"]


def test_a_plain_interface_has_no_links_and_no_alarm():
    links, alarms, clock = watched(FakeBond(None))
    step(links, clock)
    assert active(alarms) == [] and links.links == ()
    assert links.stamp(AgentStatus(node="lim1")).links == ()


def test_fake_effects_without_a_reader_read_nothing():
    alarms = AlarmBook(lambda: 1000.0)
    links = Links("lim1", alarms)
    links.watch(CONFIG, EFFECTS, 1.0)
    assert active(alarms) == [] and links.links == ()


def test_a_bond_with_one_link_has_no_redundancy():
    links, alarms, clock = watched(FakeBond(Link("link1", True)))
    step(links, clock)
    assert active(alarms) == ["Network redundancy lost on lim1"]


def test_the_bond_is_read_at_most_every_read_s():
    bond = FakeBond(Link("link1", True), Link("link2", True))
    links, alarms, clock = watched(bond)
    step(links, clock)
    bond.links_now = (Link("link1", False), Link("link2", True))
    links.watch(CONFIG, EFFECTS, clock[0] + READ_S / 2)
    assert active(alarms) == []
    step(links, clock)
    assert active(alarms) == ["Network redundancy lost on lim1"]


def test_an_unreadable_bond_is_an_effect_alarm_and_keeps_the_last_links():
    bond = FakeBond(Link("link1", True), Link("link2", True))
    links, alarms, clock = watched(bond)
    step(links, clock)
    bond.error = "netlink: no answer"
    step(links, clock)
    assert active(alarms) == ["Cannot read the links of eth0: netlink: no answer"]
    assert links.links == (Link("link1", True), Link("link2", True))
    bond.error = None
    step(links, clock)
    assert active(alarms) == []


def test_the_status_carries_the_links_and_an_older_agents_status_still_parses():
    bond = FakeBond(Link("link1", True), Link("link2", False))
    links, _, clock = watched(bond)
    step(links, clock)
    status = links.stamp(AgentStatus(node="lim1"))
    assert status.links == (LinkStatus("link1", True), LinkStatus("link2", False))
    assert AgentStatus.from_json(status.to_json()) == status
    older = status.to_json()
    del older["links"]
    assert AgentStatus.from_json(older).links == ()


def info(kind=None, alias="", oper_up=True, bond_mii=None) -> LinkInfo:
    return LinkInfo(index=5, name="eth0", carrier=True, oper_up=oper_up, kind=kind, alias=alias, bond_mii=bond_mii)


def test_netlink_links_bond_or_lab_stand_in_and_working_links():
    assert is_bond(info("bond"))
    assert is_bond(info("bridge", alias="lab-bond:active-backup"))
    assert not is_bond(info("bridge"))
    assert not is_bond(info("veth"))
    assert not is_bond(info())
    assert link_works(info())
    assert not link_works(info(oper_up=False))
    assert not link_works(info(bond_mii=1))
    assert link_works(info(bond_mii=0))


def test_cluster_status_shows_a_line_per_bonded_server():
    lims = tuple(ClusterLim(n, f"lim{n}", IPv4Interface(f"10.77.0.11{n}/24"), IPv4Interface(f"10.77.0.1{n}/24"))
                 for n in (1, 2))
    cluster = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")), lims)
    bonded = (LinkStatus("link1", True), LinkStatus("link2", False))
    reports = {"lim1": ServerReport("lim1", True, AgentStatus(node="lim1", running=(1,), links=bonded)),
               "lim2": ServerReport("lim2", True, AgentStatus(node="lim2", running=(2,))),
               "sb1": ServerReport("sb1", False, error="x")}
    text = status_text(StatusReport((merge_status(cluster, reports),)))
    assert "  lim1 links: link1 up, link2 DOWN" in text.splitlines()
    assert "lim2 links" not in text and "sb1 links" not in text
    assert StatusReport((merge_status(cluster, reports),)).to_json()["clusters"][0]["servers"][0]["links"] == [
        {"name": "link1", "up": True}, {"name": "link2", "up": False}]
