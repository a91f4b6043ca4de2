"""Other terminals than 80x24 in UTF-8: a small one (60x20), a big one (132x43), one in LANG=C (the ASCII
look), and one that goes away (ssh dropped) while the menus are open."""
from __future__ import annotations

import pytest
import urwid
from helpers import uitools
from helpers.uitools import press, rows, screen
from test_ui_navigation import CLUSTERED, SYSTEM

from mxone_maintenance.utility.ui import app as app_module
from mxone_maintenance.utility.ui import look
from mxone_maintenance.utility.ui.app import run_menus
from mxone_maintenance.utility.ui.terminal import ui_log_path

SMALL, BIG = (60, 20), (132, 43)


def assert_box_closed(shown: list[str]) -> None:
    """The top box's bottom edge is drawn just above the footer, or higher."""
    assert any("└" in row and "┘" in row for row in shown[1:-1]), "\n".join(shown)


@pytest.mark.parametrize("keys", [(), ("3",), ("3", "3"), ("f1",)], ids=["main", "cluster", "form", "help"])
def test_at_60x20_the_footer_is_one_row_with_quit_and_help(tmp_path, keys):
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, *keys, size=SMALL)
    shown = rows(app, SMALL)
    assert len(shown) == 20 and all(len(row) == 60 for row in shown)
    assert "quit" in shown[-1] and "F1 help" in shown[-1] and "Esc back" in shown[-1]
    assert_box_closed(shown)


def test_at_60x20_the_help_scrolls_to_its_end(tmp_path):
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "f1", size=SMALL)
    assert "more below (PgDn)" in screen(app, SMALL) and "Esc closes this help." not in screen(app, SMALL)
    press(app, "page down", "page down", "page down", size=SMALL)
    assert "Esc closes this help." in screen(app, SMALL) and "more above (PgUp)" in screen(app, SMALL)
    assert_box_closed(rows(app, SMALL))


def test_at_132x43_the_plan_buttons_follow_the_plan(tmp_path):
    app = uitools.make_app(tmp_path, CLUSTERED)
    press(app, "3", "8", size=BIG)
    app.top.submit()
    shown = rows(app, BIG)
    last = next(i for i, row in enumerate(shown) if "System file: cluster c1 removed" in row)
    assert "Nothing has changed yet" in shown[last + 2] and "< Apply >  < Back >" in shown[last + 3]
    assert "more below" not in "\n".join(shown)


def test_a_wrapped_plan_line_keeps_its_indent_at_80_columns(tmp_path):
    app = uitools.make_app(tmp_path, CLUSTERED)
    press(app, "3", "8")
    app.top.submit()
    shown = rows(app)
    at = next(i for i, row in enumerate(shown) if "- boot with 10.77.0.11/24 on eth0" in row)
    assert shown[at + 1].startswith("│      10.77.0.111/24)")


def non_ascii(text: str) -> set[str]:
    return {char for char in text if ord(char) > 127}


def test_the_ascii_look_draws_menus_and_plan_in_plain_ascii(tmp_path):
    app = uitools.make_app(tmp_path, CLUSTERED, drawn=look.ASCII)
    assert non_ascii(screen(app)) == set() and "+--" in screen(app) and "|1  Server in system" in screen(app)
    press(app, "3", "8")
    assert non_ascii(screen(app)) == set() and " > " in rows(app)[0]
    app.top.submit()
    shown = screen(app)
    assert non_ascii(shown) == set(), non_ascii(shown)
    assert "Apply (<-, then Enter)" in shown and "v more below (PgDn)" in shown and "<- -> button" in shown
    press(app, "f1")
    assert non_ascii(screen(app)) == set()


@pytest.mark.parametrize("environ, ascii", [
    ({"LANG": "C"}, True), ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, True), ({}, True),
    ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, True),         # Python's own coercion over LANG=C (PEP 538)
    ({"LANG": "C.UTF-8"}, False), ({"LANG": "en_US.utf8"}, False), ({"LC_ALL": "sv_SE.UTF-8", "LANG": "C"}, False),
])
def test_the_look_follows_the_locale_the_technician_set(environ, ascii):
    assert look.from_environ(environ).ascii is ascii


@pytest.mark.parametrize("gone", [urwid.InputClosedError(), EOFError(), OSError(5, "Input/output error")])
def test_a_closed_terminal_ends_the_menus_quietly_with_one_line_in_the_log(tmp_path, monkeypatch, capfd, gone):
    def run(_loop):
        raise gone

    monkeypatch.setattr(urwid.MainLoop, "run", run)
    monkeypatch.setattr(app_module, "leave_process", lambda code: code)
    session = uitools.make_session(tmp_path, SYSTEM)
    assert run_menus(session) == 1
    log = ui_log_path(session.paths).read_text()
    assert log.count("terminal closed") == 1 and "Traceback" not in log and "menus closed" in log
    captured = capfd.readouterr()
    assert captured.err == "" and "Traceback" not in captured.out
    look.use(look.UNICODE)


def test_any_other_error_is_still_raised(tmp_path, monkeypatch):
    def run(_loop):
        raise ValueError("a bug")

    monkeypatch.setattr(urwid.MainLoop, "run", run)
    monkeypatch.setattr(app_module, "leave_process", lambda code: code)
    with pytest.raises(ValueError):
        run_menus(uitools.make_session(tmp_path, SYSTEM))
    look.use(look.UNICODE)
