"""The menus as a technician reads them: wording, order, hotkeys, reasons, back and quit (headless)."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import uitools
from helpers.uitools import attributes_of, box_text, press, screen

from mxone_maintenance.utility.ui.app import App
from mxone_maintenance.utility.ui.menu_screen import MenuScreen
from mxone_maintenance.utility.ui.screens import HelpScreen, NoticeScreen, QuestionScreen

SIZE = (80, 24)
SERVERS = """schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: lim2, address: 10.77.0.12/24, lim: 2}
  - {name: sb1,  address: 10.77.0.20/24, role: standby}
clusters: []
"""
CLUSTER_HANDLING = [
    "List all clusters", "Show status", "Create new cluster in system", "Change fallback type or priority",
    "Change failover behavior to preloaded", "Add a LIM to existing cluster", "Remove a LIM from existing cluster",
    "Delete cluster in system", "Move LIM from standby to regular server", "Lock LIM to server",
    "Unlock LIM from server", "Sync exchange data within cluster",
]


def make_app(tmp_path: Path, text: str | None = SERVERS) -> App:
    return uitools.make_app(tmp_path, text)


def menu_lines(app: App) -> list[str]:
    top = app.top
    assert isinstance(top, MenuScreen)
    return [row.text.text for row in top.entries]


def test_main_menu_items_in_order(tmp_path):
    app = make_app(tmp_path)
    assert menu_lines(app) == ["1  Server in system", "2  Standby server in system", "3  Cluster handling",
                               "4  Pause cluster (maintenance mode)", "5  Resume cluster", "6  Cluster history",
                               "7  Exit"]
    text = screen(app)
    assert "MX-ONE maintenance" in text and "Cluster handling" in text
    assert "q quit" in text and "F1 help" in text


def test_cluster_handling_items_wording_and_order(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    labels = [line[3:] for line in menu_lines(app)]
    assert labels == CLUSTER_HANDLING
    text = screen(app)
    for label in CLUSTER_HANDLING:
        assert label in text                       # every item is visible at 80x24


def test_submenus_of_servers_and_standby(tmp_path):
    app = make_app(tmp_path)
    press(app, "1")
    assert app.top.title == "Server in system"
    assert [line[3:] for line in menu_lines(app)] == ["List servers in system", "Add server to system",
                                                      "Remove server from system",
                                                      "Replace a server rebuilt on new hardware"]
    press(app, "esc", "2")
    assert app.top.title == "Standby server in system"


@pytest.mark.parametrize("item, reason", [
    ("2", "No cluster yet: create one first"),
    ("4", "No cluster yet: create one first"),
    ("6", "No cluster yet: create one first"),
    ("8", "No cluster yet: create one first"),
])
def test_unavailable_items_say_why_instead_of_opening(tmp_path, item, reason):
    app = make_app(tmp_path)
    press(app, "3", item)
    assert app.top.title == "Cluster handling"
    assert reason in screen(app)


def test_no_standby_and_no_free_lim_reasons(tmp_path):
    app = make_app(tmp_path, SERVERS.replace("  - {name: sb1,  address: 10.77.0.20/24, role: standby}\n", ""))
    press(app, "3", "3")
    assert "No standby server in the system" in screen(app)
    app = make_app(tmp_path, SERVERS.replace("lim: 1}", "role: free}").replace("lim: 2}", "role: free}"))
    press(app, "3", "3")
    assert "No free LIM server" in screen(app)


def test_digit_opens_item_and_escape_goes_back_one_level(tmp_path):
    app = make_app(tmp_path)
    press(app, "3", "3")
    assert app.top.title == "Create new cluster in system"
    press(app, "esc")
    assert app.top.title == "Cluster handling"
    press(app, "backspace")
    assert isinstance(app.top, MenuScreen) and app.top.title == "MX-ONE maintenance"


def test_every_item_has_its_key_beside_it_and_the_key_works(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    assert [line[:3] for line in menu_lines(app)] == [f"{key}  " for key in "123456789abc"]
    press(app, "b")                                 # item 11: no cluster yet, so it says why
    assert app.top.title == "Cluster handling" and app.top.focus_index == 10
    assert attributes_of(app, "b  Unlock LIM from server") == {"item off focus"}
    assert "No cluster yet" in screen(app)
    press(app, "1")
    assert app.top.title == "List all clusters"


def test_esc_on_the_main_menu_asks_to_leave_with_stay_focused(tmp_path):
    app = make_app(tmp_path)
    press(app, "esc")
    assert isinstance(app.top, QuestionScreen) and "Leave MX-ONE maintenance?" in box_text(app)
    assert attributes_of(app, "< Stay >") == {"button focus"} and attributes_of(app, "< Leave >") == {"button"}
    press(app, "enter")                             # Stay
    assert not app.exited and len(app.stack) == 1
    press(app, "esc", "esc")                        # Esc on the question is Stay too
    assert not app.exited and len(app.stack) == 1
    press(app, "esc", "right", "enter")
    assert app.exited


def test_q_leaves_and_exit_item_leaves(tmp_path):
    app = make_app(tmp_path)
    press(app, "3", "q")
    assert app.exited
    app = make_app(tmp_path)
    press(app, "7")
    assert app.exited


def test_help_overlay_from_f1_and_question_mark(tmp_path):
    app = make_app(tmp_path)
    press(app, "f1")
    assert isinstance(app.top, HelpScreen)
    assert "this help" in screen(app)
    press(app, "esc", "?")
    assert isinstance(app.top, HelpScreen)


def test_missing_system_file_is_a_screen_not_a_traceback(tmp_path):
    app = make_app(tmp_path, text=None)
    assert isinstance(app.top, NoticeScreen)
    assert "no such file" in screen(app)
    press(app, "enter", "3", "1")
    assert "no such file" in screen(app)


def test_invalid_system_file_shows_its_one_line_error(tmp_path):
    app = make_app(tmp_path, SERVERS.replace("10.77.0.12/24", "10.77.0.300/24"))
    text = screen(app)
    assert "Cannot read the system file" in text and "system.yaml:" in text


def test_works_at_larger_sizes(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    big = "\n".join(row.decode() for row in app.root.render((132, 50), focus=True).text)
    assert "Sync exchange data within cluster" in big


def test_backspace_in_a_form_only_deletes_text(tmp_path):
    app = make_app(tmp_path)
    press(app, "3", "3", "backspace", "backspace", "backspace", "tab", "backspace")
    assert app.top.title == "Create new cluster in system"
    assert app.top.name.text == ""
    app.top.submit()
    assert "! type the cluster name" in screen(app)
    press(app, "esc")                               # the name was deleted: leaving asks
    assert isinstance(app.top, QuestionScreen) and "Leave the form?" in box_text(app)
    press(app, "right", "enter")
    assert app.top.title == "Cluster handling"
