"""One change at a time: a second run while a change is applied is refused with who holds it, and a
plan made from an inventory that changed since is refused; in both cases nothing is changed."""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from helpers.strategies import sample_system

from mxone_maintenance.core import config
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops import servers as server_ops
from mxone_maintenance.utility.ops.apply import apply_plan
from mxone_maintenance.utility.ops.change_lock import lock_path, one_change
from mxone_maintenance.utility.ops.requests import RemoveServer
from mxone_maintenance.utility.remote.settings import SshSettings


def inventory(tmp_path: Path) -> tuple[Path, Paths]:
    system = sample_system(lims=3)
    path = tmp_path / "etc/opt/eri_sn/system.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(config.dump_system(system))
    return path, Paths(root=tmp_path)


def removed(system, name: str):
    """A change of system.yaml only (what the lock guards): the server's cleaning is left out."""
    return replace(server_ops.plan_remove_server(system, RemoveServer(name)), servers=())


def settings(tmp_path: Path) -> SshSettings:
    return SshSettings(key_file=tmp_path / "no-key", known_hosts=tmp_path / "known_hosts")


def test_two_plans_from_one_read_the_second_is_refused(tmp_path):
    path, paths = inventory(tmp_path)
    system = config.load_system(path)
    first = removed(system, "lim3")
    second = removed(system, "lim2")
    assert apply_plan(first, paths, path, settings(tmp_path)).ok
    after_first = path.read_text()
    result = apply_plan(second, paths, path, settings(tmp_path))
    assert not result.ok
    assert result.message == (f"{path} changed since this plan was made (another change?); look at it again and "
                              "plan anew; nothing was changed")
    assert path.read_text() == after_first
    assert [s.name for s in config.load_system(path).servers if s.name.startswith("lim")] == ["lim1", "lim2"]


def test_a_run_while_another_holds_the_lock_is_refused_with_who_and_since(tmp_path, monkeypatch):
    path, paths = inventory(tmp_path)
    before = path.read_text()
    plan = removed(config.load_system(path), "lim3")
    monkeypatch.setenv("SUDO_USER", "alice")
    with one_change(path, "cluster create"):
        result = apply_plan(plan, paths, path, settings(tmp_path))
    assert not result.ok
    assert re.fullmatch(rf"another change is running: cluster create by alice \(pid {os.getpid()}\) since "
                        r"\d\d:\d\d:\d\d; nothing was changed", result.message)
    assert path.read_text() == before
    assert apply_plan(plan, paths, path, settings(tmp_path)).ok, "the lock is free again afterwards"
    assert oct(lock_path(path).stat().st_mode & 0o777) == "0o600"


def test_a_lock_that_cannot_be_made_is_one_line_and_changes_nothing(tmp_path):
    path, paths = inventory(tmp_path)
    plan = removed(config.load_system(path), "lim3")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    result = apply_plan(plan, paths, blocked / "system.yaml", settings(tmp_path))
    assert not result.ok
    assert result.message.startswith(f"cannot open the change lock {blocked}/system.yaml.lock: ")
    assert result.message.endswith("; nothing was changed")


def test_an_unfinished_change_refuses_every_other_change_and_names_it(tmp_path):
    from mxone_maintenance.utility.ops.journal import Journal, write_journal

    path, paths = inventory(tmp_path)
    system = config.load_system(path)
    write_journal(path, Journal("cluster lock", "lock LIM 1 to the standby server", "tech", 0.0, system, system))
    before = path.read_text()
    result = apply_plan(removed(system, "lim3"), paths, path, settings(tmp_path))
    assert not result.ok
    assert result.message.startswith("an interrupted change is not finished: lock LIM 1 to the standby server "
                                     "(cluster lock, started ")
    assert "by tech); finish it with `mxone_maintenance cluster finish` or undo it with `cluster undo` first; " \
           "nothing was changed" in result.message
    assert path.read_text() == before
