"""Maintenance mode and the event history in the menus, as the technician sees them: the pause and resume
forms, their plans (Back focused) and results, the refusal while a LIM moves, Show status with PAUSED
lines and its Recent events (a silent member named), and the Cluster history screen (headless; the
agents are fakes: helpers/uitools.FakeAgents, apply_plan a recorder)."""
from __future__ import annotations

import time

import pytest
from helpers import uitools
from helpers.uitools import FakeAgents, RecordingApply, attributes_of, box_text, press, screen, tab_to

from mxone_maintenance.core.contracts.agent_status import AgentStatus
from mxone_maintenance.core.contracts.events import EventKind, event_text, new_event
from mxone_maintenance.core.contracts.lim_state import LimState, LimStatus
from mxone_maintenance.utility.ops.plan import OrderAgent
from mxone_maintenance.utility.ui.history_screen import HistoryScreen
from mxone_maintenance.utility.ui.recent_events import HISTORY_EVERY_S, EventsMemo, gather
from mxone_maintenance.utility.ui.screens import PlanScreen, ResultScreen
from mxone_maintenance.utility.ui.worker import InlineRuntime

CLUSTERED = uitools.with_lim1_clustered()
PAUSE, RESUME, HISTORY = "4", "5", "6"            # their keys in the main menu
NOW = time.time()


@pytest.fixture(autouse=True)
def _now():
    """NOW is each test's own start: collected early in a long run, an import-time NOW would be minutes
    old by the time a test compares it with the screen's "last hour"."""
    global NOW
    NOW = time.time()


def paused(node: str, running: tuple[int, ...]) -> AgentStatus:
    where = (node,) if running else ("lim1",)
    return AgentStatus(node=node, running=running, lims=(LimStatus(1, where[0], LimState.PAUSED, servers=where),))


def agents(**changes) -> FakeAgents:
    statuses = {"lim1": paused("lim1", (1,)), "sb1": paused("sb1", ())}
    return FakeAgents(**{"statuses": statuses, **changes})


def takeover(minutes_ago: float, server: str = "sb1", text: str = "LIM 1 taken over from lim1"):
    return new_event(EventKind.TAKEOVER, server, text, lim=1, cause="lim1 silent for 3.0 s", generation=1,
                     at=NOW - minutes_ago * 60)


@pytest.fixture
def app(tmp_path):
    return uitools.make_app(tmp_path, CLUSTERED)


# ---------------------------------------------------------------- the items
def test_the_items_are_numbered_in_the_main_menu_and_need_a_cluster(tmp_path):
    app = uitools.make_app(tmp_path, uitools.TWO_LIMS)
    text = screen(app)
    for line in ("4  Pause cluster (maintenance mode)", "5  Resume cluster", "6  Cluster history", "7  Exit"):
        assert line in text
    for key in (PAUSE, RESUME, HISTORY):
        press(app, key)
        assert app.top.title == "MX-ONE maintenance"
        assert "No cluster yet: create one first" in screen(app)


# ---------------------------------------------------------------- pause
def test_pause_form_offers_the_cluster_and_60_minutes(app):
    press(app, PAUSE)
    assert app.top.title == "Pause cluster (maintenance mode)"
    text = box_text(app)
    assert "c1: LIM 1, standby sb1, normal" in text
    assert "Minutes: 60" in text
    assert "takes no decision (no takeover, no fallback)" in text


def test_pause_plan_orders_every_member_with_back_focused(app, monkeypatch):
    monkeypatch.setattr("mxone_maintenance.utility.cli.Session.ssh_settings",
                        lambda _self: pytest.fail("no SSH before Apply"))
    press(app, PAUSE)
    tab_to(app, "Minutes: ")
    press(app, "backspace", "backspace", "3", "0")
    app.top.submit()
    assert isinstance(app.top, PlanScreen)
    text = box_text(app)
    assert "Plan: pause cluster c1 (maintenance mode) for 30 minutes" in text
    assert text.count("- pause: keep serving, take no decision until ") == 2
    assert "lim1 (10.77.0.111):" in text and "sb1 (10.77.0.20):" in text
    assert attributes_of(app, "< Back >") == {"button focus"} and attributes_of(app, "< Apply >") == {"button"}
    press(app, "enter")                                   # Back, the focused button: nothing applied
    assert app.top.title == "Pause cluster (maintenance mode)"


@pytest.mark.parametrize("typed, message", [
    ("0", "a pause lasts 1 to 10080 minutes (got 0)"),
    ("20000", "a pause lasts 1 to 10080 minutes (got 20000)"),
    ("soon", "minutes must be a number, e.g. 60 (got 'soon')"),
])
def test_pause_minutes_out_of_range_are_refused_in_the_form(app, typed, message):
    press(app, PAUSE)
    tab_to(app, "Minutes: ")
    press(app, "backspace", "backspace", *typed)
    app.top.submit()
    assert app.top.title == "Pause cluster (maintenance mode)"
    assert message in box_text(app)


def test_pause_applied_orders_every_member_and_says_done(app, monkeypatch):
    agents().install(monkeypatch)
    applied = RecordingApply().install(monkeypatch)
    press(app, PAUSE)
    app.top.submit()
    press(app, "left", "enter")                           # ← to Apply
    assert isinstance(app.top, ResultScreen)
    text = box_text(app)
    assert "Done: pause cluster c1 (maintenance mode) for 60 minutes" in text
    assert "lim1: ordered" in text and "sb1: ordered" in text
    assert attributes_of(app, "Done: pause cluster c1") == {"done"}
    (plan,) = applied.plans
    orders = {s.server: s.steps for s in plan.servers}
    assert set(orders) == {"lim1", "sb1"}
    assert all(isinstance(step, OrderAgent) and step.args[0] == "pause" for steps in orders.values() for step in steps)
    press(app, "enter")
    assert app.top.title == "MX-ONE maintenance"


def test_pause_while_a_lim_moves_is_refused_in_one_line_and_nothing_is_ordered(app, monkeypatch):
    agents(moving=frozenset({1})).install(monkeypatch)
    applied = RecordingApply().install(monkeypatch)
    press(app, PAUSE)
    app.top.submit()
    press(app, "left", "enter")                           # Apply: the agents are asked, the plan refused
    assert isinstance(app.top, ResultScreen) and applied.plans == []
    refusal = ("FAILED: LIM 1 of cluster c1 is moving now; pause once it has settled (see cluster status); "
               "nothing was changed")
    assert refusal in box_text(app)
    assert attributes_of(app, "FAILED: LIM 1 of cluster c1") == {"failed"}
    assert not app.top.ok


# ---------------------------------------------------------------- resume
def test_resume_plan_and_apply(app, monkeypatch):
    agents().install(monkeypatch)
    applied = RecordingApply().install(monkeypatch)
    press(app, RESUME)
    assert app.top.title == "Resume cluster"
    assert "Every agent decides again by the cluster's rules" in box_text(app)
    app.top.submit()
    text = box_text(app)
    assert "Plan: resume cluster c1" in text
    assert text.count("- resume: decide again by the cluster's rules") == 2
    assert attributes_of(app, "< Back >") == {"button focus"}
    press(app, "left", "enter")
    assert "Done: resume cluster c1" in box_text(app)
    assert [step.args[0] for s in applied.plans[0].servers for step in s.steps] == ["resume", "resume"]


# ---------------------------------------------------------------- Show status
def open_status(app):
    press(app, "3", "2")
    assert app.top.title == "Show status"


def test_status_shows_paused_lines_as_the_agents_say_and_wraps_them(app, monkeypatch):
    agents().install(monkeypatch)
    open_status(app)
    rows = uitools.rows(app)
    at = next(i for i, row in enumerate(rows) if "PAUSED (maintenance mode):" in row)
    state_col = rows[at].index("PAUSED")
    assert rows[at][:state_col].strip(" │").split() == ["1", "lim1", "lim1", "-"]
    state = rows[at][state_col:].strip(" │") + " " + rows[at + 1][state_col:].strip(" │")
    assert state == "PAUSED (maintenance mode): running on lim1"      # wrapped inside the state column
    assert rows[at + 1][:state_col].strip(" │") == ""
    assert attributes_of(app, "PAUSED (maintenance mode):") == {"warning"}


def test_status_has_recent_events_of_the_past_hour_newest_last(app, monkeypatch):
    events = {"sb1": [takeover(m, text=f"event {m}") for m in (90, 50, 40)],
              "lim1": [new_event(EventKind.PAUSE, "lim1", "paused until 13:00", generation=1, at=NOW - 60)]}
    fake = agents(events=events).install(monkeypatch)
    open_status(app)
    text = screen(app)
    assert "Recent events (last hour):" in text
    assert "event 90" not in text                                   # older than an hour
    assert text.index("event 50") < text.index("event 40") < text.index("paused until 13:00")
    stamp = time.strftime("%H:%M:%S", time.localtime(NOW - 50 * 60))
    assert f"  {stamp} sb1        takeover      event 50 (lim1 silent for 3.0 s)" in text
    assert attributes_of(app, "event 50") == {"alarm"}              # a takeover is major
    assert attributes_of(app, "paused until 13:00") == {"warning"}
    assert abs(fake.history_calls[0] - (NOW - 3600)) < 60
    assert all(len(row) <= 80 for row in uitools.rows(app))


def test_only_the_last_ten_events_are_shown(app, monkeypatch):
    agents(events={"sb1": [takeover(30 - m, text=f"number {m:02d}") for m in range(15)]}).install(monkeypatch)
    open_status(app)
    press(app, "page down", "page down")
    text = screen(app)
    assert "number 14" in text and "number 05" in text and "number 04" not in text


def test_a_silent_member_is_named_under_recent_events(app, monkeypatch):
    statuses = {"lim1": paused("lim1", (1,)), "sb1": None}
    agents(statuses=statuses, events={"lim1": [takeover(5, "lim1", "LIM 1 started")]}).install(monkeypatch)
    open_status(app)
    text = screen(app)
    assert "LIM 1 started" in text
    assert "sb1 did not answer (timed out): its events are missing" in text
    assert attributes_of(app, "sb1 did not answer") == {"alarm"}
    assert "Servers answering: lim1 yes, sb1 NO" in text


def test_unreadable_events_are_a_line_and_the_status_stands(app, monkeypatch):
    agents(history_error="sftp subsystem refused").install(monkeypatch)
    open_status(app)
    text = screen(app)
    assert "Recent events: cannot be read: sftp subsystem refused" in text
    assert "PAUSED (maintenance mode):" in text


def test_no_recent_events_says_none(app, monkeypatch):
    agents().install(monkeypatch)
    open_status(app)
    assert "Recent events (last hour): none" in screen(app)


def test_events_are_read_with_the_status_at_most_every_30_s(monkeypatch):
    from mxone_maintenance.core.config.system_file import parse_system
    fake = agents().install(monkeypatch)
    clock = [1000.0]
    memo = EventsMemo(clock=lambda: clock[0])
    system = parse_system(CLUSTERED)
    first = gather(system, None, memo)
    clock[0] += HISTORY_EVERY_S - 1
    second = gather(system, None, memo)
    assert len(fake.history_calls) == 1 and second.history is first.history
    clock[0] += 1
    gather(system, None, memo)
    assert fake.history_calls == [1000.0 - 3600, 1000.0 + HISTORY_EVERY_S - 3600]


# ---------------------------------------------------------------- Cluster history
def test_history_screen_shows_the_merged_history_newest_in_sight(app, monkeypatch):
    events = {"sb1": [takeover(300 - 2 * m, text=f"entry {m:02d}") for m in range(40)],
              "lim1": [new_event(EventKind.RELEASE, "lim1", "LIM 1 let go", lim=1, generation=1, at=NOW - 301 * 60)]}
    agents(events=events).install(monkeypatch)
    press(app, HISTORY)
    assert app.top.title == "Cluster history"
    text = screen(app)
    assert " ".join(event_text(events["sb1"][-1]).split()) in box_text(app)   # the newest, as the CLI prints it
    assert "entry 00" not in text and "↑ more above (PgUp)" in text
    assert attributes_of(app, "entry 39") == {"alarm"}
    for _ in range(12):
        press(app, "page up")
    text = box_text(app)
    assert "LIM 1 let go" in text and "entry 00" in text            # the oldest first, lim1's merged in
    assert text.index("LIM 1 let go") < text.index("entry 00")
    press(app, "enter")                                             # Back keeps the focus
    assert app.top.title == "MX-ONE maintenance"


def test_history_names_a_member_that_did_not_answer(app, monkeypatch):
    agents(statuses={"lim1": paused("lim1", (1,)), "sb1": None},
           events={"lim1": [takeover(5, "lim1", "LIM 1 started")]}).install(monkeypatch)
    press(app, HISTORY)
    text = box_text(app)
    assert "LIM 1 started" in text
    assert "NOT ANSWERING: sb1: timed out (its events are missing above)" in text
    assert attributes_of(app, "NOT ANSWERING: sb1") == {"alarm"}


def test_history_is_read_in_the_worker_and_a_failure_is_a_line():
    class Held(InlineRuntime):
        def submit(self, job, done, failed):
            self.pending = (job, done, failed)

    runtime = Held()
    history = HistoryScreen(lambda: None, runtime)
    drawn = "\n".join(row.decode() for row in history.render((78, 20), focus=True).text)
    assert "Reading every member's events…" in drawn
    _job, _done, failed = runtime.pending
    failed(OSError("no route to host"))
    drawn = "\n".join(row.decode() for row in history.render((78, 20), focus=True).text)
    assert "Cannot read the history: no route to host" in drawn
