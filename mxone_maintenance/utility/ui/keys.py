"""Every key binding of the menus, in one table with its help text (zulip-terminal style).

Code asks `command_for(key, context)`; it never compares raw key names. The help overlay and the
footer are generated from this table, and a test checks it for clashes.
"""
from __future__ import annotations

import string
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
    QUIT = "quit"
    HELP = "help"
    REFRESH = "refresh"
    ITEM_NUMBER = "item number"
    ITEM_LETTER = "item letter"


@dataclass(frozen=True)
class Binding:
    command: Command
    keys: tuple[str, ...]
    shown: str              # how the footer and help name the keys
    short: str              # the footer's word for it
    help: str
    context: str | tuple[str, ...]   # "global" everywhere; else only on these kinds of screen
    footer: bool = True


ITEM_DIGITS = tuple("1234567890")              # item 1..9, then 0 for item 10
ITEM_LETTERS = tuple(string.ascii_lowercase)

BINDINGS: tuple[Binding, ...] = (
    Binding(Command.UP, ("up",), "↑↓", "move", "move up", "global"),
    Binding(Command.DOWN, ("down",), "↓", "down", "move down", "global", footer=False),
    Binding(Command.NEXT_FIELD, ("tab",), "Tab", "next field", "next field", "form"),
    Binding(Command.PREV_FIELD, ("shift tab",), "S-Tab", "previous", "previous field", "form", footer=False),
    Binding(Command.ACTIVATE, ("enter",), "Enter", "select", "open the item, press the button, tick the box", "global"),
    Binding(Command.BACK, ("esc",), "Esc", "back", "back one level", "global"),
    Binding(Command.BACKSPACE_BACK, ("backspace",), "Backspace", "back",
            "back one level too, except in a form (there it only deletes text)", ("menu", "view", "status"),
            footer=False),
    Binding(Command.ITEM_NUMBER, ITEM_DIGITS, "1-9", "item", "open menu item 1..9, 0 opens item 10", "menu"),
    Binding(Command.ITEM_LETTER, tuple(k for k in ITEM_LETTERS if k not in ("q", "r")), "a-z", "item",
            "go to the next item starting with that letter (opens it when it is the only one)", "menu",
            footer=False),
    Binding(Command.REFRESH, ("r",), "r", "refresh", "refresh now", "status"),
    Binding(Command.QUIT, ("q", "Q"), "q", "quit", "leave the utility (asks when a change is in progress)", "global"),
    Binding(Command.HELP, ("f1", "?"), "F1", "help", "this help", "global"),
)

_BY_COMMAND = {b.command: b for b in BINDINGS}


def binding(command: Command) -> Binding:
    return _BY_COMMAND[command]


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


def footer_text(context: str) -> str:
    shown = [f"{b.shown} {b.short}" for b in BINDINGS
             if b.footer and {"global", context} & set(contexts(b))]
    return "  ".join(shown)


def help_lines() -> list[tuple[str, str, str]]:
    """(keys, what, where) for every binding: the help overlay shows exactly these."""
    where = {"global": "everywhere", "menu": "in a menu", "form": "in a form", "status": "in Show status",
             "view": "on other screens"}
    return [(" ".join(_key_name(k) for k in b.keys) if len(b.keys) <= 4 else b.shown, b.help,
             ", ".join(where[c] for c in contexts(b))) for b in BINDINGS]


def _key_name(key: str) -> str:
    return {"up": "↑", "down": "↓", "esc": "Esc", "enter": "Enter", "backspace": "Backspace", "tab": "Tab",
            "shift tab": "Shift-Tab", "f1": "F1"}.get(key, key)


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
