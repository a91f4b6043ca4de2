"""Server in system and Standby server in system on real servers: a standby made free is cleaned and
made a standby again with its folders and a disk check; a server taken out of the system and added back
is checked over SSH (host key, agent); a server in a cluster cannot be removed."""
from __future__ import annotations

import pytest
from helpers.cluster_lab import utility


@pytest.fixture
def lab2(lab_up):
    return lab_up(2).reset(2)


def test_a_standby_made_free_and_a_standby_again(lab2):
    standby = lab2.host_dir("sb1") / "var/standby"
    (standby / "lim1/xdata_1_20261201120000").mkdir(parents=True)     # a copy of an earlier cluster
    freed = utility(lab2, "standby", "remove", "--server", "sb1", "--yes")
    assert freed.returncode == 0, freed.stdout + freed.stderr
    assert "remove /var/opt/eri_sn/standby/ (the standby's copies of the regulars' data)" in freed.stdout
    assert "Done: make sb1 a free server again" in freed.stdout and not standby.exists()
    made = utility(lab2, "standby", "add", "--server", "sb1", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "sb1 has the cluster agent installed, the same version as this utility" in made.stdout
    assert "sb1 has free disk for two data backups of each of lim1, lim2" in made.stdout
    assert sorted(p.name for p in standby.iterdir()) == ["lim1", "lim2"]


def test_a_server_out_of_the_system_and_back_and_one_in_a_cluster(lab2):
    removed = utility(lab2, "server", "remove", "--name", "lim2", "--yes")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    back = utility(lab2, "server", "add", "--name", "lim2", "--address", "10.77.0.12/24", "--lim", "2", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "lim2 (10.77.0.12) presents ssh-ed25519 SHA256:" in back.stdout and "Done: add server lim2" in back.stdout
    off_subnet = utility(lab2, "server", "add", "--name", "lim9", "--address", "10.78.0.19/24", "--lim", "9",
                         "--yes")
    assert off_subnet.returncode == 2 and "must be on the cluster subnet" in off_subnet.stderr
    made = utility(lab2, "cluster", "create", "--name", "c1", "--standby", "sb1", "--lim", "1:10.77.0.111", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    refused = utility(lab2, "server", "remove", "--name", "lim1", "--yes")
    assert refused.returncode == 2 and "lim1 belongs to cluster c1" in refused.stderr
    assert (lab2.host_dir("lim1") / "etc/cluster.yaml").exists()
