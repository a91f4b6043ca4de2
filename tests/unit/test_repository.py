"""The checkout itself: it must work from any folder on any machine, so no tracked file may name the
absolute path of this checkout (or of the venv running the tests)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.fail(f"git ls-files failed in {REPO}: {listed.stderr.decode(errors='replace').strip()}")
    return [REPO / name for name in listed.stdout.decode().split("\0") if name]


def offenders(paths: list[Path], needles: set[str]) -> list[str]:
    """'FILE names NEEDLE' for each file that holds one of the needles."""
    found = []
    for path in paths:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.name} names {needle}" for needle in sorted(needles) if needle.encode() in data]
    return found


def test_no_tracked_file_names_this_checkouts_path():
    assert offenders(tracked_files(), {str(REPO), str(Path(sys.prefix))}) == []


def test_a_planted_checkout_path_is_found(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(f'PYTHON = "{REPO}/.venv/bin/python"\n')
    (tmp_path / "clean.py").write_text('PYTHON = sys.executable\n')
    assert offenders([planted, tmp_path / "clean.py"], {str(REPO)}) == [f"planted.py names {REPO}"]
