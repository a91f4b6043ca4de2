"""system.yaml and cluster.yaml: every problem is ONE line `FILE:LINE: KEY: problem (got VALUE)`, a dump
parses back to the same value, and write_atomic leaves the old file or the new one, never half of one."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers.strategies import sample_cluster, sample_system, sample_with_cluster

from mxone_maintenance.core import config as files
from mxone_maintenance.core.config import FileError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "system.yaml"

SYSTEM = """\
# a system file
schema: 1
servers:
  - {name: lim1, address: 10.77.0.11/24, lim: 1}
  - {name: lim2, address: 10.77.0.12/24, lim: 2}
  - {name: sb1, address: 10.77.0.20/24, role: standby}
clusters: []
"""

CLUSTER = """\
schema: 1
cluster: c1
generation: 4
fallback: manual
standby: {server: sb1, base: 10.77.0.20/24}
lims:
  - {lim: 1, server: lim1, base: 10.77.0.101/24, alias: 10.77.0.11/24, priority: 2, lock: standby}
  - {lim: 2, server: lim2, base: 10.77.0.102/24, alias: 10.77.0.12/24}
"""


def _system_error(text: str) -> str:
    with pytest.raises(FileError) as raised:
        files.parse_system(text, "/etc/opt/eri_sn/system.yaml")
    message = str(raised.value)
    assert "\n" not in message
    return message


def _cluster_error(text: str) -> str:
    with pytest.raises(FileError) as raised:
        files.parse_cluster(text, "cluster.yaml")
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_good_system_file_loads() -> None:
    system = files.parse_system(SYSTEM)
    assert [s.name for s in system.servers] == ["lim1", "lim2", "sb1"]
    assert system.server("sb1").role == "standby" and system.server("lim2").lim == 2


def test_the_example_system_file_is_the_documented_sample() -> None:
    system = files.load_system(EXAMPLE)
    assert system == sample_system()
    assert system.clusters == ()


def test_a_good_cluster_file_loads_with_defaults() -> None:
    cluster = files.parse_cluster(CLUSTER)
    assert cluster.generation == 4 and cluster.fallback == "manual" and cluster.failover == "normal"
    assert cluster.detect_s == 60.0 and cluster.heartbeat_s == 1.0 and cluster.port == 7400
    assert cluster.lim(1).lock == "standby" and cluster.lim(1).priority == 2
    assert cluster.lim(2).lock is None and cluster.lim(2).priority == 5
    preloaded = files.parse_cluster(CLUSTER.replace("fallback: manual", "failover: preloaded"))
    assert preloaded.detect_s == 30.0


def test_bad_yaml_names_file_and_line() -> None:
    message = _system_error(SYSTEM.replace("  - {name: lim2, address: 10.77.0.12/24, lim: 2}",
                                           "  - {name: lim2, address: 10.77.0.12/24, lim: 2"))
    assert message.startswith("/etc/opt/eri_sn/system.yaml:")
    line = int(message.split(":")[1])
    assert line in (5, 6), message
    assert "not valid YAML" in message


def test_unknown_key_names_the_key_and_its_line() -> None:
    message = _system_error(SYSTEM.replace("lim: 2}", "lim: 2, colour: red}"))
    assert message.startswith("/etc/opt/eri_sn/system.yaml:5: servers[1].colour: unknown key")
    message = _system_error(SYSTEM + "extra: 1\n")
    assert message.startswith("/etc/opt/eri_sn/system.yaml:8: extra: unknown key")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("lim: 2}", "lim: two}", "system.yaml:5: servers[1].lim: must be a whole number (got 'two')"),
    ("lim: 2}", "lim: 100}", "system.yaml:5: servers[1].lim: must be from 1 to 99 (got 100)"),
    ("10.77.0.12/24", "10.77.0.300/24", "system.yaml:5: servers[1].address: must be an IPv4 address with prefix "
                                        "length, like 10.77.0.11/24 (got '10.77.0.300/24')"),
    ("10.77.0.12/24", "10.77.0.12", "system.yaml:5: servers[1].address: must be an IPv4 address with prefix "
                                    "length, like 10.77.0.11/24 (got '10.77.0.12')"),
    ("10.77.0.12/24", "10.77.0.255/24", "system.yaml:5: servers[1].address: is the network or broadcast address "
                                        "of its subnet (got '10.77.0.255/24')"),
    ("role: standby", "role: spare", "system.yaml:6: servers[2].role: must be one of lim, standby, free "
                                     "(got 'spare')"),
    ("{name: lim2,", "{name: lim1,", "system.yaml:5: servers[1].name: duplicate server name (also at line 4) "
                                     "(got 'lim1')"),
    ("10.77.0.12/24", "10.77.0.11/16", "system.yaml:5: servers[1].address: duplicate server address (also at line 4) "
                                       "(got '10.77.0.11')"),
    ("lim: 2}", "lim: 1}", "system.yaml:5: servers[1].lim: duplicate LIM number (also at line 4) (got '1')"),
    ("name: lim2", "name: lim 2", "system.yaml:5: servers[1].name: must be letters, digits, '-', '_' or '.' "
                                  "(got 'lim 2')"),
    ("schema: 1", "schema: 2", "system.yaml:2: schema: must be from 1 to 1 (got 2)"),
    ("clusters: []", "clusters: {}", "system.yaml:7: clusters: must be a list (got {})"),
])
def test_a_bad_value_is_one_line_with_file_line_and_key(old: str, new: str, expected: str) -> None:
    assert old in SYSTEM
    assert _system_error(SYSTEM.replace(old, new, 1)) == f"/etc/opt/eri_sn/{expected}"


def test_a_lim_server_without_lim_and_a_standby_with_one() -> None:
    assert _system_error(SYSTEM.replace(", lim: 2}", "}")) == (
        "/etc/opt/eri_sn/system.yaml:5: servers[1].lim: missing: a LIM server needs its LIM number "
        "(or role: standby | free)")
    assert _system_error(SYSTEM.replace("role: standby", "role: standby, lim: 7")) == (
        "/etc/opt/eri_sn/system.yaml:6: servers[2].lim: a standby server has no LIM (got 7)")


def test_duplicate_yaml_keys() -> None:
    assert _system_error(SYSTEM.replace("lim: 2}", "lim: 2, lim: 3}")) == (
        "/etc/opt/eri_sn/system.yaml:5: lim: duplicate key")
    assert _cluster_error(CLUSTER.replace("generation: 4\n", "generation: 4\ngeneration: 5\n")) == (
        "cluster.yaml:4: generation: duplicate key")


def test_a_list_as_a_key_is_a_file_error_not_a_crash() -> None:
    assert _system_error(SYSTEM.replace("lim: 2}", "lim: 2, [x]: 1}")) == (
        "/etc/opt/eri_sn/system.yaml:5: a key must be a plain name, not a list or mapping")


def test_duplicate_cluster_names_in_the_system_file() -> None:
    system = sample_with_cluster()
    text = files.dump_system(system.replace_cluster(sample_cluster(system, (1,), name="c2")))
    text = text.replace("cluster: c2", "cluster: c1")
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "cluster: c1"]
    assert len(lines) == 2
    assert _system_error(text) == (f"/etc/opt/eri_sn/system.yaml:{lines[1]}: clusters[1].cluster: duplicate cluster "
                                   f"name (also at line {lines[0]}) (got 'c1')")


def test_cluster_file_problems() -> None:
    assert _cluster_error(CLUSTER.replace("generation: 4\n", "")) == "cluster.yaml:1: generation: missing"
    assert _cluster_error(CLUSTER.replace("lock: standby", "lock: both")) == (
        "cluster.yaml:7: lims[0].lock: must be one of null, regular, standby (got 'both')")
    assert _cluster_error(CLUSTER.replace("lim: 2, server: lim2", "lim: 1, server: lim2")) == (
        "cluster.yaml:8: lims[1].lim: duplicate LIM number (also at line 7) (got '1')")
    assert _cluster_error(CLUSTER.replace("base: 10.77.0.20/24", "base: 10.77.0.20/24, port: 1")) == (
        "cluster.yaml:5: standby.port: unknown key (allowed: base, server)")
    assert _cluster_error(CLUSTER + "heartbeat_s: 0.01\n") == (
        "cluster.yaml:9: heartbeat_s: must be from 0.1 to 60 (got 0.01)")
    assert _cluster_error("- 1\n") == "cluster.yaml:1: (top): must be a mapping (got [1])"


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileError, match=f"^{tmp_path}/system.yaml: no such file$"):
        files.load_system(tmp_path / "system.yaml")


def test_the_dump_looks_like_the_design_and_parses_back() -> None:
    system = sample_with_cluster(fallback="manual")
    text = files.dump_system(system)
    assert "- {name: lim1, address: 10.77.0.11/24, lim: 1}\n" in text
    assert "{name: sb1, address: 10.77.0.20/24, role: standby}" in text
    assert files.parse_system(text) == system
    cluster_text = files.dump_cluster(system.cluster("c1"))
    assert cluster_text.startswith("# MX-ONE cluster configuration.")
    assert "generation: 1\n" in cluster_text and "lock: null" in cluster_text
    assert files.parse_cluster(cluster_text) == system.cluster("c1")


# --- write_atomic ---------------------------------------------------------------------------------------

def test_write_atomic_writes_with_the_mode(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        target = tmp_path / "etc" / "system.yaml"
        files.write_atomic(target, "schema: 1\n")
        assert target.read_text() == "schema: 1\n"
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        key = tmp_path / "etc" / "cluster.key"
        files.write_atomic(key, b"secret\n", mode=0o600)
        assert key.read_bytes() == b"secret\n"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        files.write_atomic(key, b"other\n", mode=0o600)
        assert key.read_bytes() == b"other\n"
        assert sorted(p.name for p in target.parent.iterdir()) == ["cluster.key", "system.yaml"]
    finally:
        os.umask(old_umask)


def test_write_atomic_keeps_the_old_file_when_the_rename_fails(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "system.yaml"
    target.write_text("old content\n")

    def broken_replace(src, dst):
        assert Path(src).read_bytes() == b"new content\n"       # the new content was complete before the rename
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(target, "new content\n")
    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["system.yaml"]          # no temp file left


def test_write_atomic_keeps_the_old_file_when_the_write_fails(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "cluster.key"
    target.write_bytes(b"old key\n")
    os.chmod(target, 0o600)

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        files.write_atomic(target, b"new key\n", mode=0o600)
    assert target.read_bytes() == b"old key\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cluster.key"]
