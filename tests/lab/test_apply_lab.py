"""Applying cluster changes to real servers: OpenSSH in network namespaces, real addresses, real files.

Each test starts from a fresh lab (no cluster) and looks at what a technician would look at: the exit
code and output of the utility, the files on every host, the addresses on every host's interface.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mxone_maintenance.core import config as files
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops.apply import apply_plan
from mxone_maintenance.utility.ops.cluster import plan_create
from mxone_maintenance.utility.ops.requests import CreateCluster, parse_lim_spec
from mxone_maintenance.utility.remote.ssh import SshSettings

UTILITY = Path(sys.executable).with_name("mxone_maintenance")
ETC = "/etc/opt/eri_sn"


def utility(lab, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **lab.env}
    return subprocess.run([str(UTILITY), *args], capture_output=True, text=True, env=env, timeout=120)


def host_file(lab, host: str, path: str) -> bytes | None:
    result = subprocess.run([str(lab.script), "exec", host, "cat", path], capture_output=True)
    return result.stdout if result.returncode == 0 else None


def etc_listing(lab, host: str) -> list[str]:
    return sorted(lab.exec(host, "ls", "-A", ETC).stdout.split())


def snapshot(lab) -> dict:
    """What a change could touch: files under /etc/opt/eri_sn, xdata versions and addresses, per server."""
    return {host: (etc_listing(lab, host), lab.exec(host, "ls", "-A", "/var/opt/eri_sn/xdata", check=False).stdout,
                   sorted(lab.addresses(host)))
            for host in lab.servers}


CREATE_3 = ["cluster", "create", "--name", "c1", "--standby", "sb1", "--lim", "1:10.77.0.111",
            "--lim", "2:10.77.0.112:1", "--lim", "3:10.77.0.113", "--yes"]


@pytest.fixture
def lab3(lab_up):
    return lab_up(3).reset(3)


def test_create_three_lim_cluster_writes_every_host_and_adds_base_addresses(lab3):
    for _ in range(2):
        lab3.exec("lim1", "data_backup")

    result = utility(lab3, *CREATE_3)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Plan: create cluster c1" in result.stdout
    assert "Done:" in result.stdout
    configs = {host: host_file(lab3, host, f"{ETC}/cluster.yaml") for host in lab3.servers}
    assert len(set(configs.values())) == 1, "every member holds the same cluster.yaml"
    cluster = files.parse_cluster(configs["sb1"].decode())
    assert (cluster.name, cluster.generation, [i.lim for i in cluster.lims]) == ("c1", 1, [1, 2, 3])
    keys = {host: host_file(lab3, host, f"{ETC}/cluster.key") for host in lab3.servers}
    assert len(set(keys.values())) == 1 and len(keys["lim1"].strip()) == 64
    for host in lab3.servers:
        assert lab3.exec(host, "stat", "-c", "%a", f"{ETC}/cluster.key").stdout.strip() == "600"
    for n in (1, 2, 3):
        assert {f"10.77.0.{110 + n}/24", f"10.77.0.{10 + n}/24"} <= set(lab3.addresses(f"lim{n}"))
    assert len(lab3.exec("lim1", "ls", "/var/opt/eri_sn/xdata").stdout.split()) == 1, "only the newest xdata kept"
    system = files.load_system(lab3.system_file)
    assert system.cluster("c1").lims[1].priority == 1
    log = (Path(lab3.env["MXONE_ROOT"]) / "var/log/mxone_maintenance.log").read_text()
    assert "cluster create" in log.splitlines()[-1] and "result=ok" in log.splitlines()[-1]


def test_a_server_dying_while_staging_leaves_every_server_unchanged(lab3):
    before = snapshot(lab3)
    system_before = lab3.system_file.read_bytes()
    system = files.load_system(lab3.system_file)
    plan = plan_create(system, CreateCluster("c1", "sb1", tuple(parse_lim_spec(s) for s in
                                                                 ("1:10.77.0.111", "2:10.77.0.112", "3:10.77.0.113"))),
                       b"k" * 64 + b"\n")
    killed = []

    def progress(server: str, message: str) -> None:
        if server == "lim3" and "stag" in message and not killed:    # lim3's power goes as it stages
            killed.append(server)
            lab3.kill("lim3")

    settings = SshSettings.from_env(lab3.env)
    result = apply_plan(plan, Paths.from_env(lab3.env["MXONE_ROOT"]), lab3.system_file, settings, progress)

    assert killed, "staging was reached"
    assert not result.ok
    assert result.failed_server == "lim3"
    # Noticed as a dead server (its kernel acknowledged nothing for 10 s), not as the command's 60 s
    # timeout: the power cut sent no FIN, so only the connection's own watch can tell.
    assert result.message.startswith("staging failed on lim3 (10.77.0.13): "), result.message
    assert "connection lost" in result.message and result.message.endswith("; no server was changed")
    lab3.revive("lim3")
    assert snapshot(lab3) == before
    assert lab3.system_file.read_bytes() == system_before


def test_a_changed_host_key_is_refused_and_nothing_changes(lab3):
    known = Path(lab3.env["MXONE_KNOWN_HOSTS"])
    original = known.read_text()
    other = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(known.parent / "impostor")],
                           input="y\n", capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    impostor = (known.parent / "impostor.pub").read_text().split()[:2]
    lines = [(" ".join([line.split()[0], *impostor]) if line.startswith("lim2,") else line)
             for line in original.splitlines()]
    before = snapshot(lab3)
    try:
        known.write_text("\n".join(lines) + "\n")
        result = utility(lab3, *CREATE_3)
    finally:
        known.write_text(original)
    assert result.returncode == 1
    assert "lim2" in result.stderr + result.stdout
    assert "host key" in (result.stderr + result.stdout).lower()
    assert snapshot(lab3) == before
    assert files.load_system(lab3.system_file).clusters == ()


def test_delete_restores_the_servers(lab3):
    before = snapshot(lab3)
    assert utility(lab3, *CREATE_3).returncode == 0

    result = utility(lab3, "cluster", "delete", "--name", "c1", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(lab3) == before
    assert files.load_system(lab3.system_file).clusters == ()


def test_change_writes_a_new_generation_everywhere(lab3):
    assert utility(lab3, *CREATE_3).returncode == 0

    result = utility(lab3, "cluster", "change", "--name", "c1", "--fallback", "manual", "--priority", "3=2", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    for host in lab3.servers:
        cluster = files.parse_cluster(host_file(lab3, host, f"{ETC}/cluster.yaml").decode())
        assert (cluster.generation, cluster.fallback, cluster.lim(3).priority) == (2, "manual", 2)
