"""The architecture as a test: the import-linter contracts in pyproject.toml (the utility and the agent
never import each other, the core imports neither, the menus reach servers only through the operations,
...). A crossing fails the suite with import-linter's own report of the offending import chain."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and "KEPT" in result.stdout


def test_no_module_is_a_monolith():
    """Small modules with one idea each: none of the package is over ~400 lines."""
    big = {str(p.relative_to(REPO)): n for p in (REPO / "mxone_maintenance").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert big == {}
