"""Driving the menus headless: an App on a system file in a temp folder, its screen as text, keys."""
from __future__ import annotations

from pathlib import Path

from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.cli import Session
from mxone_maintenance.utility.ui.app import App

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
