"""The menus and an interrupted change (its journal beside system.yaml): the line naming it at the top of
Cluster handling, Finish and Undo (their plans, applied with the journal), every other item that changes
configuration unusable until then, and a damaged journal shown as its one line (apply_plan is a fake)."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import uitools
from helpers.uitools import attributes_of, box_text, press, screen

from mxone_maintenance.core import config
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.cli import Session
from mxone_maintenance.utility.ops import apply as apply_module
from mxone_maintenance.utility.ops.apply import ApplyResult
from mxone_maintenance.utility.ops.cluster_keys import key_file
from mxone_maintenance.utility.ops.journal import Journal, clear_journal, journal_path, write_journal
from mxone_maintenance.utility.ui.app import App
from mxone_maintenance.utility.ui.menu_screen import MenuScreen
from mxone_maintenance.utility.ui.screens import PlanScreen, ResultScreen

BEFORE = """schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: lim2, address: 10.77.0.12/24, lim: 2}
  - {name: sb1,  address: 10.77.0.20/24, role: standby}
clusters:
  - schema: 1
    cluster: c1
    generation: 1
    fallback: automatic
    failover: normal
    detect_s: 60
    heartbeat_s: 1
    port: 7400
    interface: eth0
    standby: {server: sb1, base: 10.77.0.20/24}
    lims:
      - {lim: 1, server: lim1, base: 10.77.0.111/24, alias: 10.77.0.11/24, priority: 5, lock: null}
"""
AFTER = BEFORE.replace("generation: 1", "generation: 2").replace(
    "priority: 5, lock: null}\n",
    "priority: 5, lock: null}\n      - {lim: 2, server: lim2, base: 10.77.0.112/24, alias: 10.77.0.12/24, "
    "priority: 5, lock: null}\n")
TITLE = "add LIM 2 to cluster c1"
NOTICE = "Interrupted change: add LIM 2 to cluster c1 (cluster add-lim, started "
BLOCKED = "an interrupted change must be finished or undone first"
CHANGING = {"3": "Create new cluster in system", "4": "Change fallback type or priority",
            "5": "Change failover behavior to preloaded", "6": "Add a LIM to existing cluster",
            "7": "Remove a LIM from existing cluster", "8": "Delete cluster in system", "a": "Lock LIM to server"}
STILL_USABLE = ["List all clusters", "Show status", "Move LIM from standby to regular server",
                "Sync exchange data within cluster"]
RECOVERY = ["Finish the interrupted change", "Undo the interrupted change"]


def make_app(tmp_path: Path, journal: bool = True) -> App:
    app = uitools.make_app(tmp_path, BEFORE)
    if journal:
        write_journal(tmp_path / "system.yaml", the_journal())
    key = key_file(Paths(tmp_path / "root"), "c1")           # the key of c1 kept on LIM 1 (add-lim needs it)
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(b"k" * 64 + b"\n")
    return app


def the_journal() -> Journal:
    return Journal(action="cluster add-lim", title=TITLE, user="root", since=1_700_000_000.0,
                   before=config.parse_system(BEFORE), after=config.parse_system(AFTER), secrets={})


def labels(app: App) -> list[str]:
    assert isinstance(app.top, MenuScreen)
    return [row.item.label for row in app.top.entries]


def go_to(app: App, label: str) -> None:
    """Move the focus down to LABEL (as a technician would with ↓)."""
    press(app, *["up"] * 20)
    for _ in range(20):
        if app.top.entries[app.top.focus_index].item.label == label:
            return
        press(app, "down")
    raise AssertionError(f"no item {label!r}")


@pytest.fixture
def fake_ssh(monkeypatch):
    monkeypatch.setattr(Session, "ssh_settings", lambda self: None)


# ---------------------------------------------------------------- the menu


def test_without_a_journal_no_line_and_no_recovery_items(tmp_path):
    app = make_app(tmp_path, journal=False)
    press(app, "3")
    text = screen(app)
    assert "Interrupted change" not in text and "interrupted" not in text
    assert not set(RECOVERY) & set(labels(app))
    press(app, "4")                                         # Change fallback type or priority opens
    assert app.top.title == "Change fallback type or priority"


def test_the_line_names_the_change_and_says_to_finish_or_undo_it(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    text = box_text(app)
    assert text.startswith(NOTICE)                           # at the top, above the items
    assert "by root). Finish it or undo it before any other change." in text
    assert "warning" in attributes_of(app, "Interrupted change:")
    assert labels(app)[-2:] == RECOVERY
    for label in labels(app):
        assert label in text                                 # the whole menu fits at 80x24


def test_other_changing_items_are_unusable_with_the_reason(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    for key, label in CHANGING.items():
        assert attributes_of(app, label) == {"item off"}, label
        press(app, key)                                       # its number does not open it
        assert app.top.title == "Cluster handling"
        assert BLOCKED in box_text(app), label
    go_to(app, "Unlock LIM from server")
    assert BLOCKED in box_text(app)
    for label in STILL_USABLE + RECOVERY:
        assert attributes_of(app, label) <= {"item", "item focus"}, label


def test_orders_and_status_stay_usable(tmp_path):
    app = make_app(tmp_path)
    press(app, "3", "9")
    assert app.top.title == "Move LIM from standby to regular server"
    press(app, "esc")
    go_to(app, "Sync exchange data within cluster")
    press(app, "enter")
    assert app.top.title == "Sync exchange data within cluster"
    press(app, "esc", "1")
    assert "Cluster c1 (generation 1)" in screen(app)
    press(app, "esc")
    go_to(app, "Show status")
    assert BLOCKED not in box_text(app)


def test_changing_items_of_the_other_menus_are_unusable_too(tmp_path):
    app = make_app(tmp_path)
    press(app, "1", "2")
    assert app.top.title == "Server in system" and BLOCKED in box_text(app)
    press(app, "1")
    assert app.top.title == "List servers in system"
    press(app, "esc", "esc", "2", "2")
    assert app.top.title == "Standby server in system" and BLOCKED in box_text(app)
    assert "Interrupted change" not in screen(app)           # the line is in Cluster handling only


def test_the_items_go_when_the_change_is_finished(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    assert labels(app)[-2:] == RECOVERY
    clear_journal(tmp_path / "system.yaml")
    press(app, "1", "esc")                                  # back from a list: the menu looks again
    assert not set(RECOVERY) & set(labels(app))
    assert "Interrupted change" not in screen(app)
    press(app, "4")
    assert app.top.title == "Change fallback type or priority"


def test_a_damaged_journal_is_its_one_line_and_nothing_crashes(tmp_path):
    app = make_app(tmp_path, journal=False)
    journal_path(tmp_path / "system.yaml").write_text("{not json")
    press(app, "3")
    text = box_text(app)
    assert "the change journal" in text and "is damaged" in text and "remove it by hand" in text
    assert "error" in attributes_of(app, "the change journal")
    assert not set(RECOVERY) & set(labels(app))
    press(app, "3")                                          # a change cannot open: apply would refuse it
    assert app.top.title == "Cluster handling"
    assert "the change journal cannot be read: see the line at the top of Cluster handling" in box_text(app)
    press(app, "1")
    assert app.top.title == "List all clusters"


# ---------------------------------------------------------------- finish and undo


def test_finish_shows_its_plan_and_applies_it_with_the_journal(tmp_path, monkeypatch, fake_ssh):
    calls = []

    def fake_apply(plan, paths, system_file, settings, progress, **options):
        calls.append((plan, options))
        progress("lim2", "committed")
        seen["progress"] = screen(app)
        clear_journal(system_file)
        return ApplyResult(True, plan.title, {"lim2": "committed", "lim1": "committed", "sb1": "committed"})

    seen: dict = {}
    monkeypatch.setattr(apply_module, "apply_plan", fake_apply)
    app = make_app(tmp_path)
    press(app, "3", "d")                                     # d: item 13, Finish
    assert isinstance(app.top, PlanScreen)
    text = screen(app)
    assert "Plan: finish the interrupted change: add LIM 2 to cluster c1" in text
    assert "lim2 (10.77.0.12):" in text and "< Apply >" in text
    press(app, "left", "enter")                              # ← to Apply: Back has the focus
    (plan, options), = calls
    assert plan.title.startswith("finish the interrupted change")
    assert options["recovering"] == the_journal() and options["allow_down"] == frozenset()
    assert "Applying" in seen["progress"] and "lim2         committed" in seen["progress"]
    assert isinstance(app.top, ResultScreen)
    assert "Done: finish the interrupted change: add LIM 2 to cluster c1" in screen(app)
    press(app, "enter")
    assert app.top.title == "Cluster handling" and not set(RECOVERY) & set(labels(app))


def test_finish_after_the_change_was_finished_elsewhere_says_so(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    clear_journal(tmp_path / "system.yaml")                 # e.g. `cluster finish` on another terminal
    press(app, "d")
    assert "There is no interrupted change any more: it was finished or undone meanwhile." in box_text(app)
    press(app, "enter")
    assert app.top.title == "Cluster handling" and not set(RECOVERY) & set(labels(app))


def test_undo_shows_its_plan(tmp_path, monkeypatch, fake_ssh):
    calls = []
    monkeypatch.setattr(apply_module, "apply_plan", lambda plan, *a, **kw: calls.append(kw) or
                        ApplyResult(True, plan.title))
    app = make_app(tmp_path)
    press(app, "3")
    go_to(app, "Undo the interrupted change")
    press(app, "enter")
    text = screen(app)
    assert "Plan: undo the interrupted change: add LIM 2 to cluster c1" in text
    assert "cluster c1 at generation 3" in "\n".join(app.top.proposal.plan.lines())
    press(app, "left", "enter")                              # ← to Apply
    assert calls[0]["recovering"] == the_journal()
    assert "Done: undo the interrupted change" in screen(app)


def test_finish_that_cannot_get_the_cluster_key_says_nothing_was_changed(tmp_path, monkeypatch, fake_ssh):
    monkeypatch.setattr(apply_module, "apply_plan", lambda *a, **kw: pytest.fail("applied without the key"))
    from mxone_maintenance.utility.ui import interrupted
    monkeypatch.setattr(interrupted, "cluster_key", lambda *a: (_ for _ in ()).throw(
        OSError("sb1: connection refused")))
    app = make_app(tmp_path)
    press(app, "3", "d", "left", "enter")
    assert "FAILED: sb1: connection refused; nothing was changed" in screen(app)
