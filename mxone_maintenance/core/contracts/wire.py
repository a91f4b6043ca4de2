"""Frozen dataclasses to and from JSON values, checked field by field against their type hints.

What comes from another host is data, not trusted code: `decode` accepts exactly the shapes the hints
name (an int is no bool, a float is finite, a tuple is a JSON list, an enum is one of its values, a
dataclass is an object with every field's key; unknown keys are ignored) and raises WireError, one
line naming the path of the first bad value, for anything else. A dataclass may add keys derived
from its fields to what `encode` writes with a `wire_extra()` method (decode ignores them), and
check its values in `__post_init__` (a ValueError there is a WireError too).
"""
from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


class WireError(ValueError):
    """A JSON value that does not have the expected shape; str() is one line with the path."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def encode(value: Any) -> Any:
    """The JSON value (dicts, lists, str, numbers, bool, None) of a dataclass, enum, tuple or scalar.
    Scalars first and the field names once per class: the agent encodes its status every few cycles."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _field_names(kind)
    if names is not None:
        out = {name: encode(getattr(value, name)) for name in names}
        extra = getattr(value, "wire_extra", None)
        return {**out, **encode(extra())} if extra is not None else out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [encode(item) for item in value]
    if isinstance(value, Mapping):
        return {key: encode(item) for key, item in value.items()}
    return value


@cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """A dataclass's field names (None: not a dataclass)."""
    return tuple(f.name for f in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else None


def decode(kind: type[T], value: Any, where: str = "") -> T:
    """`value` as a `kind` (a dataclass, or any type hint below); raises WireError."""
    return _decode(kind, value, where or getattr(kind, "__name__", "value"))


def _decode(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint), value, where)
    if origin is tuple:
        item_hint = typing.get_args(hint)[0]
        return tuple(_decode(item_hint, item, f"{where}[{i}]") for i, item in enumerate(_list(value, where)))
    if origin in (dict, Mapping):
        return _mapping(typing.get_args(hint)[1], value, where)
    if dataclasses.is_dataclass(hint):
        return _dataclass(hint, value, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum(hint, value, where)
    return _scalar(hint, value, where)


def _union(arms: tuple[Any, ...], value: Any, where: str) -> Any:
    if value is None and type(None) in arms:
        return None
    problems = []
    for arm in (a for a in arms if a is not type(None)):
        try:
            return _decode(arm, value, where)
        except WireError as exc:
            problems.append(str(exc))
    raise WireError(problems[0] if len(problems) == 1 else f"{where}: {_shown(value)} fits none of its types")


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise WireError(f"{where}: {_shown(value)} is not a list")
    return value


def _mapping(item_hint: Any, value: Any, where: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise WireError(f"{where}: {_shown(value)} is not an object")
    return {key: _decode(item_hint, item, f"{where}.{_key(key)}") for key, item in value.items()}


def _key(key: str) -> str:
    """A key in an error's path: as it is when short and printable, else quoted (one line, short)."""
    return key if key.isprintable() and len(key) <= 40 else reprlib.repr(key)


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _dataclass(kind: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise WireError(f"{where}: {_shown(value)} is not an object")
    hints, values = _hints(kind), {}
    for f in (f for f in dataclasses.fields(kind) if f.init):
        if f.name not in value:
            raise WireError(f"{where}: no {f.name!r}")
        values[f.name] = _decode(hints[f.name], value[f.name], f"{where}.{f.name}")
    try:
        return kind(**values)
    except (ValueError, TypeError) as exc:
        raise WireError(f"{where}: {exc}") from None


def _enum(kind: type[Enum], value: Any, where: str) -> Enum:
    if isinstance(value, str):
        for member in kind:
            if member.value == value:
                return member
    raise WireError(f"{where}: {_shown(value)} is not a {kind.__name__}")


def _scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is type(None) and value is None:
        return None
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            raise WireError(f"{where}: {_shown(value)} is out of range") from None
        if math.isfinite(number):
            return number
    if hint is str and isinstance(value, str):
        return value
    raise WireError(f"{where}: {_shown(value)} is not {getattr(hint, '__name__', hint)}")


def _shown(value: Any) -> str:
    """A bad value as the error shows it: short, however large or deep it is."""
    return reprlib.repr(value)
