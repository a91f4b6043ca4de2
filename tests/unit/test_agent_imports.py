"""The agent's daemon imports only what it uses (issue 20: an idle agent's RSS): what the utility,
the web server or a rare command needs stays out of it. Each check runs in a fresh interpreter, where
sys.modules is what `mxone-cluster-agent run` would load."""
from __future__ import annotations

import json
import subprocess
import sys

# What the daemon's path loads: the entry point, and what run() imports when it starts.
DAEMON = ("mxone_maintenance.agent.main", "mxone_maintenance.agent.effects", "mxone_maintenance.agent.events",
          "mxone_maintenance.agent.heartbeat")
# Heavy and unused there (RSS measured alone, Python 3.11): importlib.metadata ~4.7 MB (email, csv,
# zipfile), statistics ~0.9 MB (fractions, decimal), ctypes ~0.4 MB, asyncio ~9.6 MB, tempfile ~0.7 MB
# (random, with shutil); paramiko and urwid are the utility's.
HEAVY = ("paramiko", "urwid", "importlib.metadata", "statistics", "decimal", "fractions", "asyncio", "ctypes",
         "email", "csv", "zipfile", "ssl", "http", "xml", "multiprocessing", "concurrent", "tempfile", "random")


def loaded_by(*modules: str) -> set[str]:
    code = "import json, sys\n" + "".join(f"import {name}\n" for name in modules) + \
        "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_the_daemon_does_not_import_heavy_modules() -> None:
    loaded = loaded_by(*DAEMON)
    heavy = sorted(name for name in loaded if name in HEAVY or name.split(".")[0] in HEAVY)
    assert heavy == [], f"the agent's daemon imports {heavy}: import them where they are used"


def test_the_version_is_still_there_when_asked() -> None:
    done = subprocess.run([sys.executable, "-m", "mxone_maintenance.agent.main", "--version"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("mxone-cluster-agent ") and done.stderr == ""
