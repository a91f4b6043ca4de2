"""agent.yaml's problems name file, line and key, as system.yaml's do (agent/settings.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from mxone_maintenance.agent.settings import SettingsError, load_settings, parse_settings

FILE = Path("/etc/opt/eri_sn/agent.yaml")


@pytest.mark.parametrize("text, said", [
    ("node: lim1\nservice:\n  start: [sn]\nnodee: lim2\n",
     "/etc/opt/eri_sn/agent.yaml:4: nodee: unknown key (allowed: data_backup_hook, media_server, metrics, node, "
     "notify, notify_timeout_s, reboot, service, sync, traps)"),
    ("service:\n  start: [sn]\n  restart: [sn]\n",
     "/etc/opt/eri_sn/agent.yaml:3: service.restart: unknown key (allowed: check, check_failures, "
     "check_interval_s, check_timeout_s, reload, start, stop)"),
    ("service:\n  start: [sn]\n  stop: sn stop\n",
     "/etc/opt/eri_sn/agent.yaml:3: service.stop: must be a list of strings (got 'sn stop')"),
    ("\n\nsync:\n  bwlimit_kbps: -5\n",
     "/etc/opt/eri_sn/agent.yaml:4: sync.bwlimit_kbps: must be a positive integer (got -5)"),
    ("node: ' '\n", "/etc/opt/eri_sn/agent.yaml:1: node: must be a server name (got ' ')"),
    ("data_backup_hook: 3\n", "/etc/opt/eri_sn/agent.yaml:1: data_backup_hook: must be a list of strings (got 3)"),
    ("- lim1\n", "/etc/opt/eri_sn/agent.yaml:1: (top): must be a mapping (got ['lim1'])"),
    ("node: a\nnode: b\n", "/etc/opt/eri_sn/agent.yaml:2: node: duplicate key"),
])
def test_a_problem_is_one_line_with_file_line_and_key(text, said) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(text, FILE, "host")
    assert str(raised.value) == said


def test_empty_or_null_parts_are_the_defaults() -> None:
    for text in ("", "# nothing yet\n", "service: null\nsync:\n"):
        settings = parse_settings(text, FILE, "host")
        assert settings.node == "host" and settings.service_start == () and settings.sync_bwlimit_kbps is None


def test_a_file_that_is_not_text_or_not_a_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "agent.yaml"
    assert load_settings(path, "hostx").node == "hostx"        # no file: the defaults
    path.write_bytes(b"node: \xff\n")
    with pytest.raises(SettingsError, match=rf"^{path}:1: cannot read \(not UTF-8"):
        load_settings(path)
    path.unlink()
    os.mkfifo(path)                                             # read_text would block forever
    with pytest.raises(SettingsError, match=rf"^{path}: not a plain file$"):
        load_settings(path)
