"""YAML with line numbers: what the schemas need to name `FILE:LINE: KEY` in every problem.

Only `yaml.safe_load`-equivalent construction is used; duplicate keys are refused (YAML would keep the
last one silently).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class FileError(Exception):
    """A file that cannot be used; str() is one line naming file, line and key."""


class Map(dict):
    """A mapping that remembers the line of itself and of each key (1-based)."""
    line: int = 0
    key_lines: dict


class Seq(list):
    """A list that remembers the line of itself and of each item (1-based)."""
    line: int = 0
    item_lines: list


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records line numbers and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):  # noqa: D401 - yaml hook
        result = Map()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise FileError(f"{{file}}:{key_node.start_mark.line + 1}: a key must be a plain name, "
                                "not a list or mapping")
            if key in result:
                raise FileError(f"{{file}}:{key_node.start_mark.line + 1}: {key}: duplicate key")
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node, deep=False):
        result = Seq(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)


def parse_yaml(text: str, file: str) -> Any:
    """The document as Map / Seq / plain values; FileError (one line) if it is not valid YAML."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except FileError as err:
        raise FileError(str(err).replace("{file}", file)) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark else 0
        raise FileError(f"{file}:{line}: not valid YAML ({err.problem})") from None
    except yaml.YAMLError as err:                     # e.g. a control character: one line
        raise FileError(f"{file}: not valid YAML ({' '.join(str(err).split())})") from None
    except RecursionError:
        raise FileError(f"{file}: not valid YAML (nested too deeply)") from None


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise FileError(f"{path}: cannot read ({err})") from None
