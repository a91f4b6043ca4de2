"""Server in system -> Replace a server rebuilt on new hardware, in the menus: the fingerprint read on
the new server's console is asked for (a malformed one is marked under the field), the plan is shown,
and after Apply a server presenting another key is refused with nothing changed (the SSH checks are a
fake here; tests/lab/test_replace_lab.py runs them on real servers)."""
from __future__ import annotations

from helpers import uitools
from helpers.uitools import box_text, press, screen

from mxone_maintenance.utility.cli import Session
from mxone_maintenance.utility.ops import apply as apply_module
from mxone_maintenance.utility.ops import replace_checks
from mxone_maintenance.utility.ops.replace_checks import ReplaceRefused
from mxone_maintenance.utility.ui.replace_form import ReplaceServerForm
from mxone_maintenance.utility.ui.screens import PlanScreen, ResultScreen

from test_ui_leave_out import SYSTEM

GOOD = "SHA256:" + "n3bmQ8" * 7 + "x"


def replace_form(tmp_path) -> object:
    app = uitools.make_app(tmp_path, SYSTEM)
    press(app, "1")
    assert "Replace a server rebuilt on new hardware" in screen(app)
    press(app, "4")
    assert isinstance(app.top, ReplaceServerForm), screen(app)
    return app


def type_fingerprint(app, text: str) -> None:
    app.top.fingerprint.set_text(text)
    app.top.submit()


def test_a_malformed_fingerprint_is_marked_and_no_plan_is_shown(tmp_path):
    app = replace_form(tmp_path)
    assert "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" in screen(app)
    type_fingerprint(app, "SHA256:short")
    assert isinstance(app.top, ReplaceServerForm)
    assert "a SHA256 fingerprint is SHA256: and 43 characters (got 'SHA256:short')" in screen(app)


def test_the_plan_names_the_server_and_the_key_to_check(tmp_path):
    app = replace_form(tmp_path)
    type_fingerprint(app, GOOD)
    assert isinstance(app.top, PlanScreen), screen(app)
    text = screen(app)
    assert "Plan: replace lim1 (LIM 1 of cluster c1, generation 4)" in text
    assert "write /etc/opt/eri_sn/cluster.yaml (generation 4)" in text


def test_another_key_after_apply_is_refused_and_nothing_is_applied(tmp_path, monkeypatch):
    monkeypatch.setattr(Session, "ssh_settings", lambda self: None)
    applied = []
    monkeypatch.setattr(apply_module, "apply_plan", lambda *a, **k: applied.append(a))

    def other_key(paths, settings, system, name, given):
        assert (name, given) == ("lim1", GOOD)
        raise ReplaceRefused(f"lim1 presents ssh-ed25519 SHA256:{'Z' * 43}, not the {given!r} read on its console")
    monkeypatch.setattr(replace_checks, "final_replace_plan", other_key)
    app = replace_form(tmp_path)
    type_fingerprint(app, GOOD)
    press(app, "left", "enter")                              # ← to Apply: Back has the focus
    assert isinstance(app.top, ResultScreen), screen(app)
    text = " ".join(box_text(app).split())
    assert "FAILED" in text and f"lim1 presents ssh-ed25519 SHA256:{'Z' * 43}" in text
    assert "nothing was changed" in text and applied == []
