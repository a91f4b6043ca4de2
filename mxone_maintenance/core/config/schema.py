"""The schema checks both files share: each takes a loaded value and where it stands, and returns the
value or raises FileError `FILE:LINE: KEY: problem (got VALUE)`; keys and values are shown escaped and
short (config/shown.py)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Interface
from typing import Any

from mxone_maintenance.core.config.loader import FileError, Map, Seq
from mxone_maintenance.core.config.shown import key_text, shown
from mxone_maintenance.core.config.values import MAX_INTERFACE_NAME, name_problem, parse_interface, \
    parse_server_interface

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Where:
    file: str
    line: int
    key: str

    def error(self, problem: str, value: Any = None, show_value: bool = True) -> FileError:
        got = f" (got {shown(value)})" if show_value else ""
        return FileError(f"{self.file}:{self.line}: {self.key}: {problem}{got}")


Check = Callable[[Any, Where], Any]


def top(data: Any, file: str) -> tuple[Map, Where]:
    """The document's top mapping and where its keys stand."""
    found = mapping(data, Where(file, 1, "(top)"))
    return found, Where(file, found.line, "")


def mapping(value: Any, where: Where) -> Map:
    if not isinstance(value, Map):
        raise where.error("must be a mapping", value)
    return value


def fields(data: Map, where: Where, required: set[str], optional: set[str]) -> None:
    """Refuse unknown keys (naming the allowed ones) and missing required ones."""
    for key in data:
        if key not in required | optional:
            line = data.key_lines.get(key, data.line)
            allowed = ", ".join(sorted(required | optional))
            raise Where(where.file, line, _join(where.key, key)).error(f"unknown key (allowed: {allowed})",
                                                                        show_value=False)
    for key in sorted(required - set(data)):
        raise Where(where.file, data.line, _join(where.key, key)).error("missing", show_value=False)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key_text(key)}" if prefix else key_text(key)


def at(data: Map, where: Where, key: str) -> Where:
    return Where(where.file, data.key_lines.get(key, data.line), _join(where.key, key))


def get(data: Map, where: Where, key: str, check: Check, default: Any = None) -> Any:
    if key not in data:
        return default
    return check(data[key], at(data, where, key))


def whole(low: int, high: int) -> Check:
    def check(value: Any, where: Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.error("must be a whole number", value)
        if not low <= value <= high:
            raise where.error(f"must be from {low} to {high}", value)
        return value
    return check


def number(low: float, high: float) -> Check:
    def check(value: Any, where: Where) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.error("must be a number", value)
        if not low <= value <= high:
            raise where.error(f"must be from {low:g} to {high:g}", value)
        return float(value)
    return check


def name(value: Any, where: Where) -> str:
    problem = name_problem(value)
    if problem:
        raise where.error(problem, value)
    return value


def interface_name(value: Any, where: Where) -> str:
    name(value, where)
    if len(value) > MAX_INTERFACE_NAME:
        raise where.error(f"an interface name has at most {MAX_INTERFACE_NAME} characters", value)
    return value


def choice(*options: str | None) -> Check:
    def check(value: Any, where: Where) -> Any:
        if value not in options:
            shown = ", ".join("null" if o is None else o for o in options)
            raise where.error(f"must be one of {shown}", value)
        return value
    return check


def address(value: Any, where: Where) -> IPv4Interface:
    try:
        return parse_interface(value)
    except ValueError as err:
        raise where.error(str(err), value) from None


def server_address(value: Any, where: Where) -> IPv4Interface:
    """An address a server can have (system.yaml): not loopback, multicast, 0.0.0.0 or broadcast."""
    try:
        return parse_server_interface(value)
    except ValueError as err:
        raise where.error(str(err), value) from None


def _list(value: Any, where: Where) -> Seq:
    if not isinstance(value, Seq):
        raise where.error("must be a list", value)
    return value


def items(data: Map, where: Where, key: str) -> list[tuple[Map, Where]]:
    """The mappings of the list under `key` (none if it is absent), each with where it stands."""
    seq = get(data, where, key, _list, default=Seq())
    out = []
    for index, item in enumerate(seq):
        line = seq.item_lines[index] if index < len(seq.item_lines) else seq.line
        item_where = Where(where.file, line, f"{_join(where.key, key)}[{index}]")
        out.append((mapping(item, item_where), item_where))
    return out


def unique(values: list[tuple[Any, Where]], what: str) -> None:
    seen: dict[Any, Where] = {}
    for value, where in values:
        if value in seen:
            raise where.error(f"duplicate {what} (also at line {seen[value].line})", str(value))
        seen[value] = where
