"""What a technician sees in each colour mode a terminal may have (monochrome, 16, 256, 24-bit): the
focus, an item that cannot be used now and an error each look different from a plain item, resolved
through the palette the way the screen resolves them."""
from __future__ import annotations

import pytest
from helpers import uitools
from helpers.uitools import looks_of, press
from test_ui_forms import fill_lim

from mxone_maintenance.utility.ui.palette import PALETTE

SERVERS = """schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: sb1,  address: 10.77.0.20/24, role: standby}
clusters: []
"""
MODES = [1, 16, 256, 2**24]
PLAIN = ("default", "default")


def one_look(app, text: str, colors: int) -> tuple[str, str]:
    looks = looks_of(app, text, colors)
    assert len(looks) == 1, (text, looks)
    return looks.pop()


@pytest.mark.parametrize("colors", MODES)
def test_focus_dimmed_item_and_error_look_different_in_every_colour_mode(tmp_path, colors):
    app = uitools.make_app(tmp_path, SERVERS)
    press(app, "3")                                     # Cluster handling, "List all clusters" focused
    focused = one_look(app, "List all clusters", colors)
    usable = one_look(app, "Create new cluster in system", colors)
    unusable = one_look(app, "Show status", colors)     # no cluster yet
    (tmp_path / "broken").mkdir()
    broken = uitools.make_app(tmp_path / "broken", SERVERS.replace("10.77.0.11/24", "10.77.0.300/24"))
    error = one_look(broken, "system.yaml:", colors)    # the notice that the system file cannot be read
    assert len({focused, usable, unusable, error}) == 4, (focused, usable, unusable, error)
    if colors > 1:                                      # a colour of its own, never the terminal's default
        assert PLAIN not in {focused, unusable, error} and "default" not in focused[1]


@pytest.mark.parametrize("colors", MODES)
def test_the_focus_on_an_unusable_item_shows_both(tmp_path, colors):
    app = uitools.make_app(tmp_path, SERVERS)
    press(app, "3")
    focused_usable = one_look(app, "List all clusters", colors)
    unusable = one_look(app, "Show status", colors)
    press(app, "down")
    focused_unusable = one_look(app, "Show status", colors)
    assert len({focused_usable, unusable, focused_unusable}) == 3


def test_monochrome_uses_reverse_for_focus_faint_for_unusable_and_underline_for_errors(tmp_path):
    app = uitools.make_app(tmp_path, SERVERS)
    press(app, "3")
    assert "standout" in one_look(app, "List all clusters", 1)[0]
    assert "faint" in one_look(app, "Show status", 1)[0]
    press(app, "3")
    app.top.submit()                                    # no LIM ticked: the form's message
    assert {"bold", "underline"} <= set(one_look(app, "! Choose at least one LIM", 1)[0].split(","))


@pytest.mark.parametrize("colors", MODES)
def test_the_focused_button_stands_out_from_the_other(tmp_path, colors):
    app = uitools.make_app(tmp_path, SERVERS)
    press(app, "3", "3")
    fill_lim(app, 1, "10.77.0.111")
    app.top.submit()
    focus, other = one_look(app, "< Back >", colors), one_look(app, "< Apply >", colors)
    assert focus != other
    press(app, "left")
    assert (one_look(app, "< Apply >", colors), one_look(app, "< Back >", colors)) == (focus, other)


def test_every_palette_entry_gives_high_colours():
    """An empty high colour is the terminal's default colour on 88/256/24-bit terminals: no highlight."""
    for name, _fg, _bg, _mono, foreground_high, background_high in PALETTE:
        assert foreground_high and background_high, name
