"""Driving the menus headless: an App on a system file in a temp folder, its screen as text, keys."""
from __future__ import annotations

from pathlib import Path

import urwid

from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.cli import Session
from mxone_maintenance.utility.ui.app import App
from mxone_maintenance.utility.ui.palette import PALETTE

SIZE = (80, 24)


def make_app(tmp_path: Path, text: str | None) -> App:
    """The menus on `text` as system.yaml (None: no system file at all)."""
    system_file = tmp_path / "system.yaml"
    if text is not None:
        system_file.write_text(text)
    session = Session(paths=Paths(tmp_path / "root"), system_file=system_file, json=False, dry_run=False,
                      yes=False, accept_new_host_key=False)
    return App(session.for_menus())


def rows(app: App) -> list[str]:
    return [row.decode() for row in app.root.render(SIZE, focus=True).text]


def screen(app: App) -> str:
    return "\n".join(rows(app))


def press(app: App, *keys: str) -> None:
    for key in keys:
        app.keypress(SIZE, key)


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
