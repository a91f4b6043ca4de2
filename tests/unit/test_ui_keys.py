"""The key table: no clashes, the help lists every binding, the footer shows the keys; the palette
has a monochrome setting for every entry."""
from __future__ import annotations

import urwid

from mxone_maintenance.utility.ui import keys
from mxone_maintenance.utility.ui.palette import PALETTE
from mxone_maintenance.utility.ui.screens import HelpScreen


def test_no_key_is_bound_twice_on_one_screen():
    assert keys.clashes() == []


def test_every_command_has_keys_and_help():
    assert {b.command for b in keys.BINDINGS} == set(keys.Command)
    for item in keys.BINDINGS:
        assert item.keys and item.help and item.short


def test_item_keys_leave_out_the_keys_of_other_commands():
    assert keys.ITEM_KEYS[:12] == tuple("123456789abc")
    assert "q" not in keys.ITEM_KEYS and "?" not in keys.ITEM_KEYS
    assert keys.command_for("q", "menu") == keys.Command.QUIT
    assert keys.command_for("c", "menu") == keys.Command.ITEM
    assert keys.command_for("c", "form") is None


def test_quit_and_help_have_a_key_that_works_in_a_text_field_too():
    for key, command in (("f10", keys.Command.QUIT), ("f1", keys.Command.HELP), ("q", keys.Command.QUIT),
                         ("?", keys.Command.HELP)):
        for context in ("menu", "form", "view", "choice", "status"):
            assert keys.command_for(key, context) == command, (key, context)


def test_help_overlay_lists_every_binding():
    text = "\n".join(row.decode() for row in HelpScreen().render((76, 40)).text)
    for item in keys.BINDINGS:
        assert item.help[:40] in text.replace("\n", " ") or item.help[:30] in text
    for shown in ("Esc", "Backspace", "Enter", "F1", "F10", "q Q", "Tab", "← →"):
        assert shown in text
    assert "a letter in a text field" in text.replace("\n", " ")


def test_footer_shows_the_keys():
    footer = keys.footer_text("menu")
    for part in ("Enter", "Esc back", "q quit", "F1 help", "1-9"):
        assert part in footer
    form = keys.footer_text("form")
    assert "Tab" in form and "F10 quit" in form and "q quit" not in form     # q is a letter in a field
    assert "←→ button" in keys.footer_text("choice") and "q quit" in keys.footer_text("choice")


def test_every_palette_entry_has_a_mono_setting_urwid_accepts():
    names = [entry[0] for entry in PALETTE]
    assert len(names) == len(set(names))
    screen = urwid.display.raw.Screen()
    screen.register_palette(PALETTE)
    for name, _fg, _bg, mono, *_ in PALETTE:
        assert mono, name
        urwid.AttrSpec(mono, "default", colors=1)          # raises on a bad monochrome setting


def _attributes(widget, size) -> set[str]:
    found = set()
    for row in widget.render(size, focus=True).content():
        for attr, _cs, _text in row:
            found |= set(getattr(attr, "layers", (attr,))) - {None}
    return found


def test_every_attribute_on_screen_is_in_the_palette(tmp_path):
    from test_ui_forms import fill_lim, make_app, press
    from test_ui_status import report

    from mxone_maintenance.utility.ui.screens import ResultScreen
    from mxone_maintenance.utility.ui.status_screen import StatusScreen
    from mxone_maintenance.utility.ui.worker import InlineRuntime

    names = {entry[0] for entry in PALETTE}
    app = make_app(tmp_path)
    seen = _attributes(app.root, (80, 24))
    press(app, "3", "2")
    seen |= _attributes(app.root, (80, 24))
    press(app, "3")
    fill_lim(app, 1, "bad")
    app.top.submit()
    seen |= _attributes(app.root, (80, 24))
    app.top.bases[1].set_text("10.77.0.111")
    app.top.submit()
    seen |= _attributes(app.root, (80, 24))
    for widget in (HelpScreen(), ResultScreen("x", False, "lim1: down", {"lim1": "FAILED"}, "lim1"),
                   ResultScreen("x", True, "ok"), StatusScreen(lambda: report("sb1"), InlineRuntime())):
        seen |= _attributes(widget, (80, 24))
    assert seen - names == set()
    assert {"error", "item focus", "plan title", "header", "footer"} <= seen
