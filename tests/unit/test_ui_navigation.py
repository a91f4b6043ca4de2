"""Moving around a screen as a technician does: Tab and Shift-Tab through every field and button (the
focus always where the screen shows it), PgUp/PgDn wherever the focus is with a sign when there is
more, and a form submitted with errors showing the first of them."""
from __future__ import annotations

from helpers import uitools
from helpers.uitools import attributes_of, focus_shown, focused_label, press, screen, tab_to

from mxone_maintenance.utility.ui.screens import PlanScreen, QuestionScreen, ResultScreen

SYSTEM = uitools.TWO_LIMS
CLUSTERED = uitools.with_lim1_clustered(lock="regular")
# Every stop of the create form, in order: the fields, then the buttons.
CREATE_STOPS = ["Cluster name:       ", "sb1 (10.77.0.20/24)", "LIM 1 on lim1 (10.77.0.11/24)",
                "LIM 2 on lim2 (10.77.0.12/24)", "automatic (back to the regular server when it is up)",
                "Detection time (s): ", "Heartbeat (s):      ", "Show plan", "Back"]


def tabbed_labels(app, key: str, count: int) -> list[str]:
    labels = []
    for _ in range(count):
        press(app, key)
        assert focus_shown(app), f"after {key} the focus is not on screen:\n{screen(app)}"
        labels.append(focused_label(app))
    return labels


def test_tab_and_shift_tab_go_round_every_field_and_button_of_a_form(tmp_path):
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "3", "3")
    assert focused_label(app) == CREATE_STOPS[0]
    assert tabbed_labels(app, "tab", len(CREATE_STOPS)) == CREATE_STOPS[1:] + CREATE_STOPS[:1]
    assert tabbed_labels(app, "shift tab", 2) == ["Back", "Show plan"]
    assert attributes_of(app, "< Show plan >") == {"button focus"}


def test_tab_in_a_long_form_always_moves_the_focus_to_what_it_shows(tmp_path):
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "3", "3", "tab", "tab", " ", "tab", "tab", "tab", " ")     # tick both LIMs: it scrolls
    for _ in range(30):
        press(app, "tab")
        assert focus_shown(app) and focused_label(app).strip() in screen(app)
    tab_to(app, "Priority:         ")
    press(app, "backspace", *"7")                                         # typed text lands in the field
    assert "Priority:         7" in screen(app) and "(X)" in screen(app)


def test_tab_goes_between_the_buttons_of_the_plan_question_and_result(tmp_path):
    app = uitools.make_app(tmp_path, CLUSTERED)
    press(app, "3", "8")
    app.top.submit()
    assert isinstance(app.top, PlanScreen) and attributes_of(app, "< Back >") == {"button focus"}
    press(app, "tab")
    assert attributes_of(app, "< Apply >") == {"button focus"} and attributes_of(app, "< Back >") == {"button"}
    press(app, "tab")
    assert attributes_of(app, "< Back >") == {"button focus"}
    press(app, "shift tab")
    assert attributes_of(app, "< Apply >") == {"button focus"}
    press(app, "esc", "esc", "esc", "esc")                                 # to the main menu: Leave?
    assert isinstance(app.top, QuestionScreen) and attributes_of(app, "< Stay >") == {"button focus"}
    press(app, "tab")
    assert attributes_of(app, "< Leave >") == {"button focus"}
    app.push(ResultScreen("x", True, "ok"))
    press(app, "tab")
    assert attributes_of(app, "< OK >") == {"button focus"}


def plan_app(tmp_path, size=uitools.SIZE):
    app = uitools.make_app(tmp_path, CLUSTERED)
    press(app, "3", "8", size=size)
    app.top.submit()
    return app


def test_pgdn_and_pgup_scroll_the_plan_while_the_buttons_keep_the_focus(tmp_path):
    app = plan_app(tmp_path)
    assert "System file: cluster c1 removed" not in screen(app) and "more below (PgDn)" in screen(app)
    press(app, "page down", "page down")
    assert "System file: cluster c1 removed" in screen(app) and "more above (PgUp)" in screen(app)
    assert "Plan: delete cluster c1" not in screen(app)
    assert attributes_of(app, "< Back >") == {"button focus"}
    press(app, "page up", "page up")
    assert "Plan: delete cluster c1" in screen(app) and "more below (PgDn)" in screen(app)
    press(app, "enter")                                                  # Back still has the focus
    assert app.top.title == "Delete cluster in system"


def test_a_result_with_many_servers_scrolls_with_pgdn(tmp_path):
    app = uitools.make_app(tmp_path, SYSTEM)
    servers = {f"lim{n}": "committed" for n in range(1, 31)}
    app.push(ResultScreen("Create new cluster in system", True, "create cluster c1", servers))
    assert "lim30: committed" not in screen(app) and "more below (PgDn)" in screen(app)
    press(app, "page down", "page down")
    assert "lim30: committed" in screen(app) and attributes_of(app, "< OK >") == {"button focus"}


def test_a_form_submitted_with_errors_shows_its_first_error_with_the_focus(tmp_path):
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "3", "3", "tab", "tab", " ", "tab", "tab", "tab", " ")     # both LIMs, no base address
    tab_to(app, "Show plan")
    press(app, "enter")
    shown = screen(app)
    assert "! type the new base address of LIM 1" in shown
    assert focused_label(app) == "New base address: " and attributes_of(app, "New base address:") == {"edit focus"}
    assert shown.index("New base address:") < shown.index("! type the new base address of LIM 1")


def test_no_lim_ticked_focuses_the_ticks_and_their_message_shows(tmp_path):
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "3", "3")
    tab_to(app, "Show plan")
    press(app, "enter")
    assert focused_label(app) == "LIM 2 on lim2 (10.77.0.12/24)" and "! Choose at least one LIM" in screen(app)


def test_a_broken_rule_shows_at_the_field_it_names(tmp_path):
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "3", "3", "tab", "tab", " ", "tab", *"10.77.0.12")      # lim2's own address as LIM 1's base
    app.top.submit()
    assert not isinstance(app.top, PlanScreen)
    lines = screen(app).splitlines()
    at = next(i for i, line in enumerate(lines) if "New base address: 10.77.0.12" in line)
    assert "! " in lines[at + 1] and "10.77.0.12" in lines[at + 1]
    assert app.top.message.text == "Not possible: see the marked field."
    assert focused_label(app) == "New base address: "
