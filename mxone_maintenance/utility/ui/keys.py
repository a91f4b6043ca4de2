"""Every key binding of the menus, in one table with its help text (zulip-terminal style). A command may
have two bindings: a letter that a text field takes as typing (q, ?) and a key that works everywhere
(F10, F1).

Code asks `command_for(key, context)`; it never compares raw key names. The help overlay and the
footer are generated from this table, and a test checks it for clashes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Command(Enum):
    UP = "up"
    DOWN = "down"
    NEXT_FIELD = "next field"
    PREV_FIELD = "previous field"
    ACTIVATE = "activate"
    BACK = "back"
    BACKSPACE_BACK = "back (Backspace)"
    BUTTON = "button"
    QUIT = "quit"
    HELP = "help"
    REFRESH = "refresh"
    ITEM = "item"
    SCROLL = "scroll"


@dataclass(frozen=True)
class Binding:
    command: Command
    keys: tuple[str, ...]
    shown: str              # how the footer and help name the keys
    short: str              # the footer's word for it
    help: str
    context: str | tuple[str, ...]   # "global" everywhere; else only on these kinds of screen
    footer: bool | tuple[str, ...] = True    # a tuple: shown in the footer only on these kinds of screen
    where: str = ""                          # the help's words for where it works, if not the contexts'


# The key shown beside each menu item: 1..9, then letters (q always quits, so it is left out).
ITEM_KEYS = tuple("123456789abcdefghijklmnoprstuvwxyz")
TEXT_FIELD_NOTE = "a letter in a text field"
FIELDS = ("form", "choice")                # screens with fields or more than one button
ESSENTIAL = (Command.BACK, Command.QUIT, Command.HELP)   # the footer keeps these at any width

BINDINGS: tuple[Binding, ...] = (
    Binding(Command.UP, ("up",), "↑↓", "move", "move up", "global"),
    Binding(Command.DOWN, ("down",), "↓", "down", "move down", "global", footer=False),
    Binding(Command.NEXT_FIELD, ("tab",), "Tab", "next field", "next field or button", FIELDS),
    Binding(Command.PREV_FIELD, ("shift tab",), "S-Tab", "previous", "previous field or button", FIELDS,
            footer=False),
    Binding(Command.SCROLL, ("page up", "page down"), "PgUp PgDn", "scroll", "scroll a long screen up or down",
            "global", footer=False),
    Binding(Command.ACTIVATE, ("enter",), "Enter", "select", "open the item, press the button, tick the box", "global",
            footer=("menu", "form", "view", "status", "choice")),      # nothing to select in the help
    Binding(Command.BACK, ("esc",), "Esc", "back", "back one level; asks before leaving the utility or a form "
            "with typed values", "global"),
    Binding(Command.BACKSPACE_BACK, ("backspace",), "Backspace", "back",
            "back one level too, except in a form (there it only deletes text)",
            ("menu", "view", "status", "choice", "help"), where="everywhere but in a form",
            footer=False),
    Binding(Command.BUTTON, ("left", "right"), "←→", "button", "go to the other button", "choice"),
    Binding(Command.ITEM, ITEM_KEYS, "1-9 a-z", "item",
            "open the item with that key, shown beside it", "menu"),
    Binding(Command.REFRESH, ("r",), "r", "refresh", "refresh now", "status"),
    Binding(Command.QUIT, ("q", "Q"), "q", "quit", f"leave the utility ({TEXT_FIELD_NOTE})", "global",
            footer=("menu", "view", "status", "choice", "help", "progress")),
    Binding(Command.QUIT, ("f10",), "F10", "quit", "leave the utility, from a text field too", "global",
            footer=("form",)),
    Binding(Command.HELP, ("f1",), "F1", "help", "this help", "global"),
    Binding(Command.HELP, ("?",), "?", "help", f"this help ({TEXT_FIELD_NOTE})", "global", footer=False),
)


def contexts(item: Binding) -> tuple[str, ...]:
    return item.context if isinstance(item.context, tuple) else (item.context,)


def command_for(key: str, context: str) -> Command | None:
    """The command KEY means on a screen of kind CONTEXT (its own bindings first, then the global ones)."""
    for item in BINDINGS:
        if context in contexts(item) and key in item.keys:
            return item.command
    for item in BINDINGS:
        if "global" in contexts(item) and key in item.keys:
            return item.command
    return None


def clashes() -> list[str]:
    """Keys bound to two commands that can be active on the same screen (expected: none)."""
    found = []
    kinds = {c for b in BINDINGS for c in contexts(b)} - {"global"}
    for context in sorted(kinds) + ["global"]:
        seen: dict[str, Command] = {}
        for item in BINDINGS:
            if not {context, "global"} & set(contexts(item)):
                continue
            for key in item.keys:
                if key in seen and seen[key] != item.command:
                    found.append(f"{key!r}: {seen[key].value} and {item.command.value} ({context})")
                seen[key] = item.command
    return found


def in_footer(item: Binding, context: str) -> bool:
    shown_in = item.footer if isinstance(item.footer, tuple) else ("global",) if item.footer else ()
    return bool({"global", context} & set(contexts(item))) and bool({"global", context} & set(shown_in))


def footer_text(context: str, width: int = 80, drawn: Callable[[str], str] = str) -> str:
    """The keys of CONTEXT in one line of at most WIDTH as DRAWN (the look): the first ones that are not
    essential go first when it is narrow (the help, F1, lists them all)."""
    shown = [b for b in BINDINGS if in_footer(b, context)]
    while len(drawn(_joined(shown))) > width and any(b.command not in ESSENTIAL for b in shown):
        shown.remove(next(b for b in shown if b.command not in ESSENTIAL))
    return drawn(_joined(shown))


def _joined(bindings: list[Binding]) -> str:
    return "  ".join(f"{b.shown} {b.short}" for b in bindings)


def help_lines() -> list[tuple[str, str, str]]:
    """(keys, what, where) for every binding: the help overlay shows exactly these."""
    where = {"global": "everywhere", "menu": "in a menu", "form": "in a form", "status": "in Show status",
             "choice": "on a plan or question",
             "view": "on other screens", "help": "in this help"}
    return [(" ".join(_key_name(k) for k in b.keys) if len(b.keys) <= 4 else b.shown, b.help,
             b.where or ", ".join(where[c] for c in contexts(b))) for b in BINDINGS]


def _key_name(key: str) -> str:
    return {"up": "↑", "down": "↓", "esc": "Esc", "enter": "Enter", "backspace": "Backspace", "tab": "Tab",
            "shift tab": "Shift-Tab", "f1": "F1", "f10": "F10", "left": "←", "right": "→",
            "page up": "PgUp", "page down": "PgDn"}.get(key, key)


META = "meta "


def split_meta(keys: list[str]) -> list[str]:
    """Esc followed quickly by a key reaches urwid as one "meta KEY" (ESC ESC q arrives as "esc",
    "meta q"). No binding uses meta, so it is what the technician typed: Esc, then the key."""
    out: list[str] = []
    for key in keys:
        if isinstance(key, str) and key.startswith(META) and len(key) > len(META):
            out += ["esc", key[len(META):]]
        else:
            out.append(key)
    return out
