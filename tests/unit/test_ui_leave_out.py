"""A member down during a change: when apply refuses because a server does not answer and its part can
wait (ApplyResult.can_leave_out), the menus ask whether to apply without it, No focused; No changes
nothing, Yes applies again with that server allowed down (apply_plan is a fake)."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import uitools
from helpers.uitools import attributes_of, box_text, press, screen

from mxone_maintenance.utility.cli import Session
from mxone_maintenance.utility.ops import apply as apply_module
from mxone_maintenance.utility.ops.apply import ApplyResult
from mxone_maintenance.utility.ui.app import App
from mxone_maintenance.utility.ui.screens import PlanScreen, QuestionScreen, ResultScreen

SYSTEM = """schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: lim2, address: 10.77.0.12/24, lim: 2}
  - {name: sb1,  address: 10.77.0.20/24, role: standby}
clusters:
  - schema: 1
    cluster: c1
    generation: 4
    fallback: automatic
    failover: normal
    detect_s: 60
    heartbeat_s: 1
    port: 7400
    interface: eth0
    standby: {server: sb1, base: 10.77.0.20/24}
    lims:
      - {lim: 1, server: lim1, base: 10.77.0.111/24, alias: 10.77.0.11/24, priority: 5, lock: null}
      - {lim: 2, server: lim2, base: 10.77.0.112/24, alias: 10.77.0.12/24, priority: 5, lock: null}
"""
QUESTION = "lim2 does not answer. Apply without it? It takes generation 5 from its peers when it is back."


def down(server: str) -> ApplyResult:
    return ApplyResult(False, f"{server}: connection refused; nothing was changed", {}, server, can_leave_out=True)


class FakeApply:
    """apply_plan answering from a list of results; records what each call allowed down."""

    def __init__(self, *results: ApplyResult) -> None:
        self.results = list(results)
        self.allowed: list[frozenset[str]] = []
        self.recovering: list = []

    def __call__(self, plan, paths, system_file, settings, progress, allow_down=frozenset(), recovering=None):
        self.allowed.append(allow_down)
        self.recovering.append(recovering)
        return self.results.pop(0)


@pytest.fixture
def fake_ssh(monkeypatch):
    monkeypatch.setattr(Session, "ssh_settings", lambda self: None)


def install(monkeypatch, *results: ApplyResult) -> FakeApply:
    fake = FakeApply(*results)
    monkeypatch.setattr(apply_module, "apply_plan", fake)
    return fake


def applied_priority_change(tmp_path: Path) -> App:
    """Change LIM 1's priority to 1 and choose Apply on its plan."""
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "3", "4")
    for _ in range(20):
        if "Priority of LIM 1" in _focused(app):
            break
        press(app, "tab")
    press(app, "end", "backspace", "1")
    app.top.submit()
    assert isinstance(app.top, PlanScreen), screen(app)
    assert "Plan: change cluster c1: LIM 1 priority 1 " in screen(app)
    press(app, "left", "enter")                              # ← to Apply: Back has the focus
    return app


def _focused(app: App) -> str:
    return "\n".join(row.decode() for row in app.top.listbox.focus.render((76,), focus=True).text)


def test_a_silent_member_whose_part_can_wait_is_a_question_with_no_focused(tmp_path, monkeypatch, fake_ssh):
    install(monkeypatch, down("lim2"))
    app = applied_priority_change(tmp_path)
    assert isinstance(app.top, QuestionScreen)
    assert QUESTION in box_text(app)
    assert "< No >" in screen(app) and "< Yes >" in screen(app)
    assert "button focus" in attributes_of(app, "< No >")
    assert "button focus" not in attributes_of(app, "< Yes >")
    assert "FAILED" not in screen(app)


def test_no_applies_nothing(tmp_path, monkeypatch, fake_ssh):
    fake = install(monkeypatch, down("lim2"))
    app = applied_priority_change(tmp_path)
    press(app, "enter")                                      # No, the focused answer
    assert isinstance(app.top, ResultScreen)
    assert "Not applied: nothing was changed." in screen(app) and "FAILED" not in screen(app)
    assert fake.allowed == [frozenset()]                     # asked once, never again
    press(app, "enter")
    assert app.top.title == "Cluster handling"


def test_escape_is_no(tmp_path, monkeypatch, fake_ssh):
    fake = install(monkeypatch, down("lim2"))
    app = applied_priority_change(tmp_path)
    press(app, "esc")
    assert "Not applied: nothing was changed." in screen(app)
    assert fake.allowed == [frozenset()]


def test_yes_applies_again_without_that_server(tmp_path, monkeypatch, fake_ssh):
    fake = install(monkeypatch, down("lim2"),
                   ApplyResult(True, "change cluster c1: LIM 1 priority 1",
                               {"lim1": "committed", "sb1": "committed",
                                "lim2": "not answering: takes generation 5 from its peers when it is back"}))
    app = applied_priority_change(tmp_path)
    press(app, "right", "enter")                             # Yes
    assert fake.allowed == [frozenset(), frozenset({"lim2"})]
    assert fake.recovering == [None, None]
    assert isinstance(app.top, ResultScreen)
    text = screen(app)
    assert "Done: change cluster c1: LIM 1 priority 1" in text
    assert "lim2: not answering: takes generation 5 from its peers when it is back" in text


def test_a_second_silent_server_is_asked_about_too(tmp_path, monkeypatch, fake_ssh):
    fake = install(monkeypatch, down("lim2"), down("sb1"), ApplyResult(True, "change cluster c1: LIM 1 priority 1"))
    app = applied_priority_change(tmp_path)
    press(app, "right", "enter")
    assert isinstance(app.top, QuestionScreen)
    assert QUESTION.replace("lim2", "sb1") in box_text(app)
    assert "button focus" in attributes_of(app, "< No >")
    press(app, "right", "enter")
    assert fake.allowed == [frozenset(), frozenset({"lim2"}), frozenset({"lim2", "sb1"})]
    assert "Done: change cluster c1: LIM 1 priority 1" in screen(app)


def test_a_refusal_that_cannot_leave_the_server_out_is_shown_as_it_is(tmp_path, monkeypatch, fake_ssh):
    fake = install(monkeypatch, ApplyResult(False, "lim2: connection refused; nothing was changed", {}, "lim2"))
    app = applied_priority_change(tmp_path)
    assert isinstance(app.top, ResultScreen)
    assert "FAILED: lim2: connection refused; nothing was changed" in screen(app)
    assert fake.allowed == [frozenset()]
