"""The package as it installs: the wheel built from this tree, installed with its dependencies into a
fresh venv (no site packages) and used from outside the source tree. Catches a package left out of
setup.cfg's `packages =` list, the menus left out of the wheel, and a command that does not start."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MENUS = {"main", "cluster_handling", "servers", "standby"}
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
                                    ".pytest_cache")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path             # the fresh venv's bin/
    elsewhere: Path       # an empty folder outside the source tree, the cwd of every command


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Built and installed once for the module: a copy of the tree is built (the build writes build/ and
    egg-info beside the sources, which must not land in the checkout)."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    shutil.copytree(REPO, source, ignore=NOT_COPIED, symlinks=True)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(source)], tmp)
    (wheel,) = (tmp / "dist").glob("*.whl")
    _run([sys.executable, "-m", "venv", str(tmp / "venv")], tmp)
    _run([str(tmp / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], tmp)
    (tmp / "elsewhere").mkdir()
    return Installed(wheel, tmp / "venv" / "bin", tmp / "elsewhere")


def test_the_wheel_holds_every_module_and_the_menus(installed: Installed) -> None:
    package = REPO / "mxone_maintenance"
    wanted = {f"mxone_maintenance/{p.relative_to(package)}" for p in package.rglob("*.py")}
    wanted |= {f"mxone_maintenance/menus/{p.name}" for p in (REPO / "menus").glob("*.yaml")}
    missing = sorted(wanted - set(zipfile.ZipFile(installed.wheel).namelist()))
    folders = sorted({name.rsplit("/", 1)[0].replace("/", ".") for name in missing})
    assert missing == [], f"not in the wheel (list the packages in setup.cfg): {', '.join(folders)}"


def test_the_menus_load_from_the_installed_package(installed: Installed) -> None:
    code = ("import mxone_maintenance.utility.ui.menu_tree as m; "
            "print(m.__file__); print(' '.join(sorted(m.load_tree())))")
    where, names = _run([str(installed.bin / "python"), "-c", code], installed.elsewhere).stdout.splitlines()
    assert Path(where).is_relative_to(installed.bin.parent) and not Path(where).is_relative_to(REPO)
    assert set(names.split()) == MENUS


@pytest.mark.parametrize("command", ["mxone_maintenance", "mxone-cluster-agent"])
def test_both_commands_start(installed: Installed, command: str) -> None:
    done = _run([str(installed.bin / command), "--help"], installed.elsewhere, timeout=60)
    assert done.stdout.startswith(f"usage: {command}")
