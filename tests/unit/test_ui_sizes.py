"""Every kind of screen at 80x24 (the smallest terminal a technician may have): the box is whole, the
footer shows the keys, what matters is on screen, and what does not fit is reached by scrolling."""
from __future__ import annotations

from ipaddress import IPv4Interface
from pathlib import Path

import pytest
from helpers import uitools
from helpers.uitools import focused_label, press, rows, screen, tab_to

from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef
from mxone_maintenance.utility.ops.status import Alarm, ClusterReport, LimRow, ServerReport, StatusReport
from mxone_maintenance.utility.ui.app import App
from mxone_maintenance.utility.ui.forms import Form
from mxone_maintenance.utility.ui.screens import (
    HelpScreen,
    NoticeScreen,
    PlanScreen,
    ProgressScreen,
    QuestionScreen,
    ResultScreen,
)
from mxone_maintenance.utility.ui.status_screen import StatusScreen
from mxone_maintenance.utility.ui.worker import InlineRuntime

SIZE = (80, 24)
SYSTEM = """schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: lim2, address: 10.77.0.12/24, lim: 2}
  - {name: lim3, address: 10.77.0.13/24, lim: 3}
  - {name: sb1,  address: 10.77.0.20/24, role: standby}
  - {name: sb2,  address: 10.77.0.21/24, role: standby}
  - {name: spare, address: 10.77.0.40/24, role: free}
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
      - {lim: 1, server: lim1, base: 10.77.0.111/24, alias: 10.77.0.11/24, priority: 5, lock: regular}
"""

# (keys from the main menu, the screen's title, text that must be on its first screen)
ACTION_SCREENS = [
    (("1", "1"), "List servers in system", "spare       10.77.0.40/24"),
    (("1", "2"), "Add server to system", "LIM number:"),
    (("1", "3"), "Remove server from system", "spare (10.77.0.40/24)"),
    (("2", "1"), "List standby servers", "sb2         10.77.0.21/24"),
    (("2", "2"), "Make a free server a standby server", "spare (10.77.0.40/24)"),
    (("2", "3"), "Make a standby server free again", "sb2 (10.77.0.21/24)"),
    (("3", "1"), "List all clusters", "1    10.77.0.111/24  10.77.0.11/24  5         regular  lim1"),
    (("3", "3"), "Create new cluster in system", "Cluster name:"),
    (("3", "4"), "Change fallback type or priority", "Priority of LIM 1"),
    (("3", "5"), "Change failover behavior to preloaded", "It is removed only by deleting the cluster."),
    (("3", "6"), "Add a LIM to existing cluster", "New base address:"),
    (("3", "7"), "Remove a LIM from existing cluster", "LIM 1 on lim1"),
    (("3", "8"), "Delete cluster in system", "the standby is freed"),
    (("3", "9"), "Move LIM from standby to regular server", "LIM 1 on lim1"),
    (("3", "a"), "Lock LIM to server", "standby server (runs on the standby)"),
    (("3", "b"), "Unlock LIM from server", "LIM 1 on lim1"),
    (("3", "c"), "Sync exchange data within cluster", "c1"),
]


def make_app(tmp_path: Path) -> App:
    return uitools.make_app(tmp_path, SYSTEM)


def assert_whole(app: App, title: str) -> list[str]:
    """24 rows of 80; the header, the footer with its keys, and the top box closed at the bottom."""
    shown = rows(app)
    assert len(shown) == 24 and all(len(row) == 80 for row in shown)
    assert shown[0].startswith(" MX-ONE maintenance")
    assert ("q quit" in shown[-1] or "F10 quit" in shown[-1]) and "F1 help" in shown[-1]
    top = next(i for i, row in enumerate(shown) if f" {title} " in row and "─" in row)
    corner = shown[top].index(f" {title} ") - 1
    while shown[top][corner] == "─":
        corner -= 1
    bottom = next((i for i in range(top + 1, 23) if shown[i][corner] == "└"), None)
    assert bottom is not None, f"the box of {title!r} is not closed:\n" + "\n".join(shown)
    return shown


@pytest.mark.parametrize("keys, title", [((), "MX-ONE maintenance"), (("1",), "Server in system"),
                                         (("2",), "Standby server in system"), (("3",), "Cluster handling")])
def test_menus_fit(tmp_path, keys, title):
    app = make_app(tmp_path)
    press(app, *keys)
    shown = "\n".join(assert_whole(app, title))
    for entry in app.top.entries:
        assert entry.text.text in shown


@pytest.mark.parametrize("keys, title, must_see", ACTION_SCREENS, ids=[a[1] for a in ACTION_SCREENS])
def test_every_action_screen_fits_and_its_buttons_are_reached(tmp_path, keys, title, must_see):
    app = make_app(tmp_path)
    press(app, *keys)
    assert app.top.title == title
    shown = "\n".join(assert_whole(app, title))
    assert must_see in shown
    if isinstance(app.top, Form):
        for _ in range(40):                                  # Tab to the buttons: they scroll into view
            press(app, "tab")
        assert "< Show plan >" in screen(app) and "< Back >" in screen(app)
    else:
        assert "< Back >" in shown


def test_the_longest_form_scrolls_to_its_buttons_and_its_first_error(tmp_path):
    app = make_app(tmp_path)
    press(app, "3", "3", "tab", "tab", " ")                  # from the name past the standby: tick LIM 2
    press(app, "tab", "tab", "tab", " ")                     # past its base and priority: tick LIM 3
    tab_to(app, "Show plan")
    assert "< Show plan >" in screen(app)
    press(app, "enter")                                      # base addresses missing
    shown = "\n".join(assert_whole(app, "Create new cluster in system"))
    assert "! type the new base address of LIM 2" in shown and "Not yet: check the marked fields." in shown
    assert "more above (PgUp)" in shown
    assert "New base address:" in focused_label(app)


def test_plan_fits_and_scrolls(tmp_path):
    app = make_app(tmp_path)
    press(app, "3", "8")
    app.top.submit()
    assert isinstance(app.top, PlanScreen)
    shown = "\n".join(assert_whole(app, "Plan"))
    assert "Plan: delete cluster c1" in shown and "< Apply >" in shown and "Nothing has changed yet" in shown
    press(app, "up", *["down"] * 40)                         # into the text, then to its end
    assert "< Apply >" in screen(app)


def test_overlays_fit(tmp_path):
    app = make_app(tmp_path)
    press(app, "3", "f1")
    assert isinstance(app.top, HelpScreen)
    shown = "\n".join(assert_whole(app, "Keys"))
    assert "Esc closes this help." in shown and "this help (everywhere)" in shown
    press(app, "esc")
    app.push(QuestionScreen("Leave?", "A change is being applied to the servers. Leaving now may leave it half "
                                      "done. Leave anyway?", yes="Leave anyway", no="Stay"))
    assert "< Stay >  < Leave anyway >" in "\n".join(assert_whole(app, "Leave?"))
    app.pop()
    long = ("System file: /a/rather/long/path/to/the/admin/root/etc/opt/eri_sn/system.yaml:12: servers[3]"
            ".address: not an interface address like 10.77.0.11/24 (got '10.77.0.300/24')")
    app.push(NoticeScreen("Cannot read the system file", long))
    shown = "\n".join(assert_whole(app, "Cannot read the system file"))
    assert "(got" in shown and "'10.77.0.300/24')" in shown and "< OK >" in shown


def test_progress_and_result_for_a_full_cluster_fit(tmp_path):
    app = make_app(tmp_path)
    servers = [f"lim{n}" for n in range(1, 11)] + ["sb1"]
    app.push(ProgressScreen("Create new cluster in system", servers))
    shown = "\n".join(assert_whole(app, "Applying"))
    assert "lim10        waiting" in shown and "sb1          waiting" in shown
    app.stack.pop()
    app.push(ResultScreen("Create new cluster in system", False, "lim7: connection timed out after 5 s; the "
                          "change may be incomplete: look at Show status", dict.fromkeys(servers, "committed"), "lim7"))
    shown = "\n".join(assert_whole(app, "Result"))
    assert "FAILED: lim7: connection timed out" in shown and "< OK >" in shown and "sb1: committed" in shown


def big_report() -> StatusReport:
    """A full cluster: ten LIMs, one on the standby waiting for manual fallback, a server down."""
    lims = tuple(ClusterLim(n, f"lim{n}", IPv4Interface(f"10.77.0.{110 + n}/24"), IPv4Interface(f"10.77.0.{10 + n}/24"))
                 for n in range(1, 11))
    cluster = Cluster(name="c1", standby=StandbyRef("sb1", IPv4Interface("10.77.0.20/24")), lims=lims)
    rows = [LimRow("c1", n, f"lim{n}", "sb1" if n == 7 else f"lim{n}",
                   "running on standby, waiting for manual fallback" if n == 7 else "running on regular", "-", "")
            for n in range(1, 11)]
    servers = tuple(ServerReport(f"lim{n}", n != 7, {}, "connection timed out after 2.5 s" if n == 7 else "")
                    for n in range(1, 11)) + (ServerReport("sb1", True, {}),)
    alarms = (Alarm("sb1", "LIM 7 is running on standby server", "1795627005.5"),
              Alarm("lim7", "lim7 does not answer: connection timed out after 2.5 s", "now"))
    return StatusReport((ClusterReport(cluster, tuple(rows), servers, alarms),))


def test_status_of_a_full_cluster_fits_and_scrolls_to_the_alarms(tmp_path):
    app = make_app(tmp_path)
    press(app, "3")
    app.push(StatusScreen(big_report, InlineRuntime()))
    shown = "\n".join(assert_whole(app, "Show status"))
    assert "updated " in shown and "every 1 s" in shown
    assert "7    lim7      sb1         -        running on standby, waiting for manual" in shown
    assert "Servers answering: lim1 yes" in shown
    for _ in range(30):
        press(app, "down")
    shown = "\n".join(assert_whole(app, "Show status"))
    assert "lim7 NO" in shown and "Alarms: 2" in shown
    assert "sb1: LIM 7 is running on standby server (since " in shown and "1795627005" not in shown
