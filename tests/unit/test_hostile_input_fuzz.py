"""Fuzzing the system.yaml loader (issue 15): any bytes in, a System or one clean FileError out, never
another exception. A FileError is one printable line (no newline, no escape sequence), short apart from
the file's own path; whatever the loader accepts dumps and loads back the same.

Three sources of input: any bytes; YAML-ish token soup (anchors, aliases, tags, brackets, control
characters, look-alike letters, long numbers); and a valid system.yaml with bytes inserted, deleted or
replaced. The command line gets a share too: exit 0 or one `error:` line with exit 1.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from helpers.strategies import sample_cluster, sample_system, systems
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mxone_maintenance.core import config as files
from mxone_maintenance.core.model import System
from mxone_maintenance.utility import cli

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATH_MARK = "<PATH>"


def _valid_text() -> str:
    system = sample_system(lims=3)
    return files.dump_system(system.replace_cluster(sample_cluster(system, (1, 2))))


VALID = _valid_text()

TOKENS = ["schema", "servers", "clusters", "name", "address", "lim", "lims", "role", "standby", "server", "base",
          "alias", "priority", "lock", "cluster", "generation", "interface", "1", "0", "-1", "10.77.0.11/24",
          "127.0.0.1/8", "0.0.0.0/32", "lim1", "sb1", "c1", ": ", ":", "- ", "-", "[", "]", "{", "}", ", ", "\n",
          "\n  ", "  ", "\t", "'", '"', "\\", "#", "&a ", "*a", "&b ", "*b", "<<: ", "? ", "!!int ", "!!str ",
          "!!set ", "!!map ", "!!seq ", "!!binary ", "!!timestamp ", "!!float ", "!!bool ", "!!null ", "!!omap ",
          "!!python/object:os.system ", "!<tag:yaml.org,2002:int> ", "!local ", "%YAML 1.1\n", "%TAG ! x:\n",
          "---\n", "...\n", "|\n", ">\n", "2001-13-45", "0x" + "f" * 50, "1" * 5000, "1:2" * 30, ".nan", ".inf",
          "~", "null", "yes", "\x1b[2J", "\x07", "\x00", "\x85", "\u2028", "\ufeff", "\u0430", "\ud800", "é", "☃"]


def check_loaded_or_one_line(load) -> System | None:
    try:
        system = load()
    except files.FileError as err:
        line = str(err)
        assert line and line.isprintable(), repr(line)
        assert len(line.replace(PATH_MARK, "")) <= 400, line
        return None
    assert isinstance(system, System)
    assert files.parse_system(files.dump_system(system)) == system      # what loads, dumps and loads back
    return system


def _load_bytes(data: bytes) -> System | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "system.yaml"
        path.write_bytes(data)
        return check_loaded_or_one_line(lambda: _named(path))


def _named(path: Path) -> System:
    try:
        return files.load_system(path)
    except files.FileError as err:
        message = str(err)
        assert message.startswith(str(path)), message
        raise files.FileError(message.replace(str(path), PATH_MARK)) from None


@SETTINGS
@given(st.binary(max_size=2000))
@example(b"\xff\xfe\x00")
@example(b"a: &a [*a]")
@example(b"schema: 2001-13-45\n")                    # a date PyYAML cannot build: ValueError
def test_any_bytes_load_or_give_one_line(data: bytes) -> None:
    _load_bytes(data)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
@example("schema: 1\nservers: [" * 60)
@example("schema: 1\nclusters: [!!set {a}]\n")
@example("? !!set {a: 1}\n: 1\n")
def test_yaml_token_soup_loads_or_gives_one_line(text: str) -> None:
    check_loaded_or_one_line(lambda: files.parse_system(text, PATH_MARK))


@st.composite
def mutated(draw) -> bytes:
    """The valid file with a few edits: bytes or tokens inserted, bytes deleted or replaced."""
    data = bytearray(VALID.encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["insert", "token", "delete", "replace"]))
        if how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "token":
            data[at:at] = draw(st.sampled_from(TOKENS)).encode("utf-8", "surrogatepass")
        elif how == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        else:
            data[at:at + 1] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


@SETTINGS
@given(mutated())
@example(VALID.replace("lim: 2}", "lim: !!int two}").encode())
@example(VALID.replace("priority: 5", "priority: " + "9" * 5000, 1).encode())
def test_a_damaged_system_file_loads_or_gives_one_line(data: bytes) -> None:
    _load_bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(systems(max_clusters=2))
def test_every_valid_system_loads_back(system: System) -> None:
    """The refusals added for hostile input refuse nothing the utility writes."""
    assert check_loaded_or_one_line(lambda: files.parse_system(files.dump_system(system))) == system


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
@example(VALID.replace("schema: 1", "schema: !!bool maybe", 1).encode())
@example(VALID.replace("server: lim2", "server: ghost", 1).encode())
def test_the_command_line_on_a_damaged_file_is_ok_or_one_error_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "etc" / "opt" / "eri_sn" / "system.yaml"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--root", folder, "cluster", "list"])
    if code == 0:
        assert err.getvalue() == "" and out.getvalue()
        return
    assert code == 1 and out.getvalue() == ""
    text = err.getvalue()
    assert text.count("\n") == 1 and text.startswith(f"error: {path}") and text[:-1].isprintable(), repr(text)
