"""The action forms: inline validation by the command line's parsers, rule violations in plain words,
the plan screen, and apply with live progress and a result (apply_plan replaced by a fake)."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import uitools
from helpers.uitools import press, screen

from mxone_maintenance.utility.cli import Session
from mxone_maintenance.utility.ops import apply as apply_module
from mxone_maintenance.utility.ops.apply import ApplyResult
from mxone_maintenance.utility.ui.app import App
from mxone_maintenance.utility.ui.cluster_forms import CreateClusterForm
from mxone_maintenance.utility.ui.screens import PlanScreen, ProgressScreen, ResultScreen

SIZE = (80, 24)
SYSTEM = uitools.TWO_LIMS


def make_app(tmp_path: Path, text: str = SYSTEM) -> App:
    return uitools.make_app(tmp_path, text)


def type_text(app: App, text: str) -> None:
    press(app, *text)


def open_create(app: App) -> CreateClusterForm:
    press(app, "3", "3")
    assert isinstance(app.top, CreateClusterForm)
    return app.top


def focus_on(app: App, caption: str) -> None:
    """Move down with Tab until the focused row shows CAPTION (as a technician would)."""
    for _ in range(40):
        if caption in _focused_text(app):
            return
        press(app, "tab")
    raise AssertionError(f"no field {caption!r}")


def _focused_text(app: App) -> str:
    widget = app.top.listbox.focus
    return "\n".join(row.decode() for row in widget.render((76,), focus=True).text)


def tick_lim(app: App, n: int) -> None:
    focus_on(app, f"LIM {n} on lim{n}")
    press(app, " ")


def fill_lim(app: App, n: int, base: str, priority: str | None = None) -> None:
    tick_lim(app, n)
    press(app, "tab")
    type_text(app, base)
    if priority is not None:
        press(app, "tab", *["backspace"] * 3)
        type_text(app, priority)


def submit(app: App) -> None:
    app.top.submit()


def test_create_form_without_a_lim_says_so(tmp_path):
    app = make_app(tmp_path)
    open_create(app)
    submit(app)
    text = screen(app)
    assert "! Choose at least one LIM" in text
    assert "Not yet: choose at least one LIM." in text


def test_bad_address_message_under_the_field_when_leaving_it(tmp_path):
    app = make_app(tmp_path)
    open_create(app)
    fill_lim(app, 1, "10.77.0.999")
    press(app, "tab")                                    # leaving the field checks it
    text = screen(app)
    assert "! new base address" in text and "10.77.0.999" in text
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "New base address" in line)
    assert "! new base address" in lines[at + 1]           # right under the field
    press(app, "shift tab", *["backspace"] * 3, *"111")     # fixed: the message goes away as you type
    assert "! new base address" not in screen(app)


def test_bad_priority_message(tmp_path):
    app = make_app(tmp_path)
    open_create(app)
    fill_lim(app, 1, "10.77.0.111", "abc")
    submit(app)
    assert "! priority of LIM 1 must be a whole number (got 'abc')" in screen(app)
    assert not isinstance(app.top, PlanScreen)


def test_empty_base_address_and_bad_seconds(tmp_path):
    app = make_app(tmp_path)
    form = open_create(app)
    tick_lim(app, 2)
    form.detect.set_text("0.1")
    submit(app)
    text = screen(app)
    assert "type the new base address of LIM 2" in text
    assert "detection time must be from 0.3 to 3600 seconds (got 0.1)" in text


def test_create_plan_text_from_the_system_file(tmp_path):
    app = make_app(tmp_path)
    open_create(app)
    fill_lim(app, 1, "10.77.0.111")
    fill_lim(app, 2, "10.77.0.112", "2")
    submit(app)
    assert isinstance(app.top, PlanScreen)
    text = screen(app)
    assert "Plan: create cluster c1: LIM 1, 2 with standby sb1" in text
    assert "lim1 (10.77.0.11):" in text
    assert "add base address 10.77.0.111/24 on eth0" in text
    assert "< Apply >" in text and "< Back >" in text
    lines = app.top.proposal.plan.lines()
    assert app.top.proposal.plan.after.cluster("c1").lim(2).priority == 2
    assert lines[0] == "Plan: create cluster c1: LIM 1, 2 with standby sb1"
    press(app, "esc")                                    # Back keeps what was typed
    assert isinstance(app.top, CreateClusterForm) and app.top.bases[1].text == "10.77.0.111"


def test_rule_violation_is_shown_on_the_form(tmp_path):
    app = make_app(tmp_path)
    open_create(app)
    fill_lim(app, 1, "10.77.0.12")                        # lim2's address: not unused
    submit(app)
    assert not isinstance(app.top, PlanScreen)
    text = screen(app)
    assert "10.77.0.12" in text
    assert app.top.message.text                            # one line in plain words, no traceback


def test_apply_shows_progress_per_server_then_done(tmp_path, monkeypatch):
    seen = {}

    def fake_apply(plan, paths, system_file, settings, progress, **_options):
        progress("lim1", "staged")
        progress("sb1", "staged")
        seen["progress"] = screen(app)
        return ApplyResult(True, plan.title, {"lim1": "committed", "sb1": "committed"})

    monkeypatch.setattr(apply_module, "apply_plan", fake_apply)
    monkeypatch.setattr(Session, "ssh_settings", lambda self: None)
    app = make_app(tmp_path)
    open_create(app)
    fill_lim(app, 1, "10.77.0.111")
    submit(app)
    focus_on_apply = app.top
    assert isinstance(focus_on_apply, PlanScreen)
    press(app, "left", "enter")                          # ← to Apply: Back has the focus
    assert "lim1         staged" in seen["progress"] and "sb1          staged" in seen["progress"]
    assert isinstance(app.top, ResultScreen)
    text = screen(app)
    assert "Done: create cluster c1" in text and "lim1: committed" in text
    press(app, "enter")
    assert app.top.title == "Cluster handling"


def test_failed_apply_names_the_server_and_nothing_changed(tmp_path, monkeypatch):
    def fake_apply(plan, paths, system_file, settings, progress, **_options):
        return ApplyResult(False, "lim1: not enough free disk; nothing was changed", {}, "lim1")

    monkeypatch.setattr(apply_module, "apply_plan", fake_apply)
    monkeypatch.setattr(Session, "ssh_settings", lambda self: None)
    app = make_app(tmp_path)
    open_create(app)
    fill_lim(app, 1, "10.77.0.111")
    submit(app)
    press(app, "left", "enter")                          # ← to Apply
    text = screen(app)
    assert "FAILED: lim1: not enough free disk; nothing was changed" in text


def test_quit_while_applying_asks(tmp_path):
    app = make_app(tmp_path)
    app.push(ProgressScreen("Create new cluster in system", ["lim1", "sb1"]))
    press(app, "q")
    assert not app.exited and "Leave anyway?" in screen(app)
    press(app, "enter")                                  # the focus is on "Stay"
    assert not app.exited and isinstance(app.top, ProgressScreen)
    press(app, "esc")                                    # Esc waits for the result too
    assert isinstance(app.top, ProgressScreen) and "wait for the result" in screen(app)


CLUSTERED = uitools.with_lim1_clustered(lock="null")


def test_change_form_nothing_to_change_and_a_priority(tmp_path):
    app = make_app(tmp_path, CLUSTERED)
    press(app, "3", "4")
    assert app.top.title == "Change fallback type or priority"
    submit(app)
    assert "nothing to change: cluster c1 already has these settings" in screen(app)
    focus_on(app, "Priority of LIM 1")
    press(app, "backspace", "1")
    submit(app)
    assert "Plan: change cluster c1: LIM 1 priority 1" in screen(app)


@pytest.mark.parametrize("item, title", [
    ("5", "Change failover behavior to preloaded"), ("6", "Add a LIM to existing cluster"),
    ("7", "Remove a LIM from existing cluster"), ("8", "Delete cluster in system"),
    ("9", "Move LIM from standby to regular server"), ("a", "Lock LIM to server"),
])
def test_every_cluster_form_reaches_its_plan_without_ssh(tmp_path, monkeypatch, item, title):
    monkeypatch.setattr(Session, "ssh_settings", lambda self: pytest.fail("no SSH before Apply"))
    app = make_app(tmp_path, CLUSTERED)
    press(app, "3", item)
    assert app.top.title == title
    if item == "6":
        focus_on(app, "New base address")
        type_text(app, "10.77.0.112")
    submit(app)
    assert isinstance(app.top, PlanScreen), screen(app)
    assert "Plan: " in screen(app)


def test_sync_and_list(tmp_path):
    app = make_app(tmp_path, CLUSTERED)
    press(app, "3", "1")
    assert "Cluster c1 (generation 1)" in screen(app)
    press(app, "esc", "c")                               # c: item 12, Sync
    assert app.top.title == "Sync exchange data within cluster"
    submit(app)
    assert "Plan: sync exchange data within cluster c1" in screen(app)


def test_add_server_form_checks_the_address(tmp_path):
    app = make_app(tmp_path)
    press(app, "1", "2")
    type_text(app, "lim3")
    press(app, "tab")
    type_text(app, "10.77.0.13")
    submit(app)
    assert "server address" in screen(app) and "'10.77.0.13'" in screen(app)
    type_text(app, "/24")
    focus_on(app, "LIM number")
    type_text(app, "3")
    submit(app)
    assert "Plan: add server lim3 (10.77.0.13/24, LIM 3)" in screen(app)
