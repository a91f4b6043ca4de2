"""Leaving safely: q and ? are letters in a text field (F10 and F1 work everywhere), leaving a form with
typed values asks first, and the plan starts on Back so Enter pressed once too often applies nothing."""
from __future__ import annotations

from helpers import uitools
from helpers.uitools import attributes_of, box_text, press, screen
from test_ui_forms import fill_lim

from mxone_maintenance.utility.ops import apply as apply_module
from mxone_maintenance.utility.ui.cluster_forms import CreateClusterForm
from mxone_maintenance.utility.ui.screens import HelpScreen, PlanScreen, QuestionScreen

SERVERS = """schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: sb1,  address: 10.77.0.20/24, role: standby}
clusters: []
"""


def create_form(tmp_path) -> uitools.App:
    app = uitools.make_app(tmp_path, SERVERS)
    press(app, "3", "3")                                 # the cluster name field has the focus
    assert isinstance(app.top, CreateClusterForm)
    return app


def test_q_and_question_mark_are_typed_into_a_text_field(tmp_path):
    app = create_form(tmp_path)
    press(app, "q", "?", "Q")
    assert not app.exited and isinstance(app.top, CreateClusterForm)
    assert "Cluster name:       c1q?Q" in screen(app)


def test_f1_and_f10_work_in_a_text_field(tmp_path):
    app = create_form(tmp_path)
    press(app, "f1")
    assert isinstance(app.top, HelpScreen)
    press(app, "esc", "f10")                             # nothing typed: leaves at once
    assert app.exited


def test_the_form_footer_names_the_quit_key_that_works_there(tmp_path):
    app = create_form(tmp_path)
    footer = uitools.rows(app)[-1]
    assert "F10 quit" in footer and "F1 help" in footer and "q quit" not in footer


def test_esc_from_a_form_with_typed_values_asks_with_stay_focused(tmp_path):
    app = create_form(tmp_path)
    press(app, "2")
    press(app, "esc")
    assert isinstance(app.top, QuestionScreen) and "The values typed in this form are not kept." in box_text(app)
    assert attributes_of(app, "< Stay >") == {"button focus"}
    press(app, "enter")                                  # Stay: the form as it was
    assert isinstance(app.top, CreateClusterForm) and app.top.name.text == "c12"
    press(app, "esc", "right", "enter")
    assert app.top.title == "Cluster handling"


def test_quitting_a_form_with_typed_values_asks_first(tmp_path):
    app = create_form(tmp_path)
    press(app, "backspace", "x", "f10")
    assert not app.exited and isinstance(app.top, QuestionScreen) and "Leave MX-ONE maintenance?" in box_text(app)
    press(app, "enter")
    assert not app.exited and app.top.name.text == "cx"
    press(app, "tab", "q")                               # q outside a text field quits too: it asks the same
    assert not app.exited and isinstance(app.top, QuestionScreen)
    press(app, "right", "enter")
    assert app.exited


def test_a_form_left_untouched_closes_without_a_question(tmp_path):
    app = create_form(tmp_path)
    press(app, "esc")
    assert app.top.title == "Cluster handling"


def test_the_plan_starts_on_back_so_enter_applies_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(apply_module, "apply_plan", lambda *a, **kw: (_ for _ in ()).throw(
        AssertionError("applied")))
    app = create_form(tmp_path)
    fill_lim(app, 1, "10.77.0.111")
    app.top.submit()
    assert isinstance(app.top, PlanScreen)
    assert attributes_of(app, "< Back >") == {"button focus"} and attributes_of(app, "< Apply >") == {"button"}
    assert "←→ button" in uitools.rows(app)[-1]
    press(app, "enter")
    assert isinstance(app.top, CreateClusterForm)       # back to the form, nothing applied
    app.top.submit()
    press(app, "left")
    assert attributes_of(app, "< Apply >") == {"button focus"}
