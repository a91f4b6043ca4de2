"""YAML with line numbers: what the schemas need to name `FILE:LINE: KEY` in every problem.

Only what the product's files use is read: mappings, lists, strings, numbers, true/false and null.
Refused, each with one line: duplicate keys (YAML would keep the last one silently), anchors and
aliases (a few lines of them expand to gigabytes, and no file of ours has any), nesting deeper than any
file of ours, tags for sets, binary data and the like, a number PyYAML cannot convert. A date-like value
stays the text it is. Nothing of any input ends in another exception than FileError.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from mxone_maintenance.core.config.shown import key_text, one_line, shown

MAX_DEPTH = 20                  # system.yaml is 6 deep (top, clusters, a cluster, lims, a LIM, a value)
MAX_FILE_BYTES = 1 << 20        # a system of 99 LIMs is some 30 kB
MAX_NUMBER_CHARS = 40           # a generation is at most 2**53: 16 digits


class FileError(Exception):
    """A file that cannot be used; str() is one line naming file, line and key (never a control
    character: whatever a value holds is escaped)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(str(message)))


class Map(dict):
    """A mapping that remembers the line of itself and of each key (1-based)."""
    line: int = 0
    key_lines: dict


class Seq(list):
    """A list that remembers the line of itself and of each item (1-based)."""
    line: int = 0
    item_lines: list


def _problem(node_or_event, problem: str) -> FileError:
    return FileError(f"{{file}}:{node_or_event.start_mark.line + 1}: not valid YAML ({problem})")


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records line numbers and refuses what the files never hold (see the module)."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D401 - yaml hook
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _problem(event, "anchors and aliases (& and *) are not used in this file")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _problem(event, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            raise _problem(node, "a mapping tag on a value that is not a mapping")
        result = Map()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise FileError(f"{{file}}:{key_node.start_mark.line + 1}: a key must be a plain name, "
                                "not a list or mapping")
            key = self.construct_object(key_node, deep=True)
            if key in result:
                raise FileError(f"{{file}}:{key_node.start_mark.line + 1}: {key_text(key)}: duplicate key")
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node, deep=False):
        if not isinstance(node, yaml.SequenceNode):
            raise _problem(node, "a list tag on a value that is not a list")
        result = Seq(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result

    def construct_text(self, node):
        """A date-like value is a string here: no file of ours holds a date."""
        return self.construct_scalar(node)

    def construct_refused(self, node):
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise _problem(node, f"the tag {tag} is not used in this file")


def _checked(convert, what: str):
    """A scalar constructor whose ValueError (e.g. `!!int abc`, an integer of 5000 digits) is one line."""
    def construct(loader: _LineLoader, node):
        if isinstance(node.value, str) and len(node.value) > MAX_NUMBER_CHARS:    # 1:2:3:... takes minutes
            raise _problem(node, f"{shown(node.value)} is too long for {what}")
        try:
            return convert(loader, node)
        except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError):
            raise _problem(node, f"{shown(node.value)} is not {what}") from None
    return construct


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _LineLoader.construct_text)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _checked(yaml.SafeLoader.construct_yaml_int, "a whole number"))
_LineLoader.add_constructor("tag:yaml.org,2002:float", _checked(yaml.SafeLoader.construct_yaml_float, "a number"))
_LineLoader.add_constructor("tag:yaml.org,2002:bool", _checked(yaml.SafeLoader.construct_yaml_bool, "true or false"))
for _tag in ("binary", "omap", "pairs", "set"):
    _LineLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _LineLoader.construct_refused)


def parse_yaml(text: str, file: str) -> Any:
    """The document as Map / Seq / plain values; FileError (one line) if it is not valid YAML."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except FileError as err:
        raise FileError(str(err).replace("{file}", file)) from None
    except yaml.reader.ReaderError as err:            # PyYAML says it in two lines, with a position
        line = text.count("\n", 0, err.position) + 1
        character = f"U+{err.character:04X}" if isinstance(err.character, int) else shown(err.character)
        raise FileError(f"{file}:{line}: not valid YAML (the character {character} is not allowed)") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark else 0
        raise FileError(f"{file}:{line}: not valid YAML ({err.problem})") from None
    except yaml.YAMLError as err:
        raise FileError(f"{file}: not valid YAML ({' '.join(str(err).split())})") from None
    except RecursionError:                            # MAX_DEPTH comes first; this is a last resort
        raise FileError(f"{file}: not valid YAML (nested too deeply)") from None


def read_text(path: Path, follow_link: bool = True) -> str:
    """The file's text. Refused with one line: no file, not a plain file (a FIFO would block, a device
    never end), a symbolic link when `follow_link` is False (named with its target, never read), over
    MAX_FILE_BYTES, not UTF-8."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_link else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileError(f"{path}: no such file") from None
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_link and path.is_symlink():
            raise FileError(f"{path}: is a symbolic link (to {_target(path)}), not the file itself; "
                            "give the file's own path") from None
        raise FileError(f"{path}: cannot read ({err.strerror})") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise FileError(f"{path}: not a plain file")
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise FileError(f"{path}: cannot read ({err.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileError(f"{path}: too big for this file (over {MAX_FILE_BYTES // 1024} kB)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise FileError(f"{path}:{line}: cannot read (not UTF-8 text: byte {data[err.start]:#04x})") from None


def _target(link: Path) -> str:
    try:
        return os.readlink(link)
    except OSError:
        return "?"
