"""Values as a message shows them: escaped, so that a newline or an escape sequence in a value can never
make a second line or reach the terminal, and short, so that a value is never a screenful."""
from __future__ import annotations

from typing import Any

MAX_SHOWN = 60          # characters of a value in a message
_ITEMS = 4              # items of a list or mapping
_PLAIN_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def one_line(text: str) -> str:
    """`text` with every character that is not printable written as its escape (\\n, \\x1b, \\u2028):
    one line, no control sequence. Printable text comes back unchanged (so this may be applied twice)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(value: Any) -> str:
    """`value` as in repr(), at most about MAX_SHOWN characters: every character printable."""
    text = _short(value, 2)
    return text if len(text) <= MAX_SHOWN + 5 else text[:MAX_SHOWN] + "..."


def key_text(key: Any) -> str:
    """A mapping key in a message: a plain name as it is, anything else as `shown`."""
    if isinstance(key, str) and key and len(key) <= MAX_SHOWN and set(key) <= _PLAIN_KEY:
        return key
    return shown(key)


def _short(value: Any, depth: int) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= MAX_SHOWN else repr(value[:MAX_SHOWN]) + "..."
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 128 else f"<a number of {value.bit_length()} bits>"
    if isinstance(value, dict):
        if depth == 0:
            return "{...}" if value else "{}"
        parts = [f"{_short(k, depth - 1)}: {_short(v, depth - 1)}" for k, v in list(value.items())[:_ITEMS]]
        return "{" + ", ".join(parts + (["..."] if len(value) > _ITEMS else [])) + "}"
    if isinstance(value, (list, tuple)):
        if depth == 0:
            return "[...]" if value else "[]"
        parts = [_short(item, depth - 1) for item in value[:_ITEMS]]
        return "[" + ", ".join(parts + (["..."] if len(value) > _ITEMS else [])) + "]"
    return one_line(repr(value))[:MAX_SHOWN]
