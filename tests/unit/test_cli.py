"""The command line of DESIGN §4, run in-process with `cli.main([...])` on a test tree (`--root`):
what it prints, its exit codes (0 ok, 1 failed, 2 invalid request or broken rule), and that `--dry-run`
changes nothing. Also the parsing of typed-in values (ops/requests.py) and the installed console script."""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.strategies import sample_cluster, sample_system

from mxone_maintenance.core import config as files
from mxone_maintenance.core.model import Server, System
from mxone_maintenance.core.rules import system_errors
from mxone_maintenance.utility import cli
from mxone_maintenance.utility.ops.requests import (
    LimSpec,
    RequestError,
    parse_address,
    parse_int,
    parse_lim_spec,
    parse_priority_assignment,
    parse_seconds,
)

SCRIPT = Path(sys.executable).with_name("mxone_maintenance")      # the venv running the tests


def rich_system() -> System:
    """lim1..lim5, sb1..sb3, spare1. Cluster c1: LIM 1, 2 with sb1 (LIM 2 locked to regular); c2: LIM 3 with sb2.
    Not in a cluster: lim4, lim5, sb3, spare1."""
    system = sample_system(lims=5)
    system = system.with_server(Server("sb2", files.parse_interface("10.77.0.21/24"), "standby"))
    system = system.with_server(Server("sb3", files.parse_interface("10.77.0.22/24"), "standby"))
    c1 = sample_cluster(system, (1, 2)).with_lim(2, lock="regular")
    c2 = sample_cluster(system, (3,), name="c2", standby="sb2")
    return system.replace_cluster(c1).replace_cluster(c2)


def write_system(root: Path, system: System) -> Path:
    path = root / "etc" / "opt" / "eri_sn" / "system.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(files.dump_system(system))
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_system(tmp_path, rich_system())
    return tmp_path


def test_output_goes_to_the_current_sys_stdout(root: Path) -> None:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(["--root", str(root), "cluster", "list"])
    assert code == 0
    assert buffer.getvalue().startswith("Cluster c1 (generation 1)")


def run(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


# --- cluster list ---------------------------------------------------------------------------------------

def test_cluster_list_text(capsys, root: Path) -> None:
    code, out, err = run(capsys, root, "cluster", "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:5] == ["Cluster c1 (generation 1)",
                         "  standby sb1, failover normal, fallback automatic, detect 60 s, heartbeat 1 s",
                         "  LIM  base            alias          priority  lock     server",
                         "  1    10.77.0.101/24  10.77.0.11/24  5         -        lim1",
                         "  2    10.77.0.102/24  10.77.0.12/24  5         regular  lim2"]
    assert lines[5:8] == ["", "Cluster c2 (generation 1)", "  standby sb2, failover normal, fallback automatic, "
                          "detect 60 s, heartbeat 1 s"]
    assert max(len(line) for line in lines) <= 80           # the menus show the same text in a box


def test_cluster_list_json(capsys, root: Path) -> None:
    code, out, err = run(capsys, root, "--json", "cluster", "list")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [c["cluster"] for c in data["clusters"]] == ["c1", "c2"]
    assert data["clusters"][0]["lims"][1] == {"lim": 2, "server": "lim2", "base": "10.77.0.102/24",
                                              "alias": "10.77.0.12/24", "priority": 5, "lock": "regular"}
    assert data["clusters"][0]["standby"] == {"server": "sb1", "base": "10.77.0.20/24"}


def test_cluster_list_of_an_empty_system(capsys, tmp_path: Path) -> None:
    write_system(tmp_path, sample_system())
    assert run(capsys, tmp_path, "cluster", "list") == (0, "No clusters in the system.\n", "")


# --- --dry-run of every changing subcommand --------------------------------------------------------------

CHANGING = {
    "create": (["cluster", "create", "--name", "c3", "--standby", "sb3", "--lim", "4:10.77.0.114",
                "--lim", "5:10.77.0.115:2"], ["lim4", "lim5", "sb3", "10.77.0.114/24", "/etc/opt/eri_sn/cluster.key",
                                              "remove old xdata versions"]),
    "change": (["cluster", "change", "--name", "c1", "--fallback", "manual", "--priority", "1=3"],
               ["lim1", "lim2", "sb1", "generation 2", "remove old xdata versions"]),
    "preload": (["cluster", "preload", "--name", "c2"], ["lim3", "sb2", "remove old xdata versions"]),
    "add-lim": (["cluster", "add-lim", "--name", "c1", "--lim", "4:10.77.0.114"],
                ["lim1", "lim2", "lim4", "sb1", "10.77.0.114/24", "remove old xdata versions"]),
    "remove-lim": (["cluster", "remove-lim", "--name", "c1", "--lim", "1"],
                   ["lim1", "lim2", "sb1", "remove base address 10.77.0.101/24", "remove old xdata versions"]),
    "delete": (["cluster", "delete", "--name", "c2"],
               ["lim3", "sb2", "remove /etc/opt/eri_sn/cluster.yaml", "remove old xdata versions"]),
    "fallback": (["cluster", "fallback", "--lim", "1"], ["order fallback of LIM 1 to lim1"]),
    "lock": (["cluster", "lock", "--lim", "1", "--to", "standby"], ["lim1", "lim2", "sb1", "generation 2"]),
    "unlock": (["cluster", "unlock", "--lim", "2"], ["lim1", "lim2", "sb1", "generation 2"]),
    "sync": (["cluster", "sync", "--name", "c1"], ["sb1", "sync"]),
    "server add": (["server", "add", "--name", "lim6", "--address", "10.77.0.16/24", "--lim", "6"],
                   ["lim6", "10.77.0.16/24"]),
    "server remove": (["server", "remove", "--name", "lim5"], ["lim5"]),
    "standby add": (["standby", "add", "--server", "spare1"], ["spare1"]),
    "standby remove": (["standby", "remove", "--server", "sb3"], ["sb3"]),
}


@pytest.mark.parametrize("name", list(CHANGING))
def test_dry_run_prints_the_plan_and_changes_nothing(capsys, root: Path, name: str) -> None:
    args, named = CHANGING[name]
    before = tree(root)
    code, out, err = run(capsys, root, *args, "--dry-run")
    assert (code, err) == (0, "")
    assert out.startswith("Plan: ")
    assert out.rstrip().endswith("Dry run: nothing was changed.")
    for value in named:
        assert value in out, (value, out)
    assert tree(root) == before                                 # system.yaml byte-identical, same mtime, no new file


@pytest.mark.parametrize("name", list(CHANGING))
def test_json_dry_run_is_parseable_json_with_the_plan(capsys, root: Path, name: str) -> None:
    args, named = CHANGING[name]
    before = tree(root)
    code, out, err = run(capsys, root, "--json", *args, "--dry-run")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["applied"] is False
    plan = data["plan"]
    assert plan["action"] == (name if " " in name else f"cluster {name}")
    shown = json.dumps(plan)
    for value in named:
        assert value in shown, (value, plan)
    assert tree(root) == before


# --- errors: one line on stderr, the right exit code --------------------------------------------------------

def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_broken_rule_exits_2_with_one_line(capsys, tmp_path: Path) -> None:
    write_system(tmp_path, sample_system(lims=11))
    before = tree(tmp_path)
    lims = [arg for n in range(1, 12) for arg in ("--lim", f"{n}:10.77.0.{110 + n}")]
    code, out, err = run(capsys, tmp_path, "cluster", "create", "--name", "big", "--standby", "sb1", *lims, "--yes")
    assert code == 2 and out == ""
    assert one_error_line(err) == "error: a cluster has at most 10 LIMs (got 11)"
    assert tree(tmp_path) == before


@pytest.mark.parametrize(("args", "expected"), [
    (["cluster", "lock", "--lim", "1", "--to", "standby"], None),           # fine: LIM 2 is locked to regular
    (["cluster", "preload", "--name", "c1"], "error: preloaded failover is only for one regular server and the "
                                             "standby (cluster c1 has 2 regular servers)"),
    (["cluster", "unlock", "--lim", "1"], "error: LIM 1 is not locked"),
    (["cluster", "add-lim", "--name", "c1", "--lim", "3:10.77.0.113"], "error: LIM server lim3 already belongs to "
                                                                        "cluster c2"),
    (["cluster", "change", "--name", "c1", "--detect-s", "1"], "error: detect_s must be at least three heartbeat "
                                                               "periods (detect_s 1, heartbeat_s 1)"),
    (["server", "remove", "--name", "lim1"], "error: cannot remove server lim1: server lim1 belongs to cluster c1"),
    (["cluster", "delete", "--name", "c9"], "error: no cluster named c9 (clusters: c1, c2)"),
])
def test_refusals_name_the_value(capsys, root: Path, args: list[str], expected: str | None) -> None:
    code, out, err = run(capsys, root, *args, "--dry-run")
    if expected is None:
        assert (code, err) == (0, "")
        return
    assert code == 2 and out == ""
    assert one_error_line(err) == expected


@pytest.mark.parametrize(("lim", "value"), [("x:1.2.3.4", "'x'"), ("1:999.1.1.1", "'999.1.1.1'"),
                                             ("1", "'1'"), ("1:10.77.0.111:high", "'high'"),
                                             ("1:10.77.0.0", "'10.77.0.0'")])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path: Path, lim: str, value: str) -> None:
    write_system(tmp_path, sample_system())
    code, out, err = run(capsys, tmp_path, "cluster", "create", "--name", "c1", "--standby", "sb1", "--lim", lim,
                         "--dry-run")
    assert code == 2 and out == ""
    assert value in one_error_line(err)


@pytest.mark.parametrize("args", [
    ["cluster", "remove-lim", "--name", "c1", "--lim", "one"],
    ["cluster", "change", "--name", "c1", "--detect-s", "fast"],
    ["cluster", "change", "--name", "c1", "--priority", "1:2"],
    ["server", "add", "--name", "x", "--address", "10.77.0.40"],
    ["server", "add", "--name", "x y", "--address", "10.77.0.40/24"],
])
def test_more_bad_input_exits_2_with_one_line(capsys, root: Path, args: list[str]) -> None:
    code, out, err = run(capsys, root, *args, "--dry-run")
    assert code == 2 and out == ""
    one_error_line(err)


def test_an_invalid_choice_is_one_line_and_main_returns_2(capsys, root: Path) -> None:
    try:
        code = cli.main(["--root", str(root), "cluster", "lock", "--lim", "1", "--to", "sideways", "--dry-run"])
        exited = False
    except SystemExit as exit_:
        code, exited = exit_.code, True
    _, err = capsys.readouterr()
    assert code == 2
    assert "'sideways'" in one_error_line(err)
    assert not exited


def test_a_missing_system_file_exits_1_naming_the_path(capsys, tmp_path: Path) -> None:
    code, out, err = run(capsys, tmp_path, "cluster", "list")
    assert code == 1 and out == ""
    assert one_error_line(err) == f"error: {tmp_path}/etc/opt/eri_sn/system.yaml: no such file"


def test_a_broken_system_file_exits_1_naming_file_and_line(capsys, tmp_path: Path) -> None:
    path = write_system(tmp_path, sample_system())
    path.write_text(path.read_text().replace("lim: 2}", "lim: two}"))
    code, out, err = run(capsys, tmp_path, "cluster", "list")
    assert code == 1
    assert one_error_line(err).startswith(f"error: {path}:")
    assert "servers[1].lim: must be a whole number (got 'two')" in err


def test_system_option_points_at_another_file(capsys, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text(files.dump_system(rich_system()))
    code = cli.main(["--root", str(tmp_path), "--system", str(other), "--json", "cluster", "list"])
    out, _ = capsys.readouterr()
    assert code == 0 and len(json.loads(out)["clusters"]) == 2


# --- --help -------------------------------------------------------------------------------------------------

HELP = [[], ["cluster"], ["server"], ["standby"]] + [["cluster", a] for a in (
    "list", "status", "create", "change", "preload", "add-lim", "remove-lim", "delete", "fallback", "lock", "unlock",
    "sync")] + [["server", "add"], ["server", "remove"], ["standby", "add"], ["standby", "remove"]]


@pytest.mark.parametrize("args", HELP, ids=lambda a: " ".join(a) or "top")
def test_help_of_every_subcommand(capsys, args: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main([*args, "--help"])
    out, err = capsys.readouterr()
    assert raised.value.code == 0 and err == ""
    assert out.startswith("usage: mxone_maintenance")
    if args[-1:] and args[0] == "cluster" and len(args) == 2 and args[1] not in ("list", "status"):
        assert "--dry-run" in out and "--yes" in out


# --- the installed console script -----------------------------------------------------------------------------

def test_the_console_script(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MXONE_ROOT", "MXONE_SYSTEM")}
    done = subprocess.run([str(SCRIPT), "--root", str(root), "--json", "cluster", "list"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [c["cluster"] for c in json.loads(done.stdout)["clusters"]] == ["c1", "c2"]
    done = subprocess.run([str(SCRIPT), "--root", str(root), "cluster", "preload", "--name", "c1", "--dry-run"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: preloaded failover is only for one regular server")


# --- typed-in values (ops/requests.py) -----------------------------------------------------------------------

def test_lim_specs() -> None:
    assert parse_lim_spec("1:10.77.0.111") == LimSpec(1, "10.77.0.111", None)
    assert parse_lim_spec(" 2:10.77.0.112/24:0 ") == LimSpec(2, "10.77.0.112/24", 0)
    for text, message in [("x:1.2.3.4", "LIM number must be a whole number (got 'x')"),
                          ("100:1.2.3.4", "LIM number must be from 1 to 99 (got 100)"),
                          ("1", "N:NEW_BASE[:PRIORITY]"), ("1:", "N:NEW_BASE[:PRIORITY]"),
                          ("1:2:3:4", "N:NEW_BASE[:PRIORITY]"),
                          ("1:10.77.0.1:1000", "priority of LIM 1 must be from 0 to 999 (got 1000)")]:
        with pytest.raises(RequestError, match=re.escape(message)):
            parse_lim_spec(text)


def test_priorities_seconds_and_addresses() -> None:
    assert parse_priority_assignment("2=1") == (2, 1)
    with pytest.raises(RequestError, match=r"N=P, e.g. 2=1 \(got '2:1'\)"):
        parse_priority_assignment("2:1")
    assert parse_seconds("0.3", "detect_s", 0.3, 3600) == 0.3
    for text in ("nan", "inf", "0.2", "fast"):
        with pytest.raises(RequestError, match="^detect_s must be"):
            parse_seconds(text, "detect_s", 0.3, 3600)
    assert parse_int(" 7 ", "LIM number", 1, 99) == 7
    assert str(parse_address("10.77.0.40/24")) == "10.77.0.40/24"
    with pytest.raises(RequestError, match=r"got '10.77.0.40'"):
        parse_address("10.77.0.40")


def test_a_bare_new_base_that_is_no_address_does_not_ask_for_a_prefix(capsys, tmp_path: Path) -> None:
    write_system(tmp_path, sample_system())
    code, _, err = run(capsys, tmp_path, "cluster", "create", "--name", "c1", "--standby", "sb1",
                       "--lim", "1:999.1.1.1", "--dry-run")
    assert code == 2
    assert one_error_line(err) == ("error: new base address must be an IPv4 address like 10.77.0.111 "
                                   "(/PREFIX optional) (got '999.1.1.1')")


def test_the_cli_fixture_is_a_valid_system() -> None:
    assert system_errors(rich_system()) == []


def test_allow_down_names_only_servers_the_change_touches(capsys, root: Path) -> None:
    before = tree(root)
    code, out, err = run(capsys, root, "cluster", "lock", "--lim", "1", "--to", "standby", "--allow-down", "lim9",
                         "--dry-run")
    assert code == 2 and out == ""
    assert one_error_line(err) == "error: --allow-down 'lim9': not a server this change touches (lim1, lim2, sb1)"
    code, out, err = run(capsys, root, "cluster", "lock", "--lim", "1", "--to", "standby", "--allow-down", "lim2",
                         "--dry-run")
    assert (code, err) == (0, "")
    assert ("  If lim2 does not answer: it is left out and takes generation 2 from its peers when it is back "
            "(--allow-down lim2).") in out.splitlines()
    assert tree(root) == before


def test_a_server_that_cannot_be_asked_or_a_bug_is_one_line_never_a_traceback(root, capsys, monkeypatch) -> None:
    """`cluster reboot` asks the standby what it serves before planning; a standby that does not answer
    (a RemoteError) used to escape as a traceback. Any exception a command lets out is one line too."""
    from mxone_maintenance.utility.ops import status
    from mxone_maintenance.utility.remote.errors import RemoteError
    from mxone_maintenance.utility.remote.settings import Host

    def standby_silent(*_args):
        raise RemoteError(Host("sb1", "10.77.0.20"), "cannot tell what runs on the standby: no SSH handshake")
    monkeypatch.setattr(status, "runtime_facts", standby_silent)
    code, out, err = run(capsys, root, "cluster", "reboot", "--server", "lim1", "--yes")
    assert (code, out) == (1, "")
    assert err == "error: sb1 (10.77.0.20): cannot tell what runs on the standby: no SSH handshake\n"

    def broken(*_args):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(status, "runtime_facts", broken)
    code, out, err = run(capsys, root, "--json", "cluster", "reboot", "--server", "lim1", "--yes")
    assert code == 1 and "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith("error: internal error (ZeroDivisionError: division by zero); please report it")
    assert json.loads(out) == {"ok": False, "error": err.removeprefix("error: ").strip(), "exit": 1}
