"""apply_changes: all servers change or none does, checked on three real sshds.

All sshds run on this machine, so each "server" gets its own folder tree; the files a test looks at
after a failed change must be byte-identical (content and mode) to before, with no hidden leftovers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import sshd_server

from mxone_maintenance.utility.remote import transaction
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.fleet import Fleet
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection
from mxone_maintenance.utility.remote.transaction import (
    Change,
    RemoveFile,
    RemoveTree,
    RunCommand,
    WriteFile,
    apply_changes,
)

NAMES = ["lim1", "lim2", "sb1"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd_server.Servers]:
    with sshd_server.running(tmp_path_factory.mktemp("sshd"), count=3) as s:
        yield s


@pytest.fixture(scope="module")
def settings(servers: sshd_server.Servers, tmp_path_factory: pytest.TempPathFactory) -> SshSettings:
    kh = servers.known_hosts(tmp_path_factory.mktemp("kh") / "known_hosts")
    return SshSettings(key_file=servers.client_key, known_hosts=kh)


@pytest.fixture
def progress() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def fleet(servers: sshd_server.Servers, settings: SshSettings,
          progress: list[tuple[str, str]]) -> Iterator[Fleet]:
    hosts = [Host(name, "127.0.0.1", s.port) for name, s in zip(NAMES, servers.sshds, strict=True)]
    with Fleet(hosts, settings, progress=lambda h, m: progress.append((h, m))) as f:
        yield f


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, Path]:
    """Each host's tree: etc/cluster.yaml (old), etc/cluster.key, xdata/xdata_2_1/ and xdata_2_2/."""
    out = {}
    for name in NAMES:
        root = tmp_path / name
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "cluster.yaml").write_bytes(f"generation: 1 # {name}\n".encode())
        (root / "etc" / "cluster.yaml").chmod(0o640)
        (root / "etc" / "cluster.key").write_bytes(b"old-key")
        (root / "etc" / "cluster.key").chmod(0o600)
        for version in ("xdata_2_1", "xdata_2_2"):
            (root / "xdata" / version).mkdir(parents=True)
            (root / "xdata" / version / "reload").write_bytes(version.encode() * 100)
        out[name] = root
    return out


def snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under root with its mode and content: what "byte-identical to before" compares."""
    out: dict[str, tuple[int, bytes | None]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            mode = path.lstat().st_mode
            out[str(path.relative_to(root))] = (mode, None if path.is_dir() else path.read_bytes())
    return out


def hidden_leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(".*")]


def full_change(root: Path, marker: Path) -> list[Change]:
    """A realistic cluster change: new config (overwrite), new file, drop key, drop old xdata, command."""
    return [
        WriteFile(str(root / "etc" / "cluster.yaml"), b"generation: 2\n", 0o644),
        WriteFile(str(root / "etc" / "agent.yaml"), b"node: x\n", 0o600),
        RemoveFile(str(root / "etc" / "cluster.key")),
        RemoveTree(str(root / "xdata" / "xdata_2_1")),
        RunCommand(("touch", str(marker)), undo=("rm", "-f", str(marker)), describe="mark"),
    ]


def test_success_changes_every_host_and_cleans_up(fleet: Fleet, roots: dict[str, Path], tmp_path: Path,
                                                  progress: list[tuple[str, str]]) -> None:
    changes = {n: full_change(roots[n], tmp_path / f"marker-{n}") for n in NAMES}
    report = apply_changes(fleet, changes)
    assert (report.ok, report.failed_host, report.error) == (True, None, "")
    assert report.per_host == dict.fromkeys(NAMES, "committed")
    for name, root in roots.items():
        assert (root / "etc" / "cluster.yaml").read_bytes() == b"generation: 2\n"
        assert (root / "etc" / "cluster.yaml").stat().st_mode & 0o777 == 0o644
        assert (root / "etc" / "agent.yaml").stat().st_mode & 0o777 == 0o600
        assert not (root / "etc" / "cluster.key").exists()
        assert os.listdir(root / "xdata") == ["xdata_2_2"]
        assert (tmp_path / f"marker-{name}").exists()
        assert hidden_leftovers(root) == []
    lim1 = [m for h, m in progress if h == "lim1"]
    assert lim1 == ["connecting", "staging 2 files", "committing", "done"]


def test_precheck_refusal_changes_nothing(fleet: Fleet, roots: dict[str, Path], tmp_path: Path) -> None:
    before = {n: snapshot(r) for n, r in roots.items()}

    def precheck(conn: Connection) -> None:
        if conn.host.name == "lim2":
            raise RemoteError(conn.host, "only 1 GB free, 3 GB needed")

    changes = {n: full_change(roots[n], tmp_path / f"marker-{n}") for n in NAMES}
    report = apply_changes(fleet, changes, precheck=precheck)
    assert not report.ok and report.failed_host == "lim2"
    assert report.error.startswith("staging failed on lim2 (127.0.0.1:")
    assert report.error.endswith("only 1 GB free, 3 GB needed; no server was changed")
    assert report.per_host["lim1"] == report.per_host["sb1"] == "unchanged"
    assert report.per_host["lim2"].startswith("FAILED: lim2 (")
    for name, root in roots.items():
        assert snapshot(root) == before[name]
        assert not (tmp_path / f"marker-{name}").exists()


def test_staging_failure_on_one_host_removes_temps_everywhere(fleet: Fleet, roots: dict[str, Path],
                                                              tmp_path: Path) -> None:
    """sb1's target folder does not exist: the others already uploaded temps and backups."""
    before = {n: snapshot(r) for n, r in roots.items()}
    changes = {n: full_change(roots[n], tmp_path / f"marker-{n}") for n in NAMES}
    changes["sb1"] = [*changes["sb1"], WriteFile(str(roots["sb1"] / "missing" / "f.yaml"), b"x")]
    report = apply_changes(fleet, changes)
    assert not report.ok and report.failed_host == "sb1"
    assert "missing" in report.error and report.error.endswith("no server was changed")
    assert "\n" not in report.error
    for name, root in roots.items():
        assert snapshot(root) == before[name]
        assert hidden_leftovers(root) == []


def test_commit_failure_on_second_host_rolls_back_first(fleet: Fleet, roots: dict[str, Path],
                                                        tmp_path: Path, progress: list[tuple[str, str]]) -> None:
    """lim2's last command exits 1 after lim1 and sb1 committed everything: all is undone."""
    before = {n: snapshot(r) for n, r in roots.items()}
    log = tmp_path / "commands.log"
    changes: dict[str, list[Change]] = {}
    for name in NAMES:
        changes[name] = [
            *full_change(roots[name], tmp_path / f"marker-{name}"),
            RunCommand(("sh", "-c", f"echo add {name} >> {log}"), undo=("sh", "-c", f"echo del {name} >> {log}")),
        ]
    changes["lim2"].append(RunCommand(("sh", "-c", "sleep 0.3; echo 'RTNETLINK answers: File exists' >&2; exit 1"),
                                      describe="add alias"))
    report = apply_changes(fleet, changes)
    assert not report.ok and report.failed_host == "lim2"
    assert "RTNETLINK answers: File exists" in report.error
    assert report.error.startswith("commit failed on lim2 (")
    assert report.error.endswith("every server was rolled back")
    assert report.per_host["lim1"] == report.per_host["sb1"] == "rolled back"
    assert report.per_host["lim2"].startswith("FAILED: ") and report.per_host["lim2"].endswith("(rolled back)")
    for name, root in roots.items():
        assert snapshot(root) == before[name], name
        assert hidden_leftovers(root) == []
        assert not (tmp_path / f"marker-{name}").exists()
        lines = [line for line in log.read_text().splitlines() if line.endswith(name)]
        assert lines == [f"add {name}", f"del {name}"]
    assert ("lim1", "rolled back") in progress


def test_commands_are_undone_in_reverse_order(fleet: Fleet, roots: dict[str, Path], tmp_path: Path) -> None:
    log = tmp_path / "log"

    def cmd(text: str) -> tuple[str, ...]:
        return ("sh", "-c", f"echo {text} >> {log}")

    changes: dict[str, list[Change]] = {"lim1": [
        RunCommand(cmd("add1"), undo=cmd("del1")),
        RunCommand(cmd("add2"), undo=cmd("del2")),
        RunCommand(cmd("no-undo")),
        RunCommand(("false",)),
    ]}
    report = apply_changes(fleet, changes)
    assert report.failed_host == "lim1" and report.per_host == {"lim1": report.per_host["lim1"]}
    assert log.read_text().split() == ["add1", "add2", "no-undo", "del2", "del1"]


def test_hosts_without_changes_are_unchanged_and_missing_targets_are_fine(
        fleet: Fleet, roots: dict[str, Path]) -> None:
    changes: dict[str, list[Change]] = {
        "lim1": [RemoveFile(str(roots["lim1"] / "etc" / "nope")), RemoveTree(str(roots["lim1"] / "nope"))],
        "sb1": [],
    }
    before = snapshot(roots["lim1"])
    report = apply_changes(fleet, changes)
    assert report.ok and report.per_host == {"lim1": "committed", "sb1": "unchanged"}
    assert snapshot(roots["lim1"]) == before


def test_unreachable_host_fails_staging_and_others_stay(servers: sshd_server.Servers, settings: SshSettings,
                                                        roots: dict[str, Path]) -> None:
    hosts = [Host("lim1", "127.0.0.1", servers[0].port), Host("lim2", "127.0.0.1", sshd_server.free_port())]
    before = snapshot(roots["lim1"])
    with Fleet(hosts, replace(settings, connect_timeout=0.3)) as fleet:
        report = apply_changes(fleet, {
            "lim1": [WriteFile(str(roots["lim1"] / "etc" / "cluster.yaml"), b"new")],
            "lim2": [WriteFile(str(roots["lim2"] / "etc" / "cluster.yaml"), b"new")],
        })
    assert report.failed_host == "lim2" and "connection refused" in report.error
    assert report.per_host["lim1"] == "unchanged"
    assert snapshot(roots["lim1"]) == before


def test_invalid_requests_are_refused_before_touching_servers(fleet: Fleet) -> None:
    with pytest.raises(ValueError, match="not in the fleet"):
        apply_changes(fleet, {"lim9": []})
    with pytest.raises(ValueError, match="absolute"):
        apply_changes(fleet, {"lim1": [WriteFile("etc/x", b"")]})
    with pytest.raises(ValueError, match="twice"):
        apply_changes(fleet, {"lim1": [WriteFile("/x", b""), RemoveFile("/x")]})


def test_connection_lost_during_commit_is_rolled_back_over_a_new_one(
        fleet: Fleet, roots: dict[str, Path], tmp_path: Path) -> None:
    """lim2's session dies mid-commit (its sshd process is killed): rollback reconnects and undoes it."""
    before = {n: snapshot(r) for n, r in roots.items()}
    changes = {n: full_change(roots[n], tmp_path / f"marker-{n}") for n in NAMES}
    changes["lim2"].append(RunCommand(("sh", "-c", "kill -9 $PPID; sleep 5")))
    report = apply_changes(fleet, changes)
    assert report.failed_host == "lim2" and "connection lost" in report.error
    assert report.error.endswith("every server was rolled back")
    for name, root in roots.items():
        assert snapshot(root) == before[name], name
        assert hidden_leftovers(root) == []
        assert not (tmp_path / f"marker-{name}").exists()


def test_many_overwritten_files_are_each_restored_from_their_own_backup(fleet: Fleet, roots: dict[str, Path]) -> None:
    """Twelve files overwritten then rolled back: each gets its own old content back (backups of the tenth
    file on are named by positional parameters past $9, which sh reads wrongly without braces)."""
    etc = roots["lim1"] / "etc"
    for n in range(12):
        (etc / f"file{n}").write_bytes(f"old {n}\n".encode())
    before = snapshot(roots["lim1"])
    changes: dict[str, list[Change]] = {"lim1": [WriteFile(str(etc / f"file{n}"), b"new\n") for n in range(12)]}
    changes["lim1"].append(RunCommand(("false",), describe="fail at the end"))

    report = apply_changes(fleet, changes)

    assert not report.ok
    assert snapshot(roots["lim1"]) == before
    assert hidden_leftovers(roots["lim1"]) == []


def test_new_files_are_on_disk_before_the_commit_and_the_renames_after(
        fleet: Fleet, roots: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that loses power right after a change comes back with the old file or the new one, never
    an empty one: the staged files are fsynced before any rename, their folders after the renames."""
    ran: list[tuple[str, list[str]]] = []
    real_run = Connection.run

    def recording_run(self: Connection, argv, *args, **kwargs):
        ran.append((self.host.name, list(argv)))
        return real_run(self, argv, *args, **kwargs)

    monkeypatch.setattr(Connection, "run", recording_run)
    changes = {n: full_change(roots[n], tmp_path / f"marker-{n}") for n in NAMES}
    assert apply_changes(fleet, changes).ok
    lim1 = [argv for host, argv in ran if host == "lim1"]
    syncs = [argv for argv in lim1 if argv[0] == "sync"]
    etc, xdata = str(roots["lim1"] / "etc"), str(roots["lim1"] / "xdata")
    assert len(syncs) == 2
    staged = syncs[0][2:]
    assert {Path(p).parent for p in staged} == {Path(etc)} and len(staged) == 4   # 2 new, 2 backups
    assert all(Path(p).name.startswith(".") for p in staged)
    assert lim1.index(syncs[0]) < lim1.index(["touch", str(tmp_path / "marker-lim1")])  # before the commit
    assert syncs[1] == ["sync", "--", etc, xdata]


def test_a_failed_folder_sync_after_the_commit_is_reported_not_undone(
        fleet: Fleet, roots: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once every host committed, the agents may already run the new config: a failure to sync the
    folders then is reported with the host, and the change stays."""
    real_flush = transaction._flush

    def failing_on_lim1_folders(conn: Connection, paths) -> None:
        if conn.host.name == "lim1" and not any(Path(p).name.startswith(".") for p in paths):
            raise RemoteError(conn.host, "sync: Input/output error")
        real_flush(conn, paths)

    monkeypatch.setattr(transaction, "_flush", failing_on_lim1_folders)
    changes = {n: full_change(roots[n], tmp_path / f"marker-{n}") for n in NAMES}
    report = apply_changes(fleet, changes)
    assert report.ok
    assert report.per_host["lim1"].startswith("committed (clean-up left: sync the changed folders to disk: ")
    assert report.per_host["lim2"] == report.per_host["sb1"] == "committed"
    for root in roots.values():
        assert (root / "etc" / "cluster.yaml").read_bytes() == b"generation: 2\n"


def test_a_rolled_back_write_with_undo_data_rolls_forward(fleet: Fleet, roots: dict[str, Path]) -> None:
    """The old settings come back as a newer generation where the new file was committed (agents that
    read generation 2 never go back to 1); where nothing was committed the old file stays."""
    changes: dict[str, list[Change]] = {
        name: [WriteFile(str(roots[name] / "etc" / "cluster.yaml"), b"generation: 2\n", 0o644,
                         undo_data=b"generation: 3 # old settings\n")] for name in NAMES}
    changes["sb1"].append(RunCommand(("sh", "-c", "sleep 0.3; exit 1"), describe="fail late"))
    report = apply_changes(fleet, changes)
    assert not report.ok and report.failed_host == "sb1"
    assert report.rolled_forward == frozenset(NAMES)
    assert report.rollback_incomplete == ()
    for name, root in roots.items():
        assert (root / "etc" / "cluster.yaml").read_bytes() == b"generation: 3 # old settings\n", name
        assert hidden_leftovers(root) == [], name


def test_undo_data_is_discarded_when_staging_fails(fleet: Fleet, roots: dict[str, Path]) -> None:
    changes: dict[str, list[Change]] = {
        name: [WriteFile(str(roots[name] / "etc" / "cluster.yaml"), b"generation: 2\n", 0o644,
                         undo_data=b"generation: 3\n")] for name in NAMES}
    changes["sb1"].append(WriteFile(str(roots["sb1"] / "missing" / "x"), b"x"))
    report = apply_changes(fleet, changes)
    assert not report.ok and report.rolled_forward == frozenset()
    for name, root in roots.items():
        assert (root / "etc" / "cluster.yaml").read_bytes() == f"generation: 1 # {name}\n".encode()
        assert hidden_leftovers(root) == [], name
