"""SCENARIOS.md, row by row, as tables: (node's observations, now) -> the exact actions decide() returns.

The grid: cluster c1, regulars lim1 (LIM 1, priority 5), lim2 (LIM 2, priority 1), lim3 (LIM 3,
priority 5), standby sb1. heartbeat_s = 1, so H = 3 s and the start-up listening time is 2 s;
D = 10 s (normal) or 30 s (preloaded default). Everybody's agent started at 0; "now" is T = 100.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Interface

import pytest

from mxone_maintenance.agent.decide import decide, hold_time
from mxone_maintenance.agent.state import (
    AliasProbe,
    Announce,
    Block,
    ClearAlarm,
    Memory,
    Observations,
    PeerView,
    ProbeAlias,
    RaiseAlarm,
    ReleaseAlias,
    SyncData,
    TakeAlias,
    Unblock,
    heard,
)
from mxone_maintenance.core.model import DEFAULT_DETECT_S, Cluster, ClusterLim, StandbyRef

T = 100.0
D = 10.0


def _lim(number: int, priority: int, lock=None) -> ClusterLim:
    return ClusterLim(number, f"lim{number}", IPv4Interface(f"10.77.0.{110 + number}/24"),
                      IPv4Interface(f"10.77.0.{10 + number}/24"), priority, lock)


C1 = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")), (_lim(1, 5), _lim(2, 1), _lim(3, 5)),
             generation=7, detect_s=D, heartbeat_s=1.0)
MANUAL = replace(C1, fallback="manual")
H = hold_time(C1)
PRELOADED = Cluster("c1", C1.standby, (_lim(1, 5),), failover="preloaded",
                    detect_s=DEFAULT_DETECT_S["preloaded"], heartbeat_s=1.0)
PD = PRELOADED.detect_s


def up(name: str, *running: int, since: float = 0.0, **more) -> PeerView:
    """A peer heard half a second ago, continuously since `since`."""
    return PeerView(name, last_heard=T - 0.5, heard_since=since, running=frozenset(running), **more)


def silent(name: str, for_s: float, *running: int) -> PeerView:
    return PeerView(name, last_heard=T - for_s, heard_since=0.0, running=frozenset(running))


def sees(node: str, *peers: PeerView, running=(), started=0.0, **more) -> Observations:
    return Observations(node, started, peers, frozenset(running), **more)


def gone(node: str) -> PeerView:
    return silent(node, D)


ALL_UP_SB1 = (up("lim1", 1), up("lim2", 2), up("lim3", 3))
ON_SB1 = ("LIM {} is running on standby server").format
A_SB1 = lambda n: RaiseAlarm(f"lim-on-standby:{n}", ON_SB1(n))  # noqa: E731
NOT_SERVED = lambda n, why: RaiseAlarm(  # noqa: E731
    f"not-served:{n}", f"LIM {n} is not served: server lim{n} has failed ({why})")
STANDBY_DOWN = RaiseAlarm("standby-down", "Standby server is out of order")


@dataclass(frozen=True)
class Case:
    row: str
    config: Cluster
    obs: Observations
    now: float
    actions: tuple
    status: dict | None = None   # lim -> (where, state) where the row says what status shows


CASES = [
    # 1 all up: each regular runs its LIM, sb1 none; preloaded: sb1 runs it with the alias blocked
    Case("1 regular keeps its LIM", C1, sees("lim1", up("sb1"), up("lim2", 2), up("lim3", 3), running={1}),
         T, (), {1: ("lim1", "running here"), 2: ("lim2", "running on lim2")}),
    Case("1 standby runs none", C1, sees("sb1", *ALL_UP_SB1), T, (),
         {1: ("lim1", "running on lim1"), 2: ("lim2", "running on lim2")}),
    Case("1 preloaded standby starts passive: block before the alias", PRELOADED,
         sees("sb1", up("lim1", 1)), T, (Block(1, "passive side"), TakeAlias(1, announce=False))),
    Case("1 preloaded standby stays passive", PRELOADED,
         sees("sb1", up("lim1", 1), running={1}, blocked=frozenset({1})), T, ()),
    Case("1 preloaded regular unblocks once the standby is passive", PRELOADED,
         sees("lim1", up("sb1", 1, blocked=frozenset({1})), running={1}, blocked=frozenset({1})), T,
         (Unblock(1), Announce(1))),
    # 2 silent for less than D
    Case("2 lim1 silent < D", C1, sees("sb1", silent("lim1", D - 0.5, 1), up("lim2", 2), up("lim3", 3)), T, ()),
    # ... but just before D the standby probes the alias (sender 0.0.0.0: no cache changes), so the
    # answer is in when D has passed and the takeover does not wait a probe timeout
    Case("2 lim1 about to fail: pre-probe", C1, sees("sb1", silent("lim1", D - 0.1, 1), up("lim2", 2),
                                                     up("lim3", 3)), T, (ProbeAlias(1),)),
    Case("2 pre-probe done: wait for D", C1, sees("sb1", silent("lim1", D - 0.05, 1), up("lim2", 2), up("lim3", 3),
                                                  probes=(AliasProbe(1, T - 0.01),)), T, ()),
    Case("3 pre-probe answered by lim1 before D: ask again at D", C1,
         sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3),
              probes=(AliasProbe(1, T - 0.2, "02:00:00:00:00:11", "lim1"),)), T, (ProbeAlias(1),)),
    # 3 lim1 fails: probe, then take + alarm; gratuitous ARP again periodically
    Case("3 probe first", C1, sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3)), T, (ProbeAlias(1),),
         {1: (None, "taking over: probing alias")}),
    Case("3 no answer: take", C1, sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3),
                                     probes=(AliasProbe(1, T - 0.2),)), T, (TakeAlias(1), A_SB1(1))),
    Case("3 announce again", C1, sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3), running={1},
                                      alarms=frozenset({"lim-on-standby:1"}),
                                      memory=Memory(target=1, announced=((1, T - 10),))), T,
         (Announce(1), ProbeAlias(1)), {1: ("sb1", "running on standby")}),
    # 4 lim1 then lim3 fail (equal priority): LIM 1 stays, LIM 3 not served, both visible
    Case("4 equal priority keeps the running one", C1,
         sees("sb1", gone("lim1"), up("lim2", 2), gone("lim3"), running={1},
              alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1)), T,
         (ProbeAlias(1), NOT_SERVED(3, "standby runs LIM 1")),
         {1: ("sb1", "running on standby"), 3: (None, "not served (standby runs LIM 1)")}),
    Case("4 equal priority keeps the one being taken", C1,
         sees("sb1", PeerView("lim1", T - 20, 0.0), up("lim2", 2), PeerView("lim3", T - 20, 0.0),
              probes=(AliasProbe(1, T - 0.1),), memory=Memory(target=1)), T,
         (TakeAlias(1), A_SB1(1), NOT_SERVED(3, "standby runs LIM 1"))),
    Case("4 equal priority, nothing running yet: lowest LIM number", C1,
         sees("sb1", gone("lim1"), up("lim2", 2), gone("lim3"), memory=Memory(target=3)), T,
         (ProbeAlias(3), NOT_SERVED(1, "standby runs LIM 3"))),
    # 5 LIM 1 on sb1, lim2 fails: stop LIM 1, then take LIM 2
    Case("5 higher priority replaces", C1,
         sees("sb1", gone("lim1"), gone("lim2"), up("lim3", 3), running={1},
              alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1)), T,
         (ReleaseAlias(1, "preempted by LIM 2 (priority 1)"), ProbeAlias(2),
          NOT_SERVED(1, "lower priority"), ClearAlarm("lim-on-standby:1")),
         {1: (None, "not served (lower priority)")}),
    # 6 LIM 2 on sb1, lim1 failed, lim2 back, automatic: after H, release (data first), then LIM 1
    Case("6 lim2 heard for less than H", C1,
         sees("sb1", gone("lim1"), up("lim2", since=T - H + 0.5), up("lim3", 3), running={2},
              alarms=frozenset({"lim-on-standby:2", "not-served:1"}), memory=Memory(target=2)), T,
         (),  # lim2 heard again, but within the relisten time: sb1 listens before it announces again
         {2: ("sb1", "running on standby, fallback after hold time")}),
    Case("6 lim2 heard for less than H, announced since", C1,
         sees("sb1", gone("lim1"), up("lim2", since=T - H + 0.5), up("lim3", 3), running={2},
              alarms=frozenset({"lim-on-standby:2", "not-served:1"}),
              memory=Memory(target=2, announced=((2, T - 0.5),))), T, ()),
    Case("6/23 after H: data to lim2, release, then LIM 1", C1,
         sees("sb1", gone("lim1"), up("lim2", since=T - H), up("lim3", 3), running={2},
              alarms=frozenset({"lim-on-standby:2", "not-served:1"}), memory=Memory(target=2)), T,
         (SyncData(2, "lim2"), ReleaseAlias(2, "fallback"), ProbeAlias(1),
          ClearAlarm("lim-on-standby:2"), ClearAlarm("not-served:1")),
         {2: (None, "handed back, waiting for lim2 to start it")}),
    Case("6 lim2 waits while sb1 still runs LIM 2", C1,
         sees("lim2", up("sb1", 2), gone("lim1"), up("lim3", 3)), T, (SyncData(2, "sb1"),),
         {2: ("sb1", "running on standby, automatic fallback after hold time")}),
    Case("6/26 lim2 takes (with gratuitous ARP) as soon as it sees the release", C1,
         sees("lim2", up("sb1", releasing=frozenset({2})), gone("lim1"), up("lim3", 3)), T, (TakeAlias(2),),
         {2: ("lim2", "starting LIM: alias handed over, taking it")}),
    # 7 as 6, manual: stays; lim2 shows it waits; an order (to either agent) proceeds as in 6
    Case("7 manual: LIM 2 stays on sb1", MANUAL,
         sees("sb1", gone("lim1"), up("lim2"), up("lim3", 3), running={2},
              alarms=frozenset({"lim-on-standby:2", "not-served:1"}), memory=Memory(target=2)), T, (),
         {2: ("sb1", "running on standby, waiting for manual fallback")}),
    Case("7 manual: lim2 waits", MANUAL, sees("lim2", up("sb1", 2), gone("lim1"), up("lim3", 3)), T, (),
         {2: ("sb1", "running on standby, waiting for manual fallback")}),
    Case("7 order given to sb1", MANUAL,
         sees("sb1", gone("lim1"), up("lim2"), up("lim3", 3), running={2}, fallback_orders=frozenset({2}),
              alarms=frozenset({"lim-on-standby:2", "not-served:1"}), memory=Memory(target=2)), T,
         (SyncData(2, "lim2"), ReleaseAlias(2, "fallback"), ProbeAlias(1),
          ClearAlarm("lim-on-standby:2"), ClearAlarm("not-served:1"))),
    Case("7 order given to lim2, seen in its heartbeat", MANUAL,
         sees("sb1", gone("lim1"), up("lim2", fallback_orders=frozenset({2})), up("lim3", 3), running={2},
              alarms=frozenset({"lim-on-standby:2", "not-served:1"}), memory=Memory(target=2)), T,
         (SyncData(2, "lim2"), ReleaseAlias(2, "fallback"), ProbeAlias(1),
          ClearAlarm("lim-on-standby:2"), ClearAlarm("not-served:1"))),
    # 8 flapping: heard again only 1 s ago (first seen long before): no fallback
    Case("8 flapping regular: hold time restarts", C1,
         sees("sb1", up("lim1", 1), up("lim2", since=T - 1), up("lim3", 3), running={2},
              alarms=frozenset({"lim-on-standby:2"}), memory=Memory(target=2)), T, ()),
    # 9 locked to regular: never taken
    Case("9 locked to regular", C1.with_lim(1, lock="regular"),
         sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3)), T,
         (NOT_SERVED(1, "locked to regular"),), {1: (None, "not served (locked to regular)")}),
    # 10 locked to standby while lim1 runs it: lim1 releases; sb1 drops LIM 3 and takes LIM 1
    Case("10 lim1 releases", C1.with_lim(1, lock="standby"),
         sees("lim1", up("sb1", 3), up("lim2", 2), gone("lim3"), running={1}), T,
         (ReleaseAlias(1, "locked to standby"),), {1: (None, "locked to standby")}),
    Case("10 sb1 stops LIM 3, waits for lim1", C1.with_lim(1, lock="standby"),
         sees("sb1", up("lim1", 1), up("lim2", 2), gone("lim3"), running={3},
              alarms=frozenset({"lim-on-standby:3"}), memory=Memory(target=3)), T,
         (ReleaseAlias(3, "LIM 1 is locked to the standby"), NOT_SERVED(3, "standby runs LIM 1"),
          ClearAlarm("lim-on-standby:3")),
         {1: ("lim1", "taking over: waiting for lim1 to release it")}),
    Case("10 sb1 takes the handed-over LIM 1", C1.with_lim(1, lock="standby"),
         sees("sb1", up("lim1", releasing=frozenset({1})), up("lim2", 2), gone("lim3"),
              alarms=frozenset({"not-served:3"}), memory=Memory(target=1)), T, (TakeAlias(1), A_SB1(1))),
    # 11 unlocked from standby, lim1 up: automatic falls back, manual stays
    Case("11 unlock, automatic", C1, sees("sb1", up("lim1"), up("lim2", 2), up("lim3", 3), running={1},
                                          alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1)), T,
         (SyncData(1, "lim1"), ReleaseAlias(1, "fallback"), ClearAlarm("lim-on-standby:1"))),
    Case("11 unlock, manual", MANUAL, sees("sb1", up("lim1"), up("lim2", 2), up("lim3", 3), running={1},
                                           alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1)),
         T, ()),
    # 12 sb1 fails: regulars alarm, nothing else; cleared when sb1 returns
    Case("12 standby out of order", C1, sees("lim1", gone("sb1"), up("lim2", 2), up("lim3", 3), running={1}),
         T, (STANDBY_DOWN,)),
    Case("12 a new standby without lim1's backups yet: still out of order for lim1", C1,
         sees("lim1", up("sb1", unready=frozenset({1})), up("lim2", 2), up("lim3", 3), running={1}), T,
         (STANDBY_DOWN,)),
    Case("12 ... not for lim2, whose backups it has", C1,
         sees("lim2", up("sb1", unready=frozenset({1})), up("lim1", 1), up("lim3", 3), running={2}), T, ()),
    Case("12 standby back", C1, sees("lim1", up("sb1"), up("lim2", 2), up("lim3", 3), running={1},
                                     alarms=frozenset({"standby-down"})), T, (ClearAlarm("standby-down"),)),
    # 13 lim1 cut off: keeps LIM 1; sb1 takes it; healed: lim1 yields, sb1 keeps, then fallback
    Case("13 cut-off lim1 keeps serving", C1,
         sees("lim1", gone("sb1"), gone("lim2"), gone("lim3"), running={1}), T, (STANDBY_DOWN,)),
    Case("13 sb1 takes after D (probe unanswered)", C1,
         sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3), probes=(AliasProbe(1, T),)), T,
         (TakeAlias(1), A_SB1(1))),
    Case("13 healed: lim1 yields", C1, sees("lim1", up("sb1", 1, since=T - 0.5), up("lim2", 2), up("lim3", 3),
                                            running={1}), T,
         (ReleaseAlias(1, "split brain: standby serves it too"), SyncData(1, "sb1"),
          RaiseAlarm("split-brain:1", "LIM 1 was active on lim1 and on standby server sb1: released on lim1"))),
    Case("13 healed: sb1 keeps it while lim1 still claims it", C1,
         sees("sb1", up("lim1", 1, since=T - 5 * H), up("lim2", 2), up("lim3", 3), running={1},
              alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1)), T, (),
         {1: ("sb1", "running on standby, waiting for lim1 to release it (split brain)")}),
    # found by the chaos run: lim1 cut, sb1 took LIM 1 (client's ARP -> sb1), sb1 died, lim1 healed:
    # lim1 served all along but the client's cache pointed at the dead sb1; lim1 announces once it has
    # heard its peers again for the listening time (sb1, had it lived, would have been heard by then)
    Case("13 healed, standby gone: lim1 announces", C1,
         sees("lim1", up("lim2", 2, since=T - 3.5), gone("sb1"), running={1}), T, (Announce(1), STANDBY_DOWN)),
    Case("13 healed, just now: not yet", C1,
         sees("lim1", up("lim2", 2, since=T - 1.0), gone("sb1"), running={1}), T, (STANDBY_DOWN,)),
    # found by the chaos run (seed 5): lim1 cut with its alias, sb1 took LIM 1; lim1's periodic
    # gratuitous ARP fell just after the heal, before sb1 was heard, and the client flipped
    # lim1 -> sb1 -> lim1. Nothing is announced while the cable is out, nor while listening after it
    # is back (or after a peer is heard again); sb1 is heard by then and the split-brain rule decides.
    Case("13 cut: no periodic announce without carrier", C1,
         sees("lim1", up("lim2", 2), up("sb1"), running={1}, link_down=True,
              memory=Memory(announced=((1, T - 60),))), T,
         (RaiseAlarm("link-down", "No link on eth0: this server is cut off from the cluster"),)),
    Case("13 cable back just now: periodic announce held (and no alarm before we have listened)", C1,
         sees("lim1", gone("lim2"), gone("sb1"), running={1}, link_back_at=T - 0.3,
              memory=Memory(announced=((1, T - 60),))), T, ()),
    Case("13 cable back, listened, nobody claims it: announce", C1,
         sees("lim1", gone("lim2"), gone("sb1"), running={1}, link_back_at=T - 3.5,
              memory=Memory(announced=((1, T - 4),))), T, (Announce(1), STANDBY_DOWN)),
    Case("13 a peer heard again just now: periodic announce held", C1,
         sees("lim1", up("lim2", 2, since=T - 0.5), gone("sb1"), running={1},
              memory=Memory(announced=((1, T - 60),))), T, (STANDBY_DOWN,)),
    Case("13 cable back, sb1 heard serving it: lim1 yields, no announce", C1,
         sees("lim1", up("lim2", 2), up("sb1", 1, since=T - 0.5), running={1}, link_back_at=T - 0.6,
              memory=Memory(announced=((1, T - 60),))), T,
         (ReleaseAlias(1, "split brain: standby serves it too"), SyncData(1, "sb1"),
          RaiseAlarm("split-brain:1", "LIM 1 was active on lim1 and on standby server sb1: released on lim1"))),
    # a regular repeats its announcement only while it hears the standby (the only other server that
    # may take its alias): unheard, it may be cut off while sb1 serves LIM 1 (no carrier loss: a switch)
    Case("13 standby silent: the regular's periodic announce held", C1,
         sees("lim1", gone("sb1"), up("lim2", 2), running={1}, memory=Memory(announced=((1, T - 60),))), T,
         (STANDBY_DOWN,), {1: ("lim1", "running here")}),
    Case("13 standby heard: periodic announce", C1,
         sees("lim1", up("sb1"), up("lim2", 2), running={1}, memory=Memory(announced=((1, T - 60),))), T,
         (Announce(1),)),
    # the standby's own cable out: every regular looks failed, but it takes nothing over (nobody could
    # reach it) and says it is cut off instead of calling the regulars failed
    Case("13 standby's cable out: no takeover", C1, sees("sb1", gone("lim1"), gone("lim2"), gone("lim3"),
                                                           link_down=True), T,
         (RaiseAlarm("link-down", "No link on eth0: this server is cut off from the cluster"),),
         {1: (None, "unknown: cable out: no link on the cluster interface, lim1 not heard"),
          2: (None, "cable out: no link on the cluster interface")}),
    Case("13 standby's cable back: listens first", C1, sees("sb1", gone("lim1"), gone("lim2"), gone("lim3"),
                                                              link_back_at=T - 0.5), T, (),
         {1: (None, "unknown: cable back: listening to peers, lim1 not heard"),
          2: (None, "cable back: listening to peers")}),
    Case("13 regular's cable out: no standby-down alarm", C1,
         sees("lim1", gone("sb1"), gone("lim2"), running={1}, link_down=True), T,
         (RaiseAlarm("link-down", "No link on eth0: this server is cut off from the cluster"),)),
    # 14 answered by a foreign MAC: no start, alarm naming alias and MAC, probe again periodically
    Case("14 foreign MAC", C1, sees("sb1", silent("lim1", D + 1), up("lim2", 2), up("lim3", 3),
                                    probes=(AliasProbe(1, T - 0.1, "02:00:00:00:00:99"),)), T,
         (RaiseAlarm("alias-conflict:1", "Alias 10.77.0.11 of LIM 1 is answered by 02:00:00:00:00:99, "
                                         "which is no cluster server"),),
         {1: (None, "taking over: alias answered by foreign MAC 02:00:00:00:00:99, waiting")}),
    Case("14 probe again", C1, sees("sb1", silent("lim1", D + 2), up("lim2", 2), up("lim3", 3),
                                    probes=(AliasProbe(1, T - 1.0, "02:00:00:00:00:99"),),
                                    alarms=frozenset({"alias-conflict:1"})), T, (ProbeAlias(1),)),
    # 15 answered by lim1's own MAC: no duplicate, alarm; takes once the alias is silent
    Case("15 lim1's kernel still answers", C1, sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3),
                                                    probes=(AliasProbe(1, T, "02:00:00:00:00:11", "lim1"),)), T,
         (RaiseAlarm("alias-conflict:1", "Alias 10.77.0.11 of LIM 1 is still answered by lim1 "
                                         "(02:00:00:00:00:11)"),)),
    Case("15 silent now: take", C1, sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3),
                                         probes=(AliasProbe(1, T),), alarms=frozenset({"alias-conflict:1"})), T,
         (TakeAlias(1), A_SB1(1), ClearAlarm("alias-conflict:1"))),
    # 16 preloaded failover: detection by the preloaded D; probe, unblock, announce
    Case("16 preloaded: silent < D", PRELOADED,
         sees("sb1", silent("lim1", PD - 0.1, 1), running={1}, blocked=frozenset({1})), T, ()),
    Case("16 preloaded: failed, probe", PRELOADED,
         sees("sb1", silent("lim1", PD, 1), running={1}, blocked=frozenset({1})), T, (ProbeAlias(1),)),
    Case("16 preloaded: unblock and announce", PRELOADED,
         sees("sb1", silent("lim1", PD, 1), running={1}, blocked=frozenset({1}), probes=(AliasProbe(1, T),)), T,
         (Unblock(1), Announce(1), A_SB1(1))),
    # 17 preloaded, lim1 returns: automatic after H sb1 blocks, then lim1 unblocks; manual stays passive
    Case("17 preloaded: sb1 blocks after H", PRELOADED,
         sees("sb1", up("lim1", 1, since=T - H, blocked=frozenset({1})), running={1},
              alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1)), T,
         (SyncData(1, "lim1"), Block(1, "fallback"), ClearAlarm("lim-on-standby:1"))),
    Case("17 preloaded: lim1 unblocks after sb1 blocked", PRELOADED,
         sees("lim1", up("sb1", 1, blocked=frozenset({1}), releasing=frozenset({1})), running={1},
              blocked=frozenset({1})), T, (Unblock(1), Announce(1))),
    Case("17 preloaded manual: sb1 stays active", replace(PRELOADED, fallback="manual"),
         sees("sb1", up("lim1", 1, blocked=frozenset({1})), running={1},
              alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1)), T, ()),
    Case("17 preloaded manual: lim1 stays passive", replace(PRELOADED, fallback="manual"),
         sees("lim1", up("sb1", 1), running={1}, blocked=frozenset({1})), T, (),
         {1: ("sb1", "running on standby, waiting for manual fallback")}),
    Case("17 preloaded: returning lim1 comes back passive", PRELOADED,
         sees("lim1", up("sb1", 1), started=T - 0.5), T, (Block(1, "passive side"), TakeAlias(1, announce=False),
                                                       SyncData(1, "sb1"))),
    # 18, 19: config generations and invalid files are the daemon's (tests/unit/test_agent_daemon.py).
    # 20: bad HMAC / replays are dropped by heartbeat.py before any observation (tests/test_heartbeat.py,
    #     and test_agent_daemon.py checks a dropped datagram leaves the peer view untouched).
    # 21, 22: refused by the utility's rules (rules.py and its tests); no agent ever sees them.
    # 23: data before release: see "6/23" (SyncData precedes ReleaseAlias; lim2 starts only after it)
    #     and "6 lim2 waits" (the regular fetches the standby's data while it waits).
    # 24 back from the dead (only the base address): no alias before two heartbeat periods of listening
    Case("24 just started: listen first", C1, sees("lim1", up("sb1"), up("lim2", 2), started=T - 1.5), T, (),
         {1: (None, "starting: listening to peers")}),
    Case("24 after two periods: standby runs LIM 1, fallback rules", C1,
         sees("lim1", up("sb1", 1), up("lim2", 2), up("lim3", 3), started=T - 2), T, (SyncData(1, "sb1"),),
         {1: ("sb1", "running on standby, automatic fallback after hold time")}),
    Case("24 after two periods, nobody has LIM 1: probe", C1,
         sees("lim1", up("sb1"), up("lim2", 2), up("lim3", 3), started=T - 2), T, (ProbeAlias(1),)),
    # 25 only the agent restarted, alias still held: keeps serving, unless a peer claims the LIM
    Case("25 restarted agent keeps its alias", C1, sees("lim1", running={1}, started=T - 0.1), T, (),
         {1: ("lim1", "running here")}),
    Case("25 a peer claims it within two periods: row 13", C1,
         sees("lim1", up("sb1", 1), running={1}, started=T - 1), T,
         (ReleaseAlias(1, "split brain: standby serves it too"), SyncData(1, "sb1"),
          RaiseAlarm("split-brain:1", "LIM 1 was active on lim1 and on standby server sb1: released on lim1"))),
    Case("25 restarted standby keeps the LIM it serves", C1,
         sees("sb1", running={1}, started=T - 0.1), T, (ProbeAlias(1), A_SB1(1)),
         {1: ("sb1", "running on standby")}),
    # a hung lim1 woke up with alias 1 still on its interface, its agent still silent: nobody would
    # ever remove it; sb1 keeps the LIM (lim1 has failed), alarms and announces
    Case("15 duplicate while serving", C1,
         sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3), running={1},
              probes=(AliasProbe(1, T - 0.1, "02:00:00:00:00:11", "lim1"),),
              alarms=frozenset({"lim-on-standby:1"}), memory=Memory(target=1, announced=((1, T - 2),))), T,
         (Announce(1), RaiseAlarm("duplicate-alias:1", "Alias 10.77.0.11 of LIM 1 is also answered by lim1 "
                                  "(02:00:00:00:00:11) while this standby serves it"))),
    Case("15 duplicate gone", C1,
         sees("sb1", gone("lim1"), up("lim2", 2), up("lim3", 3), running={1}, probes=(AliasProbe(1, T - 0.1),),
              alarms=frozenset({"lim-on-standby:1", "duplicate-alias:1"}),
              memory=Memory(target=1, announced=((1, T - 2),))), T, (ClearAlarm("duplicate-alias:1"),)),
]


@pytest.mark.parametrize("case", CASES, ids=[case.row for case in CASES])
def test_scenario(case: Case) -> None:
    decision = decide(case.config, case.obs, case.now)
    assert decision.actions == case.actions
    shown = {item.lim: (item.where, item.state) for item in decision.status}
    for lim, expected in (case.status or {}).items():
        assert shown[lim] == expected


def test_row_8_a_gap_restarts_the_heard_period() -> None:
    """Row 8 from the receiving side: one lost heartbeat is no gap, a longer silence is."""
    peer = PeerView("lim2")
    peer = heard(peer, 10.0, 1.0)
    peer = heard(peer, 11.0, 1.0)
    peer = heard(peer, 13.0, 1.0)          # one heartbeat lost
    assert peer.heard_since == 10.0
    peer = heard(peer, 16.0, 1.0)          # down for a moment: flapping
    assert peer.heard_since == 16.0


def test_row_7_the_order_completes_once_lim2_serves_again() -> None:
    lim2 = decide(MANUAL, sees("lim2", up("sb1"), running={2}, fallback_orders=frozenset({2})), T)
    assert lim2.completed_orders == {2}
    sb1 = decide(MANUAL, sees("sb1", up("lim1", 1), up("lim2", 2), up("lim3", 3),
                              fallback_orders=frozenset({2})), T)
    assert sb1.completed_orders == {2}


def test_row_6_release_is_announced_until_lim2_serves() -> None:
    step = sees("sb1", gone("lim1"), up("lim2", since=T - H), up("lim3", 3), running={2},
                memory=Memory(target=2))
    first = decide(C1, step, T)
    assert first.memory.releasing == {2}
    later = decide(C1, replace(step, running=frozenset(), memory=first.memory,
                               peers=(gone("lim1"), up("lim2", 2), up("lim3", 3))), T + 0.5)
    assert later.memory.releasing == frozenset()
