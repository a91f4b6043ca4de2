"""Hostile and broken input to the utility (issue 15, findings 10-12): whatever comes in, the technician
sees one clear line on stderr, exit 1 (the operation failed) or 2 (invalid request or broken rule), no
traceback, and nothing is changed. Run in-process with `cli.main([...])` on a test tree, like test_cli.

    10  crashes: YAML alias bombs, deep nesting, a cluster naming a server not in `servers` or without
        LIMs, an audit log that cannot be written, a closed output pipe, the menus without a terminal
    11  echoes: a value or key with a newline or an escape sequence, PyYAML's two-line reader errors, a
        very long value, a system.yaml that is a link to another file
    12  values the rules refuse: addresses no server can have, over-long names, look-alike letters,
        the same LIM twice in --priority
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.strategies import sample_cluster, sample_system

from mxone_maintenance.core import config as files
from mxone_maintenance.core.model import Server, System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.core.rules import system_errors
from mxone_maintenance.utility import cli
from mxone_maintenance.utility.cli.session import Session
from mxone_maintenance.utility.ops import servers as server_ops

SCRIPT = Path(sys.executable).with_name("mxone_maintenance")
ESC = "\x1b"


def rich_system() -> System:
    """lim1..lim5, sb1..sb3, spare1; cluster c1 (LIM 1, 2 with sb1), c2 (LIM 3 with sb2)."""
    system = sample_system(lims=5)
    system = system.with_server(Server("sb2", files.parse_interface("10.77.0.21/24"), "standby"))
    system = system.with_server(Server("sb3", files.parse_interface("10.77.0.22/24"), "standby"))
    return system.replace_cluster(sample_cluster(system, (1, 2))).replace_cluster(
        sample_cluster(system, (3,), name="c2", standby="sb2"))


def system_path(root: Path) -> Path:
    return root / "etc" / "opt" / "eri_sn" / "system.yaml"


def write_text(root: Path, text: str) -> Path:
    path = system_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_text(tmp_path, files.dump_system(rich_system()))
    return tmp_path


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def run(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, prefix: str = "error: ") -> str:
    """The one line the technician sees: printable throughout (no ESC, no second line), short."""
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    line = err[:-1]
    assert line.startswith(prefix), line
    assert line.isprintable(), repr(line)
    assert "Traceback" not in line
    return line


def refused(capsys, root: Path, code: int, *args: str) -> str:
    """The command ends with `code`, one error line, no output, and no file of the tree changed."""
    before = tree(root)
    got, out, err = run(capsys, root, *args)
    assert (got, out) == (code, ""), (got, out, err)
    assert tree(root) == before
    return one_line(err)


# --- 10: what used to end in a traceback -------------------------------------------------------------

def alias_bomb(levels: int) -> str:
    """The billion laughs: each level nine references to the one before (9**levels strings)."""
    lines = ["schema: 1", "clusters:", '  - &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  - &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels + 1)]
    return "\n".join(lines + [f"servers: [*a{levels}]", ""])


def test_a_yaml_alias_bomb_is_refused_at_its_first_anchor(capsys, tmp_path: Path) -> None:
    path = write_text(tmp_path, alias_bomb(6))
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert line == f"error: {path}:3: not valid YAML (anchors and aliases (& and *) are not used in this file)"


def test_a_single_alias_is_refused_too(capsys, tmp_path: Path) -> None:
    text = files.dump_system(rich_system()).replace("  cluster: c1\n", "  cluster: &name c1\n", 1)
    path = write_text(tmp_path, text)
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    number = text.splitlines().index("  cluster: &name c1") + 1
    assert line.startswith(f"error: {path}:{number}: not valid YAML (anchors and aliases")


def test_deep_nesting_is_one_line_with_its_line(capsys, tmp_path: Path) -> None:
    path = write_text(tmp_path, "schema: 1\nservers: " + "[" * 30 + "]" * 30 + "\n")
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert line == f"error: {path}:2: not valid YAML (nested more than 20 levels deep)"


def with_ghost(root: Path, old: str, new: str) -> Path:
    text = files.dump_system(rich_system())
    assert old in text
    return write_text(root, text.replace(old, new, 1))


@pytest.mark.parametrize("args", [["cluster", "delete", "--name", "c1"],
                                  ["cluster", "remove-lim", "--name", "c1", "--lim", "1"],
                                  ["cluster", "preload", "--name", "c1"]])
def test_a_cluster_naming_a_server_not_in_servers(capsys, tmp_path: Path, args: list[str]) -> None:
    path = with_ghost(tmp_path, "server: lim2", "server: ghost")
    line = refused(capsys, tmp_path, 1, *args, "--dry-run")
    assert line.startswith(f"error: {path}:")
    assert line.endswith(": clusters[0].lims[1].server: not a server in servers (got 'ghost')")


def test_a_cluster_whose_standby_is_not_in_servers(capsys, tmp_path: Path) -> None:
    path = with_ghost(tmp_path, "server: sb1", "server: sbx")
    line = refused(capsys, tmp_path, 1, "cluster", "delete", "--name", "c1", "--dry-run")
    assert line.startswith(f"error: {path}:")
    assert line.endswith(": clusters[0].standby.server: not a server in servers (got 'sbx')")


@pytest.mark.parametrize("args", [["cluster", "preload", "--name", "c2"], ["cluster", "delete", "--name", "c2"]])
def test_a_cluster_without_lims(capsys, tmp_path: Path, args: list[str]) -> None:
    text = files.dump_system(rich_system())
    start = text.index("  lims:", text.index("cluster: c2"))
    path = write_text(tmp_path, text[:start] + "  lims: []\n")
    line = refused(capsys, tmp_path, 1, *args, "--dry-run")
    assert line.startswith(f"error: {path}:") and line.endswith(": clusters[1].lims: a cluster needs at least one LIM")


def unwritable_audit_log(root: Path) -> Path:
    log = root / "var" / "log" / "mxone_maintenance.log"
    log.mkdir(parents=True)                     # root may write anywhere: a folder in its place is unwritable
    return log


def test_an_unwritable_audit_log_refuses_the_change_before_it_is_made(capsys, root: Path) -> None:
    log = unwritable_audit_log(root)
    line = refused(capsys, root, 1, "standby", "remove", "--server", "sb3", "--yes")
    assert line == f"error: cannot write the audit log: {log} is not a plain file; nothing was changed"


def test_a_dry_run_needs_no_audit_log(capsys, root: Path) -> None:
    unwritable_audit_log(root)
    code, out, err = run(capsys, root, "standby", "remove", "--server", "sb3", "--dry-run")
    assert (code, err) == (0, "") and out.rstrip().endswith("Dry run: nothing was changed.")


def test_an_audit_log_that_fails_after_the_change_is_a_warning(capsys, root: Path, monkeypatch) -> None:
    """The log broke between the check and the change (a full disk): the change stands, exit 0, and the
    audit line is not lost: it is in the warning."""
    monkeypatch.setattr(Session, "check_audit_log", lambda self: None)
    plan_remove_standby = server_ops.plan_remove_standby       # system.yaml only: sb3 is not here to clean
    monkeypatch.setattr(server_ops, "plan_remove_standby",
                        lambda system, request: replace(plan_remove_standby(system, request), servers=()))
    log = unwritable_audit_log(root)
    code, out, err = run(capsys, root, "standby", "remove", "--server", "sb3", "--yes")
    assert code == 0 and "Done: make sb3 a free server again" in out
    line = one_line(err, "warning: ")
    assert line.startswith(f"warning: the audit log {log} could not be written (")
    assert "action='standby remove'" in line and "result=ok" in line
    assert files.load_system(system_path(root)).server("sb3").role == "free"


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_output_into_a_closed_pipe(capsys, root: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = cli.main(["--root", str(root), "cluster", "list"])
    assert code == 1
    assert one_line(capsys.readouterr().err) == \
        "error: the output was closed before everything was printed (broken pipe)"


def test_a_change_whose_plan_cannot_be_shown_is_not_applied(capsys, root: Path, monkeypatch) -> None:
    before = tree(root)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["--root", str(root), "standby", "remove", "--server", "sb3", "--yes"]) == 1
    assert "broken pipe" in one_line(capsys.readouterr().err)
    assert tree(root) == before


def test_the_console_script_into_a_closed_pipe(root: Path) -> None:
    """For real: the reading end is gone before the first byte; Python must not add its own report."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([str(SCRIPT), "--root", str(root), "cluster", "list"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60, env=_env())
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert one_line(done.stderr) == "error: the output was closed before everything was printed (broken pipe)"


def test_a_progress_line_into_a_closed_pipe_does_not_stop_a_change_half_way(root: Path) -> None:
    session = Session(paths=Paths(root), system_file=system_path(root), json=False,
                      dry_run=False, yes=True, accept_new_host_key=False, out=ClosedPipe())
    session.progress("lim1", "staged")                          # called from apply_plan: must not raise


def test_a_system_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """Reading a FIFO would wait for a writer forever; /dev/zero would never end."""
    fifo = tmp_path / "system.yaml"
    os.mkfifo(fifo)
    for target in (fifo, Path("/dev/zero")):
        done = subprocess.run([str(SCRIPT), "--root", str(tmp_path), "--system", str(target), "cluster", "list"],
                              capture_output=True, text=True, timeout=30, env=_env())
        assert (done.returncode, done.stdout) == (1, "")
        assert one_line(done.stderr) == f"error: {target}: not a plain file"


def test_a_system_file_over_a_megabyte_is_refused(capsys, tmp_path: Path) -> None:
    path = write_text(tmp_path, "schema: 1\n" + "#" * (1 << 20) + "\n")
    assert refused(capsys, tmp_path, 1, "cluster", "list") == f"error: {path}: too big for this file (over 1024 kB)"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MXONE_ROOT", "MXONE_SYSTEM")}


NO_TERMINAL = ("error: the menus need a terminal (there is none here); without one, run a subcommand: "
               "mxone_maintenance cluster|server|standby ... (see mxone_maintenance --help)")


def test_the_menus_without_a_terminal(capsys, root: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    before = tree(root)
    code, out, err = run(capsys, root)
    assert (code, out) == (1, "")
    assert one_line(err) == NO_TERMINAL
    assert tree(root) == before                                 # not even the menus' UI log


def test_the_console_script_menus_from_dev_null(root: Path) -> None:
    done = subprocess.run([str(SCRIPT), "--root", str(root)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60, env=_env(), start_new_session=True)
    assert (done.returncode, done.stdout) == (1, "")
    assert one_line(done.stderr) == NO_TERMINAL


# --- 11: values echoed escaped, one line per error -----------------------------------------------------

def test_a_key_with_a_newline_cannot_forge_a_second_error_line(capsys, tmp_path: Path) -> None:
    path = write_text(tmp_path, 'schema: 1\n"x\\nerror: all servers wiped": 1\n')
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert line == (f"error: {path}:2: 'x\\nerror: all servers wiped': unknown key (allowed: clusters, schema, "
                    "servers)")


def test_a_key_with_an_escape_sequence_does_not_reach_the_terminal(capsys, tmp_path: Path) -> None:
    write_text(tmp_path, 'schema: 1\nservers:\n  - {name: lim1, address: 10.77.0.11/24, lim: 1, "\\e[2J": 1}\n')
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert ESC not in line and "servers[0].'\\x1b[2J': unknown key" in line


def test_a_typed_in_value_with_a_newline_or_escape_stays_on_its_line(capsys, root: Path) -> None:
    line = refused(capsys, root, 2, "cluster", "delete", "--name", "c9\nerror: forged", "--dry-run")
    assert line == "error: no cluster named c9\\nerror: forged (clusters: c1, c2)"
    line = refused(capsys, root, 2, "cluster", "list", f"{ESC}[2J")
    assert ESC not in line and "\\x1b[2J" in line


def test_a_control_character_in_the_file_is_one_line_with_its_line(capsys, tmp_path: Path) -> None:
    path = write_text(tmp_path, "schema: 1\nservers: [\x07]\n")
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert line == f"error: {path}:2: not valid YAML (the character U+0007 is not allowed)"


def test_a_very_long_value_is_shown_short(capsys, tmp_path: Path) -> None:
    write_text(tmp_path, f"schema: 1\nservers:\n  - {{name: {'x' * 5000}!, address: 10.77.0.11/24, lim: 1}}\n")
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert "servers[0].name: must be letters" in line and len(line) < 300


def test_a_system_file_linked_to_another_file_is_named_not_read(capsys, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\n")
    path = system_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.symlink_to(secret)
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert "very-secret-hash" not in line
    assert line == f"error: {path}: is a symbolic link (to {secret}), not the file itself; give the file's own path"


# --- 12: values the rules refuse -------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "kind"), [("0.0.0.0/32", "0.0.0.0/8 means this network"),
                                               ("127.0.0.1/8", "127.0.0.0/8 is loopback"),
                                               ("224.0.0.5/24", "224.0.0.0/4 is multicast"),
                                               ("255.255.255.255/32", "255.255.255.255 is broadcast"),
                                               ("240.0.0.1/24", "240.0.0.0/4 is reserved"),
                                               ("169.254.3.4/16", "169.254.0.0/16 is link-local")])
def test_an_address_no_server_can_have(capsys, root: Path, address: str, kind: str) -> None:
    line = refused(capsys, root, 2, "server", "add", "--name", "lim9", "--address", address, "--lim", "9",
                   "--dry-run")
    assert line == f"error: server address cannot be a server's address ({kind}) (got '{address}')"


def test_a_new_base_address_no_server_can_have(capsys, root: Path) -> None:
    line = refused(capsys, root, 2, "cluster", "add-lim", "--name", "c1", "--lim", "4:127.0.0.4", "--dry-run")
    assert line == "error: new base address cannot be a server's address (127.0.0.0/8 is loopback) (got '127.0.0.4')"


def test_a_loopback_server_in_the_system_file(capsys, tmp_path: Path) -> None:
    path = write_text(tmp_path, "schema: 1\nservers:\n  - {name: lim1, address: 127.0.0.11/8, lim: 1}\n")
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert line == (f"error: {path}:3: servers[0].address: cannot be a server's address (127.0.0.0/8 is "
                    "loopback) (got '127.0.0.11/8')")


def test_the_rules_refuse_such_an_address_in_any_system() -> None:
    system = rich_system()
    server = system.server("spare1")
    system = system.with_server(Server("spare1", files.parse_interface("224.0.0.9/24"), server.role))
    assert [(e.rule, e.message) for e in system_errors(system)] == [
        ("usable-address", "the address 224.0.0.9 of server spare1 cannot be a server's address "
                           "(224.0.0.0/4 is multicast)")]


@pytest.mark.parametrize("name", ["-oProxyCommand", ".", "..", "_lim"])
def test_a_name_must_start_with_a_letter_or_digit(capsys, root: Path, name: str) -> None:
    line = refused(capsys, root, 2, "server", "add", f"--name={name}", "--address", "10.77.0.40/24", "--dry-run")
    assert line == (f"error: server name must be letters, digits, '-', '_' or '.', starting with a letter or "
                    f"digit (got {name!r})")


def test_a_name_longer_than_a_host_name(capsys, root: Path) -> None:
    line = refused(capsys, root, 2, "server", "add", "--name", "a" * 64, "--address", "10.77.0.40/24",
                   "--dry-run")
    assert line.startswith("error: server name must be at most 63 characters (it has 64) (got 'aaaa")
    assert len(line) < 200
    line = refused(capsys, root, 2, "cluster", "create", "--name", "c" * 300, "--standby", "sb3",
                   "--lim", "4:10.77.0.114", "--dry-run")
    assert line.startswith("error: cluster name must be at most 63 characters (it has 300)")


def test_sixty_three_characters_are_a_name(capsys, root: Path) -> None:
    code, out, err = run(capsys, root, "server", "add", "--name", "a" * 63, "--address", "10.77.0.40/24", "--dry-run")
    assert (code, err) == (0, "")


def test_a_name_with_a_look_alike_letter(capsys, root: Path) -> None:
    line = refused(capsys, root, 2, "server", "add", "--name", "l\u0456m9", "--address", "10.77.0.40/24",
                   "--dry-run")
    assert line == ("error: server name must be letters, digits, '-', '_' or '.', in ASCII (U+0456 is not an "
                    "ASCII letter or digit) (got 'l\u0456m9')")


def test_a_look_alike_letter_in_the_system_file(capsys, tmp_path: Path) -> None:
    path = write_text(tmp_path, "schema: 1\nservers:\n  - {name: \u0441b1, address: 10.77.0.20/24, role: standby}\n")
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert line.startswith(f"error: {path}:3: servers[0].name: must be letters") and "U+0441" in line


def test_an_interface_name_longer_than_linux_allows(capsys, tmp_path: Path) -> None:
    text = files.dump_system(rich_system()).replace("interface: eth0", "interface: enp0s31f6-vlan1234", 1)
    path = write_text(tmp_path, text)
    line = refused(capsys, tmp_path, 1, "cluster", "list")
    assert line.startswith(f"error: {path}:") and "clusters[0].interface: an interface name has at most 15" in line


def test_the_same_lim_twice_in_priority(capsys, root: Path) -> None:
    line = refused(capsys, root, 2, "cluster", "change", "--name", "c1", "--priority", "1=3", "--priority", "1=4",
                   "--dry-run")
    assert line == "error: the priority of LIM 1 is given twice (1=3 and 1=4); give each LIM once"
