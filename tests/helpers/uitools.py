"""Driving the menus headless: an App on a system file in a temp folder, its screen as text, keys."""
from __future__ import annotations

from pathlib import Path

import urwid

from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.cli import Session
from mxone_maintenance.utility.ui.app import App
from mxone_maintenance.utility.ui.look import UNICODE, Look
from mxone_maintenance.utility.ui.session import MenuSession
from mxone_maintenance.utility.ui.palette import PALETTE

SIZE = (80, 24)


def make_session(tmp_path: Path, text: str | None) -> MenuSession:
    """What the command line gives the menus, on `text` as system.yaml (None: no system file at all)."""
    system_file = tmp_path / "system.yaml"
    if text is not None:
        system_file.write_text(text)
    session = Session(paths=Paths(tmp_path / "root"), system_file=system_file, json=False, dry_run=False,
                      yes=False, accept_new_host_key=False)
    return session.for_menus()


def make_app(tmp_path: Path, text: str | None, drawn: Look = UNICODE) -> App:
    """The menus on `text` as system.yaml, drawn in the look DRAWN (ASCII: a terminal in LANG=C)."""
    return App(make_session(tmp_path, text), drawn=drawn)


def rows(app: App, size: tuple[int, int] = SIZE) -> list[str]:
    return [row.decode() for row in app.root.render(size, focus=True).text]


def screen(app: App, size: tuple[int, int] = SIZE) -> str:
    return "\n".join(rows(app, size))


def press(app: App, *keys: str, size: tuple[int, int] = SIZE) -> None:
    for key in keys:
        app.keypress(size, key)


def focused(app: App) -> urwid.Widget:
    """The widget at the end of the focus path of the top screen (a button, an edit, a tick box...)."""
    widget = app.top._w
    while not isinstance(widget, (urwid.Button, urwid.Edit, urwid.CheckBox)):
        inner = getattr(widget, "focus", None) or getattr(widget, "original_widget", None)
        if inner is None and isinstance(widget, urwid.WidgetWrap):
            inner = widget._w
        if inner is None:
            break
        widget = inner
    return widget


def focused_label(app: App) -> str:
    """The label of the focused button or tick box, or the caption of the focused text field."""
    widget = focused(app)
    return widget.get_label() if hasattr(widget, "get_label") else getattr(widget, "caption", "")


def tab_to(app: App, label: str, size: tuple[int, int] = SIZE) -> None:
    """Tab until the focused field or button is LABEL (at most 40 times)."""
    for _ in range(40):
        if focused_label(app) == label:
            return
        press(app, "tab", size=size)
    raise AssertionError(f"Tab does not reach {label!r}:\n{screen(app, size)}")


def focus_shown(app: App, size: tuple[int, int] = SIZE) -> bool:
    """Something on screen is drawn with a focus attribute ("... focus")."""
    canvas = app.root.render(size, focus=True)
    return any(str(getattr(attr, "layers", (attr,))[0]).endswith("focus")
               for row in canvas.content() for attr, _cs, _text in row)


def box_text(app: App) -> str:
    """What the top box shows, its rows joined with spaces (so a wrapped line reads as one)."""
    shown = rows(app)
    top = next(i for i, row in enumerate(shown) if f" {app.top.title} " in row and "─" in row)
    left = shown[top].rindex("┌", 0, shown[top].index(f" {app.top.title} "))
    right = shown[top].index("┐", left)
    bottom = next(i for i in range(top + 1, len(shown)) if shown[i][left] == "└")
    return " ".join(" ".join(row[left + 1:right].split()) for row in shown[top + 1:bottom])


def drawn_with(app: App, text: str) -> list:
    """The display attributes (with their layers) TEXT is drawn with on screen (its first row)."""
    canvas = app.root.render(SIZE, focus=True)
    for row, plain in zip(canvas.content(), canvas.text):
        at = plain.decode().find(text)
        if at < 0:
            continue
        found, col = [], 0
        for attr, _charset, raw in row:
            width = len(raw.decode())
            if col < at + len(text) and col + width > at:
                found.append(attr)
            col += width
        return found
    raise AssertionError(f"{text!r} is not on screen:\n{screen(app)}")


def attributes_of(app: App, text: str) -> set[str]:
    """The display attributes of TEXT where it is drawn on screen (one row), innermost first."""
    return {getattr(attr, "layers", (attr,))[0] for attr in drawn_with(app, text)}


# Where urwid keeps each colour mode's setting in a palette entry (BaseScreen.resolve_attr's index).
PALETTE_INDEX = {16: 0, 1: 1, 88: 2, 256: 3, 2**24: 4}


def looks_of(app: App, text: str, colors: int) -> set[tuple[str, str]]:
    """(foreground, background) a terminal with COLORS colours shows TEXT in: its attributes resolved
    through the palette the way the screen does (1: the monochrome settings, e.g. "default,standout")."""
    terminal = urwid.display.raw.Screen()
    terminal.register_palette(PALETTE)
    specs = (terminal.resolve_attr(attr, PALETTE_INDEX[colors]) for attr in drawn_with(app, text))
    return {(spec.foreground, spec.background) for spec in specs}


# lim1 and lim2 with LIM 1 and 2, the standby sb1; no cluster yet, or c1 with LIM 1 (the forms' tests)
TWO_LIMS = """schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: lim2, address: 10.77.0.12/24, lim: 2}
  - {name: sb1,  address: 10.77.0.20/24, role: standby}
clusters: []
"""


def with_lim1_clustered(lock: str = "null") -> str:
    """TWO_LIMS with cluster c1 of LIM 1 on lim1 and the standby sb1 (generation 1, `lock` as given)."""
    return TWO_LIMS.replace("clusters: []", f"""clusters:
  - schema: 1
    cluster: c1
    generation: 1
    fallback: automatic
    failover: normal
    detect_s: 60
    heartbeat_s: 1
    port: 7400
    interface: eth0
    standby: {{server: sb1, base: 10.77.0.20/24}}
    lims:
      - {{lim: 1, server: lim1, base: 10.77.0.111/24, alias: 10.77.0.11/24, priority: 5, lock: {lock}}}
""")


# ---------------------------------------------------------------- the cluster's agents, without SSH
class FakeAgents:
    """Show status, cluster history and the pause check without SSH: what each member's agent says
    (`statuses`, None: the member does not answer), the events in its history (`events`), and what the
    members report on the move (`moving`). `install` puts it in place of the ops functions that SSH."""

    def __init__(self, statuses: dict, events: dict | None = None, moving: frozenset[int] = frozenset(),
                 history_error: str | None = None) -> None:
        self.statuses = statuses
        self.events = events or {}
        self.moving = moving
        self.history_error = history_error
        self.history_calls: list[float | None] = []        # the `since` of each history read

    def collect_status(self, system, _settings, cluster_name=None, local=None):
        from mxone_maintenance.utility.ops.status import ServerReport, StatusReport, merge_status
        clusters = [c for c in system.clusters if cluster_name in (None, c.name)]
        reports = {name: ServerReport(name, True, status) if status is not None
                   else ServerReport(name, False, None, f"{name} (10.77.0.20): timed out")
                   for name, status in self.statuses.items()}
        return StatusReport(tuple(merge_status(c, {n: reports[n] for n in c.member_names}) for c in clusters))

    def collect_history(self, system, _settings, cluster_name=None, since=None):
        from mxone_maintenance.core.contracts.events import event_line
        from mxone_maintenance.utility.ops.history import merge_history
        from mxone_maintenance.utility.remote.fleet import Outcome
        self.history_calls.append(since)
        if self.history_error is not None:
            raise OSError(self.history_error)
        outcomes = {}
        for name, status in self.statuses.items():
            lines = "\n".join(event_line(e) for e in self.events.get(name, ())).encode()
            outcomes[name] = Outcome(name, True, lines) if status is not None else \
                Outcome(name, False, None, f"{name} (10.77.0.20): timed out")
        return merge_history(outcomes, since)

    def runtime_facts(self, system, cluster_name, _settings):
        from mxone_maintenance.utility.ops.requests import RuntimeFacts
        return RuntimeFacts(on_standby=frozenset(), known=True, moving=self.moving)

    def install(self, monkeypatch) -> FakeAgents:
        from mxone_maintenance.utility.cli import Session
        from mxone_maintenance.utility.ops import history, status
        monkeypatch.setattr(status, "collect_status", self.collect_status)
        monkeypatch.setattr(status, "runtime_facts", self.runtime_facts)
        monkeypatch.setattr(history, "collect_history", self.collect_history)
        monkeypatch.setattr(status, "for_status", lambda settings: settings)
        monkeypatch.setattr(Session, "ssh_settings", lambda _self: None)
        return self


class RecordingApply:
    """apply_plan that changes nothing: records each plan it was given and answers Done."""

    def __init__(self) -> None:
        self.plans: list = []

    def __call__(self, plan, paths, system_file, settings, progress, allow_down=frozenset(), recovering=None):
        from mxone_maintenance.utility.ops.apply import ApplyResult
        self.plans.append(plan)
        for server in plan.servers:
            progress(server.server, "ordered")
        return ApplyResult(True, plan.title, {s.server: "ordered" for s in plan.servers})

    def install(self, monkeypatch) -> RecordingApply:
        from mxone_maintenance.utility.ops import apply
        monkeypatch.setattr(apply, "apply_plan", self)
        return self
