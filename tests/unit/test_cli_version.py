"""What technicians expect of a Linux tool: `--version` on both programs, `python -m mxone_maintenance`,
and with `--json` an error as one JSON object on stdout (docs/INTERFACES.md), beside its stderr line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.strategies import sample_system

from mxone_maintenance.core import config as files
from mxone_maintenance.core.version import product_version
from mxone_maintenance.utility import cli
from mxone_maintenance.utility.cli.main import wants_json

BIN = Path(sys.executable).parent       # the venv running the tests


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MXONE_ROOT", "MXONE_SYSTEM")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("program", ["mxone_maintenance", "mxone-cluster-agent"])
def test_version_of_both_programs(program: str, tmp_path: Path) -> None:
    done = _run([str(BIN / program), "--version"], tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{program} {product_version()}\n", "")
    assert product_version() != "unknown", "the project is installed in the venv"


def test_python_m_mxone_maintenance_is_the_utility(tmp_path: Path) -> None:
    done = _run([sys.executable, "-m", "mxone_maintenance", "--version"], tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"mxone_maintenance {product_version()}\n", "")
    done = _run([sys.executable, "-m", "mxone_maintenance", "--root", str(tmp_path), "--json", "cluster", "list"],
                tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"] == f"{tmp_path}/etc/opt/eri_sn/system.yaml: no such file"


# --- --json errors ----------------------------------------------------------------------------------------

def run(capsys, root: Path, *args: str) -> tuple[int, dict, str]:
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    assert out.count("\n") == 1, out                  # one object, on one line
    return code, json.loads(out), err


def write_system(root: Path, lims: int = 2) -> None:
    path = root / "etc" / "opt" / "eri_sn" / "system.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(files.dump_system(sample_system(lims=lims)))


def test_a_broken_rule_with_json_is_one_object_and_its_line(capsys, tmp_path: Path) -> None:
    write_system(tmp_path, lims=11)
    lims = [arg for n in range(1, 12) for arg in ("--lim", f"{n}:10.77.0.{110 + n}")]
    code, data, err = run(capsys, tmp_path, "--json", "cluster", "create", "--name", "big", "--standby", "sb1",
                          *lims, "--yes")
    assert code == 2
    assert data == {"ok": False, "error": "a cluster has at most 10 LIMs (got 11)", "exit": 2}
    assert err == "error: a cluster has at most 10 LIMs (got 11)\n"


@pytest.mark.parametrize("json_word", ["--json", "--js"])
def test_bad_words_with_json_are_one_object(capsys, tmp_path: Path, json_word: str) -> None:
    write_system(tmp_path)
    code, data, err = run(capsys, tmp_path, "cluster", "lock", "--lim", "1", "--to", "sideways", json_word)
    assert code == 2 and data["exit"] == 2 and data["ok"] is False
    assert "'sideways'" in data["error"] and err == f"error: {data['error']}\n"


def test_a_failure_with_json_exits_1(capsys, tmp_path: Path) -> None:
    code, data, err = run(capsys, tmp_path, "--json", "cluster", "list")
    assert (code, data["exit"]) == (1, 1)
    assert err.startswith("error: ") and err.count("\n") == 1


def test_without_json_stdout_stays_empty(capsys, tmp_path: Path) -> None:
    assert cli.main(["--root", str(tmp_path), "cluster", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ")


@pytest.mark.parametrize(("words", "expected"), [
    (["--json"], True), (["cluster", "list", "--js"], True), (["--j"], True), (["--"], False),
    (["cluster", "--", "--json"], False), (["--jsonx"], False), (["-j"], False), ([], False),
])
def test_wants_json_reads_the_words(words: list[str], expected: bool) -> None:
    assert wants_json(words) is expected
