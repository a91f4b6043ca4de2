"""webserver_config's menus (the SNM Configuration Tool) as a technician sees them, headless: what the
screens say and in which colours, with fake node sides (tests/helpers/webserver_fakes.py) that record
what each server was asked."""
from __future__ import annotations

import pytest
from helpers.uitools import TWO_LIMS, attributes_of, box_text, focused_label, press, screen, tab_to, \
    with_lim1_clustered
from helpers.webserver_fakes import fake_pair, pair_set

from mxone_maintenance.utility.ui.look import ASCII
from mxone_maintenance.utility.ui.screens import QuestionScreen
from mxone_maintenance.utility.ui.worker import InlineRuntime
from mxone_maintenance.webserver.tool import cli
from mxone_maintenance.webserver.tool.menus import App
from mxone_maintenance.webserver.tool.menus_forms import SetupForm
from mxone_maintenance.webserver.tool.menus_screens import Outcome, PlanView, StepsProgress
from mxone_maintenance.webserver.tool.menus_status import CheckStatus

SYSTEM = with_lim1_clustered()
MANAGER_PW, REPLICATION_PW = "Manager-s3cret!", "Repl-s3cret!"
SEED = ["Configure SNM", "Change Webserver settings", "Certificate handling", "Backup and Restore"]


def typed(app: App, text: str) -> None:
    press(app, *text)


def fill_form(app: App, vip: str, user: str = "replicator") -> None:
    assert isinstance(app.top, SetupForm)
    assert focused_label(app).startswith("Virtual IP")
    typed(app, vip)
    press(app, "tab")
    typed(app, user)
    for value in (MANAGER_PW, MANAGER_PW, REPLICATION_PW, REPLICATION_PW):
        press(app, "tab")
        typed(app, value)
    tab_to(app, "Show plan")
    press(app, "enter")


def answer_yes(app: App) -> None:
    assert isinstance(app.top, QuestionScreen) and focused_label(app) == "No"
    press(app, "right", "enter")


def test_main_screen_with_lim1_clustered(tmp_path):
    context, _log = fake_pair(tmp_path, SYSTEM)
    app = App(context)
    shown = screen(app)
    assert "SNM Configuration Tool" in shown
    for number, label in enumerate(SEED, 1):
        assert f"{number}  {label} (not part of this product)" in shown
        assert attributes_of(app, label) <= {"item off", "item off focus"}
    assert "5  Redundancy" in shown and "6  Exit" in shown
    assert attributes_of(app, "5  Redundancy") == {"item"}
    assert "not available" not in shown
    press(app, "2")                                   # a dimmed item says why, and does not open
    assert app.top.title == "SNM Configuration Tool"
    assert "Change Webserver settings is not part of this product" in screen(app)
    press(app, "5")
    assert app.top.title == "Redundancy"
    labels = [entry.label for entry in app.top.entries]
    assert labels == ["Master configuration", "Standby configuration", "CheckStatus", "Reconfigure", "Fallback",
                      "Reconfigure Fallback", "Remove Redundancy", "Back"]
    assert "SNM Configuration Tool › Redundancy" in screen(app)
    assert _log == []                                 # nothing asks a server before the technician does


def test_main_screen_without_a_cluster_says_why_and_dims_redundancy(tmp_path):
    context, _log = fake_pair(tmp_path, TWO_LIMS)
    app = App(context)
    shown = screen(app)
    assert "Redundancy is not available: LIM 1 is in no cluster" in shown
    assert attributes_of(app, "Redundancy is not available") == {"warning"}
    assert attributes_of(app, "5  Redundancy") == {"item off"}
    press(app, "5")
    assert app.top.title == "SNM Configuration Tool"


def test_ascii_look_when_the_terminal_is_not_utf8(tmp_path):
    context, _log = fake_pair(tmp_path, SYSTEM)
    shown = screen(App(context, drawn=ASCII))
    assert "+-" in shown and "┌" not in shown and "›" not in shown


def test_master_configuration_filled_in_and_applied(tmp_path):
    context, log = fake_pair(tmp_path, SYSTEM, sb1={"snm_version": None})
    app = App(context)
    seen: list[str] = []
    press(app, "5", "1")
    assert "Webserver will not work while setting up redundancy, do you wish to continue?" in box_text(app)
    answer_yes(app)
    form_text = screen(app)
    assert "lim1 (10.77.0.111/24)" in form_text and "sb1 (10.77.0.20/24)" in form_text
    assert "c1 on eth0, fallback automatic" in form_text
    fill_form(app, "10.77.0.50")
    seen.append(screen(app))
    assert "SNM is not installed on sb1. Install it now?" in box_text(app)
    answer_yes(app)
    assert isinstance(app.top, PlanView) and focused_label(app) == "Back"
    plan_lines = app.top.plan.lines()
    assert plan_lines[0] == "Master configuration on lim1 (standby sb1, cluster c1):"
    seen.append(screen(app))
    assert attributes_of(app, "Master configuration on lim1") == {"plan title"}
    log.clear()
    press(app, "left", "enter")
    assert isinstance(app.top, Outcome)
    seen.append(screen(app))
    assert "Done: Master configuration on lim1 (standby sb1, cluster c1)" in box_text(app)
    assert attributes_of(app, "Done: Master") == {"done"}
    asked = [(server, action) for server, action, _r in log if action != "facts"]
    assert asked == [("sb1", "install-snm"), ("lim1", "set-password"), ("sb1", "set-password"),
                     ("lim1", "login-key"), ("sb1", "authorize"), ("lim1", "check-login"), ("lim1", "setup-master")]
    requests = {(server, action): request for server, action, request in log}
    assert requests[("lim1", "set-password")]["password"] == MANAGER_PW
    assert requests[("sb1", "set-password")]["password"] == MANAGER_PW
    assert requests[("lim1", "setup-master")]["replication_password"] == REPLICATION_PW
    assert "virtual_ip: 10.77.0.50/24" in requests[("lim1", "setup-master")]["pair"]
    assert requests[("sb1", "authorize")]["public_key"].startswith("ssh-ed25519 AAAAFakeKeyOflim1")
    for secret in (MANAGER_PW, REPLICATION_PW):
        carried = [(s, a) for s, a, request in log if secret in str(request)]
        assert carried in ([("lim1", "set-password"), ("sb1", "set-password")], [("lim1", "setup-master")])
        assert not any(secret in line for line in plan_lines)
        assert not any(secret in text for text in seen)
    press(app, "enter")                               # OK: back to the Redundancy menu
    assert app.top.title == "Redundancy"


def test_the_steps_show_one_line_each_while_applied(tmp_path):
    context, _log = fake_pair(tmp_path, SYSTEM)
    app = App(context)
    press(app, "5", "1")
    answer_yes(app)
    fill_form(app, "10.77.0.50")

    class Held(InlineRuntime):
        def submit(self, job, done, failed):
            self.held = (job, done)
    app.runtime = held = Held()
    press(app, "left", "enter")
    assert isinstance(app.top, StepsProgress) and app.top.busy
    press(app, "esc")
    assert "A change is being applied: wait for the result." in screen(app)
    job, done = held.held
    job()
    shown = screen(app)
    assert "1/6 lim1: set the password of mxone_manager  done in" in shown
    assert "6/6 lim1: replication role replicator" in shown
    done(None)
    assert isinstance(app.top, Outcome)


def test_a_password_typed_differently_is_refused_under_the_field(tmp_path):
    context, log = fake_pair(tmp_path, SYSTEM)
    app = App(context)
    press(app, "5", "1")
    answer_yes(app)
    typed(app, "10.77.0.50")
    press(app, "tab")
    typed(app, "replicator")
    press(app, "tab")
    typed(app, MANAGER_PW)
    press(app, "tab")
    typed(app, "other")
    tab_to(app, "Show plan")
    press(app, "enter")
    assert isinstance(app.top, SetupForm)
    assert "differs from the password above" in screen(app)
    assert log == []
    press(app, "esc")                                 # typed values: leaving asks first
    assert "The values typed in this form are not kept. Leave the form?" in box_text(app)


def test_a_standby_configuration_with_another_virtual_ip_is_refused(tmp_path):
    context, log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")})
    app = App(context)
    press(app, "5", "2")
    assert isinstance(app.top, SetupForm) and "Virtual IP (as given on the master)" in screen(app)
    fill_form(app, "10.77.0.60")
    assert isinstance(app.top, SetupForm)
    line = "the master lim1 has virtual IP 10.77.0.50/24 and replication user replicator; this standby was " \
           "given 10.77.0.60/24 and replicator"
    assert line in box_text(app)
    assert "error" in attributes_of(app, "the master lim1 has virtual IP")
    assert [action for _s, action, _r in log] == ["facts", "facts"]


def test_a_standby_configuration_asks_whether_to_restart(tmp_path):
    context, log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")})
    app = App(context)
    press(app, "5", "2")
    fill_form(app, "10.77.0.50")
    assert "Re-start webserver now?" in box_text(app) and focused_label(app) == "No"
    press(app, "enter")
    assert isinstance(app.top, PlanView)
    assert app.top.plan.lines()[0] == "Standby configuration on sb1 (master lim1, cluster c1):"
    assert not any(step.action == "start" for step in app.top.plan.steps)


def test_check_status_with_one_server_silent(tmp_path):
    context, _log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")})
    context.nodes["sb1"].silent = "connect: timed out"
    app = App(context)
    press(app, "5", "3")
    assert isinstance(app.top, CheckStatus)
    shown = screen(app)
    assert "updated " in shown and "every 2 s" in shown
    assert "PM/SNM redundancy of cluster c1: virtual IP 10.77.0.50/24" in shown
    assert "sb1        standby  does not answer: sb1: connect: timed out" in shown
    assert attributes_of(app, "does not answer: sb1") == {"error"}
    assert "error" not in attributes_of(app, "lim1       master")
    assert [seconds for seconds, _fn in app.runtime.timers] == [2.0]
    context.nodes["sb1"].silent = None
    app.runtime.fire_timers()
    assert "does not answer" not in screen(app)
    press(app, "esc")
    assert app.top.title == "Redundancy" and app.runtime.timers == []
    assert context.nodes["sb1"].closed == 1           # the connections go with the screen


@pytest.mark.parametrize("role_key, refused", [
    ("2", "Not possible: remove redundancy on the master lim1 first (--role master); nothing was changed")])
def test_remove_in_the_wrong_order_is_refused(tmp_path, role_key, refused):
    context, log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")},
                             sb1={"pair": pair_set(SYSTEM, "standby")})
    app = App(context)
    press(app, "5", "7")
    assert app.top.title == "Remove Redundancy"
    assert "Master lim1 (first)" in screen(app)
    press(app, role_key)
    assert isinstance(app.top, Outcome)
    assert refused in box_text(app)
    assert attributes_of(app, "Not possible: remove") == {"error"}
    assert [action for _s, action, _r in log] == ["facts", "facts"]
    press(app, "enter")
    assert app.top.title == "Remove Redundancy"


def test_remove_on_the_master_first_plans_and_applies(tmp_path):
    context, log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")},
                             sb1={"pair": pair_set(SYSTEM, "standby")})
    app = App(context)
    press(app, "5", "7", "1")
    assert isinstance(app.top, PlanView) and "Remove Redundancy on the master lim1:" in screen(app)
    press(app, "left", "enter")
    assert "Done: Remove Redundancy on the master lim1" in box_text(app)
    assert [(s, a) for s, a, _r in log if a != "facts"] == [("sb1", "hold"), ("lim1", "remove")]


def test_the_menus_need_a_terminal(tmp_path, capsys):
    assert cli.main(["--root", str(tmp_path)]) == 2
    assert "the menus need a terminal" in capsys.readouterr().err


def fill_passwords(app: App) -> None:
    tab_to(app, "Password of mxone_manager: ")
    for value in (MANAGER_PW, MANAGER_PW, REPLICATION_PW, REPLICATION_PW):
        typed(app, value)
        press(app, "tab")
    tab_to(app, "Show plan")
    press(app, "enter")


def test_reconfigure_the_master_with_the_current_values_filled_in(tmp_path):
    context, _log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")},
                              sb1={"pair": pair_set(SYSTEM, "standby")})
    app = App(context)
    press(app, "5", "4", "1")
    answer_yes(app)
    assert isinstance(app.top, SetupForm) and not app.top.typed
    assert "Virtual IP: 10.77.0.50/24" in screen(app) and "Replication user name: replicator" in screen(app)
    fill_passwords(app)
    assert isinstance(app.top, PlanView)
    assert app.top.plan.lines()[0] == "Reconfigure on lim1 (standby sb1, cluster c1):"


def test_reconfigure_the_standby_first_is_refused(tmp_path):
    context, log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")},
                             sb1={"pair": pair_set(SYSTEM, "standby")})
    app = App(context)
    press(app, "5", "4", "2")
    fill_passwords(app)
    assert isinstance(app.top, SetupForm)
    assert "Not possible: reconfigure the master lim1 first" in box_text(app)
    assert {action for _s, action, _r in log} == {"facts"}


def test_reconfigure_fallback_when_it_is_already_the_clusters(tmp_path):
    context, _log = fake_pair(tmp_path, SYSTEM, lim1={"pair": pair_set(SYSTEM, "master")})
    app = App(context)
    press(app, "5", "6")
    assert "Not possible: the PM/SNM fallback is already automatic, as the cluster's; nothing to change" \
        in box_text(app)
