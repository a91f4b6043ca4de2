"""Form fields: typed values with their message under the field, and choices from lists.

A text field parses with the same parsers as the command line (ops/requests.py); a parser raises
`RequestError` whose one line is shown under the field when the technician leaves it or submits.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import urwid

from mxone_maintenance.utility.ops.requests import RequestError

T = TypeVar("T")
Parser = Callable[[str], Any]
LEAVING_KEYS = ("enter", "tab", "shift tab", "up", "down")


class Invalid(Exception):
    """A field holds a value that cannot be used (its message is already shown under it)."""


class FieldEdit(urwid.Edit):
    """A one-line edit that checks its value when the technician leaves it."""

    def __init__(self, caption: str, text: str, on_leave: Callable[[], None]) -> None:
        super().__init__(caption, text)
        self._on_leave = on_leave

    def keypress(self, size, key: str):
        if key in LEAVING_KEYS:
            self._on_leave()
        rest = super().keypress(size, key)
        if rest == "enter":
            return "down"                      # Enter in a text field goes on to the next field
        return rest


class TextField(urwid.WidgetWrap):
    """`Caption: value` with the parser's message under it."""

    def __init__(self, caption: str, text: str = "", parse: Parser | None = None, width: int | None = None) -> None:
        self.parse = parse or (lambda value: value)
        self.initial = text
        self.edit = FieldEdit(caption, text, self._check_quietly)
        self.error = urwid.Text("")
        self._pile = urwid.Pile([urwid.AttrMap(self.edit, "edit", "edit focus")])
        urwid.connect_signal(self.edit, "postchange", lambda *_: self._recheck())
        super().__init__(self._pile)

    @property
    def text(self) -> str:
        return self.edit.edit_text

    def set_text(self, text: str) -> None:
        self.edit.set_edit_text(text)

    @property
    def typed(self) -> bool:
        """The technician changed the value the form offered (leaving would lose it)."""
        return self.text != self.initial

    def show_error(self, message: str | None) -> None:
        self.error.set_text(("error", f"  ! {message}") if message else "")
        shown = len(self._pile.contents) > 1
        if message and not shown:
            self._pile.contents.append((urwid.AttrMap(self.error, "error"), self._pile.options()))
        elif not message and shown:
            del self._pile.contents[1]

    @property
    def has_error(self) -> bool:
        return len(self._pile.contents) > 1

    def value(self) -> Any:
        """The parsed value; shows the message and raises Invalid when it cannot be used."""
        try:
            parsed = self.parse(self.text)
        except RequestError as err:
            self.show_error(str(err))
            raise Invalid(str(err)) from None
        self.show_error(None)
        return parsed

    def _check_quietly(self) -> None:
        if self.text.strip():
            try:
                self.value()
            except Invalid:
                pass

    def _recheck(self) -> None:
        if self.has_error:                    # a shown message goes away as soon as the value is right
            self._check_quietly()
            if not self.text.strip():
                self.show_error(None)


def text_fields(widget: urwid.Widget) -> list[TextField]:
    """The text fields in WIDGET (through wrappers such as Padding and AttrMap, and containers)."""
    if isinstance(widget, TextField):
        return [widget]
    inner = widget._w if isinstance(widget, urwid.WidgetWrap) else getattr(widget, "original_widget", None)
    if inner is not None:
        return text_fields(inner)
    return [field for part, _options in getattr(widget, "contents", ()) for field in text_fields(part)]


class ChoiceField(urwid.WidgetWrap, Generic[T]):
    """A label and one radio button per option; `value` is the chosen option's value."""

    def __init__(self, label: str, options: Sequence[tuple[T, str]], selected: T | None = None,
                 on_change: Callable[[T], None] | None = None) -> None:
        self._group: list[urwid.RadioButton] = []
        self._values: list[T] = []
        buttons = []
        for value, text in options:
            button = urwid.RadioButton(self._group, text, state=(value == selected))
            self._values.append(value)
            if on_change is not None:
                urwid.connect_signal(button, "postchange",
                                     lambda _b, _old, v=value: on_change(v) if self.value == v else None)
            buttons.append(urwid.AttrMap(button, "choice", "choice focus"))
        if self._group and not any(b.state for b in self._group):
            self._group[0].set_state(True, do_callback=False)
        self.error = urwid.Text("")
        rows = [urwid.Text(("label", label))] + [urwid.Padding(b, left=2) for b in buttons]
        self._pile = urwid.Pile(rows)
        super().__init__(self._pile)

    @property
    def value(self) -> T | None:
        for button, value in zip(self._group, self._values, strict=True):
            if button.state:
                return value
        return None

    @property
    def labels(self) -> list[str]:
        return [b.label for b in self._group]


class Message(urwid.WidgetWrap):
    """A line for what went wrong with the whole form (a broken rule); no rows when empty."""

    def __init__(self) -> None:
        self._text = urwid.Text("")
        self._pile = urwid.Pile([])
        super().__init__(self._pile)

    def show(self, message: str | None, attr: str = "error") -> None:
        self._text.set_text((attr, message) if message else "")
        self._pile.contents[:] = [(self._text, self._pile.options())] if message else []

    @property
    def text(self) -> str:
        return self._text.text if self._pile.contents else ""

    def selectable(self) -> bool:
        return False


def button_row(buttons: Sequence[tuple[str, Callable[[], None]]]) -> urwid.Widget:
    """`[ Show plan ]  [ Back ]` as one row of buttons."""
    cells = []
    for label, action in buttons:
        button = urwid.Button(label, on_press=lambda _b, act=action: act())
        cells.append((len(label) + 4, urwid.AttrMap(button, "button", "button focus")))
    return urwid.Columns(cells, dividechars=2)
