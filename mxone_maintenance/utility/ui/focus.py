"""Tab and Shift-Tab: every field and every button of a screen in turn, round and round.

A stop is a field (a text field, a choice, a tick box) or a button, found by walking the screen's
widgets in order; Tab sets the focus along the whole path to the next one (each container on the way
told its position), so the list shows what has the focus: it never only scrolls a line while the focus
stays behind (urwid's ↓ does that when the next field is further than a screen away).
"""
from __future__ import annotations

from collections.abc import Iterator

import urwid

from mxone_maintenance.utility.ui.fields import ChoiceField, TextField

Path = tuple[tuple[urwid.Widget, object], ...]      # (container, position) from the outside in
STOPS = (TextField, ChoiceField, urwid.CheckBox, urwid.Button, urwid.Edit)


def stops(widget: urwid.Widget, path: Path = ()) -> Iterator[tuple[Path, urwid.Widget]]:
    """(path, widget) of every stop inside WIDGET, in screen order."""
    if isinstance(widget, STOPS):
        yield path, widget
        return
    if isinstance(widget, urwid.ListBox):
        for position, row in enumerate(widget.body):
            yield from stops(row, (*path, (widget, position)))
        return
    contents = getattr(widget, "contents", None)
    if isinstance(widget, (urwid.Pile, urwid.Columns)) and contents is not None:
        for position, (part, _options) in enumerate(contents):
            yield from stops(part, (*path, (widget, position)))
        return
    inner = widget._w if isinstance(widget, urwid.WidgetWrap) else getattr(widget, "original_widget", None)
    if inner is not None:
        yield from stops(inner, path)


def is_focused(path: Path) -> bool:
    return all(container.focus_position == position for container, position in path)


def go(path: Path) -> None:
    """Focus the stop at PATH; a list scrolls to it when it is drawn. (Never with urwid's coming_from:
    that picks the button under the old cursor column, not the one Tab reached.)"""
    for container, position in path:
        if isinstance(container, urwid.ListBox):
            container.set_focus(position)
        else:
            container.focus_position = position


def tab(widget: urwid.Widget, forward: bool = True) -> bool:
    """Move to the next (previous) stop in WIDGET, round from the last to the first; False: none."""
    found = list(stops(widget))
    if not found:
        return False
    at = next((i for i, (path, _stop) in enumerate(found) if is_focused(path)), None)
    if at is None:
        target = 0 if forward else len(found) - 1
    else:
        target = (at + (1 if forward else -1)) % len(found)
    go(found[target][0])
    return True


def focus_on(widget: urwid.Widget, stop: urwid.Widget) -> bool:
    """Focus STOP (a stop inside WIDGET); False when it is not there."""
    for path, found in stops(widget):
        if found is stop:
            go(path)
            return True
    return False
