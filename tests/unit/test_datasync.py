"""When the agents sync exchange data (agent/datasync/): the pure decisions with hypothesis, then the
scheduler the daemon calls, with a fake sync, a hand-moved clock and real xdata folders in a temp dir,
and finally the daemon wired to it (heartbeat flags in, status and alarms out)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
from helpers.fakes import Clock, FakeAddresses, FakeFirewall, FakeNeighbours, FakeService
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.datasync import (
    CommandReload,
    DataSyncScheduler,
    SyncResult,
    io_timeout_for,
    order_outlook,
    order_text,
)
from mxone_maintenance.agent.datasync.clock import SKEW_SAMPLES, clock_held, clock_skew
from mxone_maintenance.agent.datasync.due import (
    DAILY_S,
    RETRY_FIRST_S,
    RETRY_MAX_S,
    due_syncs,
    hold_reason,
    retry_delay,
    why_due,
)
from mxone_maintenance.agent.datasync.flags import parse_xdata_flags, xdata_flags
from mxone_maintenance.agent.datasync.folders import transfer_progress
from mxone_maintenance.agent.datasync.peers import pairs_of
from mxone_maintenance.agent.datasync.values import Job, LastSync, Pair, PairState
from mxone_maintenance.agent.datasync.words import status_entry
from mxone_maintenance.agent.heartbeat import Counters, Heartbeat
from mxone_maintenance.agent.heartbeat_flags import AgentFlags
from mxone_maintenance.agent.main import status_text
from mxone_maintenance.agent.runtime import Agent, AlarmBook, Effects
from mxone_maintenance.agent.settings import SettingsError, parse_settings
from mxone_maintenance.agent.state import PeerView
from mxone_maintenance.core import config as files
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.core.paths import Paths

CLUSTER = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")),
                  (ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), IPv4Interface("10.77.0.11/24"), 5),
                   ClusterLim(2, "lim2", IPv4Interface("10.77.0.112/24"), IPv4Interface("10.77.0.12/24"), 1)),
                  generation=7, detect_s=3.0, heartbeat_s=1.0)
STAMP = "20261125171501"
LATER = "20261125171502"


# --- pure: due_syncs ----------------------------------------------------------------------------------

def ok_last(at: float = 0.0) -> LastSync:
    return LastSync(at, 1.7e9 + at, True, "first")


def failed_last(at: float = 0.0) -> LastSync:
    return LastSync(at, 1.7e9 + at, False, "first", error="rsync exit 12")


def pair_state(lim: int = 1, **changes) -> PairState:
    return replace(PairState(Pair(lim, f"lim{lim}"), True, 0.1, last=ok_last()), **changes)


def reasons(*states: PairState, now: float = 10.0) -> dict[int, str]:
    return {job.lim: job.reason for job in due_syncs(states, now, max_parallel=10)}


def test_pairs_follow_the_role():
    assert pairs_of(CLUSTER, "sb1") == (Pair(1, "lim1"), Pair(2, "lim2"))
    assert pairs_of(CLUSTER, "lim2") == (Pair(2, "sb1"),)
    assert pairs_of(CLUSTER, "elsewhere") == ()


def test_a_pair_never_synced_is_synced_first():
    assert reasons(pair_state(last=None)) == {1: "first"}


def test_a_newer_version_on_the_peer_is_pulled_once():
    newer = pair_state(peer_stamp=LATER, local_stamp=STAMP, seen_stamp=STAMP)
    assert reasons(newer) == {1: "peer-backup"}
    assert reasons(replace(newer, seen_stamp=LATER)) == {}          # already acted on that one
    assert reasons(replace(newer, local_stamp=LATER)) == {}         # we have it (pulled, or ours)
    assert reasons(replace(newer, peer_stamp=STAMP, local_stamp=LATER, seen_stamp=None)) == {}  # ours is newer


def test_daily_and_order():
    assert reasons(pair_state(), now=DAILY_S - 1) == {}
    assert reasons(pair_state(), now=DAILY_S) == {1: "daily"}
    assert reasons(pair_state(ordered=True)) == {1: "order"}


def test_a_failure_is_retried_with_a_growing_delay():
    failing = pair_state(last=failed_last(at=100.0), failures=1)
    assert reasons(failing, now=104.0) == {}
    assert reasons(failing, now=105.0) == {1: "retry"}
    assert reasons(replace(failing, failures=3), now=115.0) == {}
    assert reasons(replace(failing, failures=3), now=120.0) == {1: "retry"}
    assert reasons(replace(failing, failures=50), now=100.0 + RETRY_MAX_S) == {1: "retry"}


def test_nothing_starts_with_a_silent_peer_a_skewed_clock_or_a_running_sync():
    for held in (dict(peer_alive=False), dict(peer_skew=2.5), dict(peer_skew=-3.0), dict(busy=True)):
        assert reasons(pair_state(ordered=True, last=None, **held)) == {}, held
    assert hold_reason(pair_state(peer_skew=2.5)) == "held: clock of lim1 differs by 2.5 s"
    assert reasons(pair_state(peer_skew=1.9, last=None)) == {1: "first"}


states = st.builds(
    PairState, pair=st.builds(Pair, st.integers(1, 10), st.sampled_from(["lim1", "sb1"])),
    peer_alive=st.booleans(), peer_skew=st.none() | st.floats(-5, 5),
    peer_stamp=st.none() | st.sampled_from([STAMP, LATER]), local_stamp=st.none() | st.sampled_from([STAMP, LATER]),
    seen_stamp=st.none() | st.sampled_from([STAMP, LATER]),
    last=st.none() | st.builds(LastSync, st.floats(0, 1e6), st.just(1.7e9), st.booleans(), st.just("first")),
    failures=st.integers(0, 20), busy=st.booleans(), ordered=st.booleans())


def unique_pairs(items: list[PairState]) -> list[PairState]:
    return list({s.pair: s for s in items}.values())


@given(st.lists(states, max_size=12).map(unique_pairs), st.floats(0, 2e6), st.integers(1, 4))
def test_due_syncs_properties(items, now, max_parallel):
    jobs = due_syncs(items, now, max_parallel=max_parallel)
    by_pair = {s.pair: s for s in items}
    busy = sum(s.busy for s in items)
    assert len(jobs) <= max(0, max_parallel - busy)                   # never more rsyncs than allowed
    assert len({(j.lim, j.peer) for j in jobs}) == len(jobs)
    for job in jobs:
        state = by_pair[Pair(job.lim, job.peer)]
        assert state.peer_alive and not state.busy and not clock_held(state.peer_skew)
        assert job.reason == why_due(state, now)
    runnable_orders = [s for s in items if s.ordered and hold_reason(s) is None]
    if len(jobs) < len([s for s in items if why_due(s, now)]):     # some had to wait: orders went first
        assert all(j.reason == "order" for j in jobs) or all(
            Pair(s.pair.lim, s.pair.peer) in {Pair(j.lim, j.peer) for j in jobs} for s in runnable_orders)
    else:
        assert {Pair(j.lim, j.peer) for j in jobs} >= {s.pair for s in runnable_orders}


@given(st.integers(0, 100))
def test_retry_delay_grows_and_is_bounded(failures):
    assert 0 <= retry_delay(failures) <= retry_delay(failures + 1) <= RETRY_MAX_S


@given(st.dictionaries(st.integers(1, 99), st.from_regex(r"\A20\d{12}\Z", fullmatch=True), max_size=10))
def test_xdata_flags_round_trip(stamps):
    flags = xdata_flags(stamps)
    assert parse_xdata_flags(flags + ("mac=aa:bb", "fallback=2", "xdata=x:1", "xdata=3:123")) == stamps


@given(st.floats(-10, 10), st.lists(st.floats(0, 30), max_size=SKEW_SAMPLES - 1), st.floats(0, 0.05),
       st.randoms())
def test_late_heartbeats_never_move_the_skew_away_from_the_peers_clock(offset, delays, prompt, random):
    """However many of the samples came late (a stalled machine reads its backlog at once), one prompt
    sample is enough: the skew is the peer's clock minus ours to within that sample's delay."""
    samples = [offset - delay for delay in [*delays, prompt]]
    random.shuffle(samples)
    skew = clock_skew(samples)
    assert offset - prompt <= skew <= offset
    assert clock_held(skew) == (abs(skew) > 2.0)


def test_io_timeout_follows_detection_within_bounds():
    assert [io_timeout_for(d) for d in (0.3, 3, 10, 30, 60)] == [5, 6, 20, 30, 30]


def test_command_reload_fills_placeholders_and_says_why_it_failed(tmp_path):
    out = tmp_path / "out"
    assert CommandReload(["sh", "-c", f"echo $0 >> {out}", "{lim}:{alias}:{node}"], CLUSTER, "sb1")(1)
    assert out.read_text() == "1:10.77.0.11:sb1\n"
    assert not CommandReload([], CLUSTER, "sb1")(1) and not CommandReload(["true"], CLUSTER, "sb1")(9)
    failing = CommandReload(["sh", "-c", "echo one >&2; echo 'no licence' >&2; exit 3"], CLUSTER, "sb1")
    with pytest.raises(RuntimeError, match=r"^reload LIM 2: exit 3: no licence$"):
        failing(2)
    with pytest.raises(RuntimeError, match=r"^reload LIM 2: /nonexistent/sn: .*No such file"):
        CommandReload(["/nonexistent/sn"], CLUSTER, "sb1")(2)


def test_agent_yaml_reload_and_bwlimit():
    text = "node: sb1\nservice: {start: [a], stop: [b], reload: [sn, reload, '{lim}']}\nsync: {bwlimit_kbps: 500}\n"
    settings = parse_settings(text, Path("agent.yaml"), "x")
    assert settings.service_reload == ("sn", "reload", "{lim}") and settings.sync_bwlimit_kbps == 500
    for bad in ("sync: {bwlimit_kbps: 0}\n", "sync: {speed: 1}\n", "sync: [1]\n"):
        try:
            parse_settings(bad, Path("agent.yaml"), "x")
        except SettingsError as exc:
            assert "sync" in str(exc)
        else:
            raise AssertionError(bad)


def test_agent_yaml_with_aliases_or_deep_nesting_is_one_line_naming_the_file():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(12))
    for text, said in ((bomb, "anchors and aliases"), ("node: " + "[" * 5000 + "]" * 5000, "nested")):
        with pytest.raises(SettingsError) as raised:
            parse_settings(text, Path("/etc/opt/eri_sn/agent.yaml"), "x")
        line = str(raised.value)
        assert line.startswith("/etc/opt/eri_sn/agent.yaml:1: ") and said in line and "\n" not in line


# --- the scheduler with a fake sync ---------------------------------------------------------------------

@dataclass
class FakeSync:
    """sync_lim(lim) answers what `results` says (default: ok, nothing to pull); reload is recorded."""
    results: dict
    calls: list
    reloads: list

    def sync_lim(self, lim: int) -> SyncResult:
        self.calls.append(lim)
        outcome = self.results.get(lim, SyncResult(True, lim, "none"))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def reload(self, lim: int) -> bool:
        self.reloads.append(lim)
        return True


def fake_sync(**results) -> FakeSync:
    return FakeSync({int(k.removeprefix("lim")): v for k, v in results.items()}, [], [])


class Rig:
    def __init__(self, root: Path, node: str = "sb1") -> None:
        self.paths, self.clock = Paths(root), Clock()
        self.alarms = AlarmBook(lambda: 1.7e9 + self.clock.t)
        self.scheduler = DataSyncScheduler(self.paths, node, self.clock, lambda: 1.7e9 + self.clock.t,
                                              threaded=False)
        self.peers: dict[str, PeerView] = {}

    def hear(self, *names: str, skew: float = 0.0, flags=()) -> None:
        for name in names:
            self.peers[name] = PeerView(name, last_heard=self.clock.t)
            self.scheduler.heard(name, 1.7e9 + self.clock.t + skew, flags)

    def cycle(self, sync, passive=(), step: float = 0.5) -> list[Job]:
        self.clock.t += step
        return self.scheduler.cycle(CLUSTER, sync, self.peers, passive, self.alarms, self.clock.t)

    def entry(self, lim: int) -> dict:
        return next(e for e in self.scheduler.status() if e["lim"] == lim)


def test_the_standby_syncs_each_heard_regular_once_then_on_its_backups(tmp_path):
    rig, sync = Rig(tmp_path), fake_sync()
    rig.hear("lim1")
    assert [j.reason for j in rig.cycle(sync)] == ["first"]           # lim2 not heard: waits
    assert rig.cycle(sync) == [] and sync.calls == [1]
    assert rig.entry(2)["state"] == "waiting: lim2 not heard" and rig.entry(2)["last"] is None
    assert rig.entry(1) | {"last": None} == rig.entry(1) | {
        "last": None, "ok": True, "direction": "none", "reason": "first", "state": "idle"}
    rig.hear("lim1", flags=(f"xdata=1:{LATER}",))
    assert [j.reason for j in rig.cycle(sync)] == ["peer-backup"]
    rig.hear("lim1", flags=(f"xdata=1:{LATER}",))
    assert rig.cycle(sync) == []                                      # that version is acted on


def test_a_standby_is_ready_for_a_lim_with_two_backups_or_after_a_good_sync(tmp_path):
    rig = Rig(tmp_path)
    rig.cycle(fake_sync())                                      # nobody heard: nothing synced
    assert rig.scheduler.unready() == {1, 2}                   # a new standby: no backups yet
    assert "unready=1" in AgentFlags(unready=rig.scheduler.unready()).encode()
    for stamp in (STAMP, LATER):
        (tmp_path / f"var/opt/eri_sn/standby/lim1/xdata_1_{stamp}").mkdir(parents=True)
    rig.clock.t += 5
    rig.cycle(fake_sync())
    assert rig.scheduler.unready() == {2}                      # two backups of LIM 1 (e.g. after a restart)
    rig.hear("lim2")
    rig.cycle(fake_sync(lim2=SyncResult(False, 2, "none", error="cannot list lim2")))
    assert rig.scheduler.unready() == {2}                      # a failed sync changes nothing
    rig.clock.t += RETRY_FIRST_S
    rig.hear("lim2")
    rig.cycle(fake_sync())
    rig.cycle(fake_sync())
    assert rig.scheduler.unready() == frozenset()              # a good sync took what lim2 has
    assert Rig(tmp_path, "lim1").scheduler.unready() == frozenset()   # a regular never says it


def test_a_pull_under_way_shows_the_version_and_the_bytes_already_here(tmp_path):
    folder = tmp_path / "xdata"
    assert transfer_progress(folder, 1) is None                       # no folder yet
    partial = folder / f".partial-xdata_1_{STAMP}"
    (partial / "sub").mkdir(parents=True)
    (partial / "reload.dat").write_bytes(b"x" * 1000)
    (partial / "sub/.big.dat.Xy12ab").write_bytes(b"y" * 3 * 2**20)   # rsync's temporary file
    (folder / f"xdata_1_{LATER}").mkdir()
    assert transfer_progress(folder, 1) == (f"xdata_1_{STAMP}", 1000 + 3 * 2**20)
    assert transfer_progress(folder, 2) is None
    busy = PairState(Pair(1, "sb1"), True, busy=True)
    assert status_entry(busy, 0.0, transfer_progress(folder, 1))["state"] == \
        f"running: pulling xdata_1_{STAMP} from sb1, 3.0 MB so far"
    assert status_entry(PairState(Pair(1, "sb1"), True), 0.0, transfer_progress(folder, 1))["state"] == "idle"


def test_the_regular_pulls_when_the_standby_advertises_newer_data(tmp_path):
    rig, sync = Rig(tmp_path, "lim1"), fake_sync()
    (tmp_path / f"var/opt/eri_sn/xdata/xdata_1_{STAMP}").mkdir(parents=True)
    rig.hear("sb1", flags=(f"xdata=1:{STAMP}", "xdata=2:20990101000000"))
    assert [j.reason for j in rig.cycle(sync)] == ["first"]
    assert rig.scheduler.heartbeat_flags() == (f"xdata=1:{STAMP}",)     # what we advertise
    rig.hear("sb1", flags=(f"xdata=1:{STAMP}",))
    assert rig.cycle(sync) == []                                      # the same as ours: nothing to do
    rig.hear("sb1", flags=(f"xdata=1:{LATER}",))                       # the standby ran LIM 1, made a backup
    assert [(j.lim, j.peer, j.reason) for j in rig.cycle(sync)] == [(1, "sb1", "peer-backup")]


def test_a_failed_sync_raises_the_alarm_per_lim_and_a_good_one_clears_it(tmp_path):
    rig = Rig(tmp_path)
    rig.hear("lim1", "lim2")
    rig.cycle(fake_sync(lim1=SyncResult(False, 1, "none", error="cannot list lim1: rsync exit 255")))
    rig.cycle(fake_sync())
    active = {a["key"]: a["text"] for a in rig.alarms.as_list() if a["active"]}
    assert active == {"sync-failed:lim1": "Standby cluster has failed to synchronize data: LIM 1 with lim1: "
                                          "cannot list lim1: rsync exit 255"}
    entry = rig.entry(1)
    assert entry["ok"] is False and entry["error"].startswith("cannot list") and entry["age_s"] == 0.5
    rig.clock.t += RETRY_FIRST_S
    rig.hear("lim1", "lim2")
    assert [j.reason for j in rig.cycle(fake_sync())] == ["retry"]
    rig.cycle(fake_sync())
    assert not rig.alarms.active and rig.entry(1)["ok"] is True


def test_an_exception_of_the_sync_is_a_failed_sync(tmp_path):
    rig = Rig(tmp_path)
    rig.hear("lim1")
    rig.cycle(fake_sync(lim1=RuntimeError("boom")))
    rig.cycle(fake_sync())
    assert rig.entry(1)["error"] == "boom" and "sync-failed:lim1" in rig.alarms.active


def test_a_skewed_clock_alarms_and_holds_until_fixed(tmp_path):
    rig, sync = Rig(tmp_path), fake_sync()
    for _ in range(5):
        rig.hear("lim1", skew=3.4)
    assert rig.cycle(sync) == [] and sync.calls == []
    assert rig.alarms.active["clock:lim1"].text == "Clock of lim1 differs by 3 s (more than 2 s): data sync held"
    assert rig.entry(1)["state"] == "held: clock of lim1 differs by 3.4 s" and rig.entry(1)["clock_skew_s"] == 3.4
    assert round(rig.scheduler.skew("lim1"), 6) == 3.4                         # the row-23 pulls hold too (ClusterSync)
    for _ in range(6):
        rig.hear("lim1", skew=0.2)
    assert [j.reason for j in rig.cycle(sync)] == ["first"]
    assert "clock:lim1" not in rig.alarms.active


def test_a_backlog_read_after_a_7_s_stall_raises_no_clock_alarm(tmp_path):
    """The case CI met: 14 heartbeats of 0.5 s queued while lim2's agent was not scheduled, read together:
    the oldest 7 s late, the newest sent just before the read. No clock alarm, and the sync goes on."""
    rig, sync = Rig(tmp_path), fake_sync()
    for n in range(14):
        rig.hear("lim1", skew=-(7.0 - 0.5 * n))
    assert [j.reason for j in rig.cycle(sync)] == ["first"]
    assert "clock:lim1" not in rig.alarms.active and clock_skew([]) is None


def test_an_order_syncs_every_lim_whose_peer_is_heard(tmp_path):
    rig, sync = Rig(tmp_path), fake_sync()
    rig.hear("lim1", "lim2")
    rig.cycle(sync)
    rig.cycle(sync)
    rig.scheduler.order()
    assert [(j.lim, j.reason) for j in rig.cycle(sync)] == [(1, "order"), (2, "order")]
    rig.scheduler.order()
    rig.clock.t += 10                                                  # lim2 silent for longer than D
    rig.hear("lim1")
    assert [j.lim for j in rig.cycle(sync)] == [1]
    assert rig.cycle(sync) == []                                       # the order for lim2 is dropped


def test_an_order_says_which_lims_sync_and_why_others_cannot_now(tmp_path):
    rig = Rig(tmp_path)
    rig.hear("lim1")
    rig.cycle(fake_sync())
    outlook = order_outlook(rig.scheduler.states)
    assert outlook == {"syncing": [{"lim": 1, "peer": "lim1"}],
                       "waiting": [{"lim": 2, "peer": "lim2", "why": "waiting: lim2 not heard"}]}
    assert order_text({"syncing": [], "waiting": outlook["waiting"]}) == \
        "data sync ordered, but nothing can sync now: LIM 2 not now (waiting: lim2 not heard)"
    assert order_text({"syncing": [], "waiting": []}).startswith("data sync ordered (the agent has not looked")


def test_the_passive_side_reloads_after_pulling_new_data(tmp_path):
    rig = Rig(tmp_path)
    rig.hear("lim1")
    pulled = SyncResult(True, 1, "to-standby", "xdata_1_" + LATER, 1000, 0.1, None, True)
    sync = fake_sync(lim1=pulled)
    rig.cycle(sync, passive={1})
    rig.cycle(sync)
    assert sync.reloads == [1] and rig.entry(1)["reloaded"] is True and rig.entry(1)["transferred"]
    rig.scheduler.order()
    rig.cycle(sync, passive=())                                        # not running here: no reload
    assert sync.reloads == [1]


def test_a_sync_without_sync_lim_does_nothing(tmp_path):
    rig = Rig(tmp_path)
    rig.hear("lim1")
    assert rig.cycle(object()) == []


# --- the daemon wired to the scheduler -----------------------------------------------------------------

class FakeChannel:
    def __init__(self) -> None:
        self.inbox: list = []
        self.sent: list = []
        self.counters = Counters()

    def send(self, hb, addresses) -> None:
        self.sent.append(hb)

    def receive_all(self):
        got, self.inbox = self.inbox, []
        return got

    def send_offer(self, offer, address) -> None:
        self.offers_sent = [*getattr(self, "offers_sent", []), (offer, address)]

    def take_offers(self):
        got, self.offers_in = getattr(self, "offers_in", []), []
        return got

    def close(self) -> None:
        pass


def test_the_daemon_advertises_its_xdata_feeds_heartbeats_in_and_shows_sync_in_status(tmp_path):
    clock, channel = Clock(), FakeChannel()
    sync = fake_sync(lim1=SyncResult(True, 1, "to-standby", "xdata_1_" + LATER, 2048, 0.2, None, True))
    effects = Effects(FakeAddresses(set()), FakeNeighbours(), FakeFirewall(), FakeService(), sync)
    paths = Paths(tmp_path)
    agent = Agent(paths, "sb1", lambda config, node: effects, lambda config, key: channel,
                  clock=clock, wall=lambda: 1.7e9 + clock.t, threaded_service=False)
    files.write_atomic(paths.cluster_file, files.dump_cluster(CLUSTER))
    files.write_atomic(paths.cluster_key, b"0123abcd" * 4, mode=0o600)
    (tmp_path / f"var/opt/eri_sn/standby/lim2/xdata_2_{STAMP}").mkdir(parents=True)
    for seq in range(1, 4):
        clock.t += 0.5
        channel.inbox.append((Heartbeat("c1", "lim1", 7, seq, 1.7e9 + clock.t, (1,),
                                        flags=(f"xdata=1:{LATER}",)), "10.77.0.111"))
        agent.cycle()
    assert f"xdata=2:{STAMP}" in channel.sent[-1].flags
    assert sync.calls == [1]
    [entry] = [e for e in agent.status()["sync"] if e["lim"] == 1]
    assert {k: entry[k] for k in ("ok", "direction", "version", "reason", "transferred", "bytes")} == {
        "ok": True, "direction": "to-standby", "version": "xdata_1_" + LATER, "reason": "first",
        "transferred": True, "bytes": 2048}
    assert entry["last"] > 1.7e9 and entry["age_s"] >= 0
    text = status_text(agent.status())
    assert "data sync:" in text and "xdata_1_" + LATER in text and "lim2 not heard" in text
    assert order_text(agent.order_sync()) == \
        "data sync ordered: LIM 1 with lim1; LIM 2 not now (waiting: lim2 not heard)"
    clock.t += 0.5
    channel.inbox.append((Heartbeat("c1", "lim1", 7, 9, 1.7e9 + clock.t, (1,)), "10.77.0.111"))
    agent.cycle()
    assert sync.calls == [1, 1]                                       # the order, in the background
