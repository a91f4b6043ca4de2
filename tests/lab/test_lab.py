"""The lab itself (scripts/lab, DESIGN §7): real namespaces, real sshd, real addresses and ARP."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

LIMS = 3


def tcp_open(ip: str, port: int, timeout: float = 0.5) -> bool:
    """A TCP connection from the root namespace (where the utility runs) succeeds."""
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((ip, port)) == 0


@pytest.fixture(scope="module")
def lab3(lab_up):
    """A fresh 3-LIM lab for this module (reset once: earlier tests may have left a cluster)."""
    lab = lab_up(LIMS)
    return lab.reset(LIMS)


def test_up_writes_the_system_file_and_env(lab3):
    system = yaml.safe_load(lab3.system_file.read_text())
    assert system == {
        "schema": 1,
        "servers": [{"name": f"lim{n}", "address": f"10.77.0.{10 + n}/24", "lim": n} for n in (1, 2, 3)]
        + [{"name": "sb1", "address": "10.77.0.20/24", "role": "standby"}],
        "clusters": [],
    }
    assert lab3.env["MXONE_ROOT"] == str(lab3.dir / "admin")
    assert lab3.env["MXONE_AGENT_COMMAND"].endswith("/.venv/bin/mxone-cluster-agent")
    assert os.stat(lab3.env["MXONE_SSH_KEY"]).st_mode & 0o777 == 0o600
    known = Path(lab3.env["MXONE_KNOWN_HOSTS"]).read_text().splitlines()
    assert [line.split()[0] for line in known] == ["lim1,10.77.0.11", "lim2,10.77.0.12", "lim3,10.77.0.13",
                                                   "sb1,10.77.0.20"]
    assert lab3.run("up", "--lims", str(LIMS)).stdout.rstrip().endswith("OK")


def test_every_server_answers_plain_ssh_with_the_pinned_key(lab3):
    calls = {host: subprocess.Popen(lab3.ssh_command(lab3.address(host), "hostname"), text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for host in lab3.servers}
    for host, call in calls.items():
        out, err = call.communicate(timeout=10)
        assert call.returncode == 0, err
        assert out.strip() == host


def test_each_host_sees_only_its_own_files(lab3):
    lab3.exec("lim1", "sh", "-c", "echo mine > /etc/opt/eri_sn/marker")
    assert lab3.exec("lim1", "cat", "/etc/opt/eri_sn/marker").stdout == "mine\n"
    assert lab3.exec("lim2", "test", "-e", "/etc/opt/eri_sn/marker", check=False).returncode == 1
    assert (lab3.host_dir("lim1") / "etc/marker").read_text() == "mine\n"
    agent_yaml = yaml.safe_load(lab3.exec("lim2", "cat", "/etc/opt/eri_sn/agent.yaml").stdout)
    assert agent_yaml["node"] == "lim2"
    assert agent_yaml["service"]["start"][1:] == ["start", "{lim}", "{alias}"]
    assert lab3.exec("client", "hostname").stdout.strip() == "client"


def test_exec_passes_stdin_and_exit_code_through(lab3):
    assert lab3.exec("sb1", "cat", input="hello\n").stdout == "hello\n"
    assert lab3.exec("sb1", "sh", "-c", "exit 7", check=False).returncode == 7


def test_kill_makes_a_host_unreachable_and_revive_brings_back_only_its_base(lab3):
    lab3.exec("lim2", "ip", "addr", "add", "10.77.0.98/24", "dev", "eth0")
    lab3.kill("lim2")
    assert not tcp_open("10.77.0.12", 22, timeout=0.3)
    assert "DEAD" in next(line for line in lab3.status().splitlines() if line.startswith("lim2"))
    assert set(lab3.addresses("lim2")) == {"10.77.0.12/24", "10.77.0.98/24"}  # a dead NIC keeps them
    assert lab3.exec("lim2", "true", check=False).returncode == 1
    lab3.revive("lim2")
    assert lab3.addresses("lim2") == ["10.77.0.12/24"]
    assert tcp_open("10.77.0.12", 22)
    assert lab3.exec("lim2", "hostname").stdout.strip() == "lim2"


def test_revive_boots_from_the_hosts_own_network_file_never_from_cluster_yaml(lab3):
    """A power cycle brings up what the host's ifcfg-eth0 names; what system.yaml or cluster.yaml say
    of a new base plays no part (the product must write the file for a reboot to keep it)."""
    ifcfg = lab3.host_dir("lim3") / "network/ifcfg-eth0"
    original, system = ifcfg.read_text(), lab3.system_file.read_text()
    assert "IPADDR='10.77.0.13/24'" in original
    data = yaml.safe_load(system)
    data["clusters"] = [{"cluster": "c1", "standby": {"server": "sb1", "base": "10.77.0.40/24"},
                         "lims": [{"lim": 3, "server": "lim3", "base": "10.77.0.43/24",
                                   "alias": "10.77.0.13/24", "priority": 1, "lock": None}]}]
    lab3.system_file.write_text(yaml.safe_dump(data))
    try:
        lab3.revive("lim3")
        assert lab3.addresses("lim3") == ["10.77.0.13/24"]
        ifcfg.write_text(original.replace("IPADDR='10.77.0.13/24'", "IPADDR='10.77.0.43'\nPREFIXLEN='24'"))
        lab3.revive("lim3")
        assert lab3.addresses("lim3") == ["10.77.0.43/24"]
        assert tcp_open("10.77.0.43", 22)
        assert lab3.exec("lim3", "cat", "/etc/sysconfig/network/ifcfg-eth0").stdout == ifcfg.read_text()
    finally:
        lab3.system_file.write_text(system)
        ifcfg.write_text(original)
        lab3.revive("lim3")
    assert lab3.addresses("lim3") == ["10.77.0.13/24"]


def test_cut_and_heal_keep_the_processes(lab3):
    before = lab3.exec("lim3", "cat", "/run/sshd.pid").stdout
    lab3.cut("lim3")
    assert not tcp_open("10.77.0.13", 22, timeout=0.3)
    lab3.heal("lim3")
    assert tcp_open("10.77.0.13", 22)
    assert lab3.exec("lim3", "cat", "/run/sshd.pid").stdout == before


def test_service_node_answers_on_the_alias_and_the_client_learns_the_mac(lab3):
    node = str(Path(__file__).resolve().parents[2] / "scripts/lab-service-node")
    lab3.exec("lim1", "ip", "addr", "add", "10.77.0.99/24", "dev", "eth0")
    try:
        lab3.exec("lim1", node, "start", "1", "10.77.0.99")
        lab3.exec("lim1", node, "start", "1", "10.77.0.99")  # idempotent
        assert lab3.ask_alias("10.77.0.99") == "LIM 1 on lim1"
        assert lab3.client_arp("10.77.0.99") == lab3.mac("lim1")
        assert lab3.exec("lim1", node, "status", "1").returncode == 0
        lab3.exec("lim1", node, "stop", "1", "10.77.0.99")
        assert lab3.ask_alias("10.77.0.99", timeout=0.3) is None
        assert lab3.exec("lim1", node, "status", "1", check=False).returncode == 3
    finally:
        lab3.exec("lim1", node, "stop", "1", check=False)
        lab3.exec("lim1", "ip", "addr", "del", "10.77.0.99/24", "dev", "eth0", check=False)


def test_data_backup_keeps_the_newest_three_versions(lab3):
    written = [lab3.exec("lim2", "data_backup").stdout.strip() for _ in range(4)]
    listing = lab3.exec("lim2", "ls", "/var/opt/eri_sn/xdata").stdout.split()
    assert listing == [Path(folder).name for folder in written[1:]]
    assert all(name.startswith("xdata_2_") for name in listing)
    newest = lab3.host_dir("lim2") / "var/xdata" / listing[-1]
    assert (newest / "reload.dat").stat().st_size > 1000 and (newest / "sysdb.dat").exists()
    assert lab3.exec("sb1", "data_backup", "--lim", "2").stdout.startswith("/var/opt/eri_sn/xdata/xdata_2_")


def test_down_leaves_nothing_behind(lab3):
    lab3.down()
    netns = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    assert not [name for name in netns if name.startswith("mxlab-")]
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
    assert "mxlab" not in links
    processes = subprocess.run(["ps", "-eo", "stat,args"], capture_output=True, text=True).stdout
    assert not [p for p in processes.splitlines() if str(lab3.dir) in p and not p.startswith("Z")]
    assert Path(lab3.env["MXONE_SSH_KEY"]).exists()  # keys survive: host keys stay pinned
    lab3.run("down")  # idempotent
