"""The lab's PM/SNM side (scripts/lab, lab-service, lab-webapp; DESIGN §7, §9): what a user of the lab
sees from the client and inside the hosts."""

from __future__ import annotations

import uuid

import pytest
import yaml

pytestmark = pytest.mark.lab

LIM1, SB1 = "10.77.0.11", "10.77.0.20"


@pytest.fixture(scope="module")
def lab2(lab_up):
    """A fresh 2-LIM lab (earlier tests may have left a cluster or SNM elsewhere); fresh again after."""
    lab = lab_up(2).reset(2)
    yield lab
    lab.reset(2)


def service(lab, host: str, *args: str):
    return lab.exec(host, "lab-service", *args, check=False)


def test_the_master_server_answers_pm_and_snm_on_its_own_address(lab2):
    assert lab2.http(LIM1, "/mp") == (200, "PM on lim1\n")
    assert lab2.http(LIM1, "/wbm") == (200, "SNM on lim1\n")
    assert lab2.http(LIM1, "/nothing")[0] == 404
    assert lab2.http(LIM1, "/mp", method="POST", body="x")[0] == 405
    version = service(lab2, "lim1", "version", "snm")
    assert (version.returncode, version.stdout) == (0, "SNM 7.1.0 (lab)\n")
    assert service(lab2, "lim1", "is-active", "postgresql").returncode == 0
    assert service(lab2, "lim1", "is-enabled", "snm").returncode == 0
    assert service(lab2, "lim1", "is-enabled", "keepalived").returncode == 1
    config = yaml.safe_load(lab2.exec("lim1", "cat", "/etc/opt/eri_sn/webserver.yaml").stdout)
    assert config["control"] == [str(lab2.dir / "bin/lab-service")]
    assert config["units"] == {"redundancy": "keepalived", "database": "postgresql", "webserver": "snm"}
    assert config["postgresql"]["data"] == "/var/lib/pgsql/data"


def test_a_row_put_is_read_back_and_is_in_the_masters_database(lab2):
    key, value = f"row-{uuid.uuid4().hex[:8]}", "grüße\nline two"
    assert lab2.http(LIM1, f"/wbm/rows/{key}") == (404, "no such row\n")
    assert lab2.http(LIM1, f"/wbm/rows/{key}", method="PUT", body=value) == (204, "")
    assert lab2.http(LIM1, f"/wbm/rows/{key}") == (200, value)
    assert lab2.psql("lim1", f"SELECT value FROM rows WHERE key = '{key}'") == value
    assert lab2.http(LIM1, f"/wbm/rows/{key}", method="PUT", body="'); DROP TABLE rows; --") == (204, "")
    assert lab2.psql("lim1", f"SELECT value FROM rows WHERE key = '{key}'") == "'); DROP TABLE rows; --"
    assert lab2.http(LIM1, "/wbm/rows/bad%20key", method="PUT", body="x")[0] == 400


def test_a_write_the_database_refuses_answers_503(lab2):
    service(lab2, "lim1", "stop", "postgresql")
    try:
        assert service(lab2, "lim1", "is-active", "postgresql").returncode == 3
        status, body = lab2.http(LIM1, "/wbm/rows/k503", method="PUT", body="x")
        assert status == 503 and body.count("\n") == 1
    finally:
        assert service(lab2, "lim1", "start", "postgresql").returncode == 0
    assert lab2.http(LIM1, "/wbm/rows/k503", method="PUT", body="x") == (204, "")


def test_the_standby_has_no_snm_until_it_is_installed(lab2):
    version = service(lab2, "sb1", "version", "snm")
    assert (version.returncode, version.stdout) == (3, "SNM is not installed\n")
    assert lab2.http(SB1, "/wbm") is None
    assert service(lab2, "sb1", "is-active", "postgresql").returncode == 3
    assert service(lab2, "sb1", "install", "snm").returncode == 0
    assert service(lab2, "sb1", "install", "snm").returncode == 0          # idempotent
    assert service(lab2, "sb1", "version", "snm").stdout == "SNM 7.1.0 (lab)\n"
    assert lab2.http(SB1, "/wbm") == (200, "SNM on sb1\n")
    assert lab2.http(SB1, "/wbm/rows/fresh") == (404, "no such row\n")


def test_etc_home_and_users_are_each_hosts_own(lab2):
    for host in lab2.servers:
        assert lab2.exec(host, "id", "-un", "mxone_manager").stdout == "mxone_manager\n"
        assert lab2.exec(host, "test", "-d", "/home/mxone_manager", check=False).returncode == 0
    assert lab2.exec("client", "id", "mxone_manager", check=False).returncode != 0
    lab2.exec("lim1", "useradd", "-m", "labonly")
    assert lab2.exec("lim1", "id", "-un", "labonly").stdout == "labonly\n"
    assert lab2.exec("lim2", "id", "labonly", check=False).returncode != 0
    assert lab2.exec("lim2", "test", "-e", "/home/labonly", check=False).returncode == 1
    assert "labonly:" not in open("/etc/passwd").read()                      # nor on the machine


def test_a_killed_and_revived_master_boots_its_enabled_units_and_keeps_its_rows(lab2):
    assert lab2.http(LIM1, "/wbm/rows/survivor", method="PUT", body="still here") == (204, "")
    lab2.kill("lim1")
    assert lab2.http(LIM1, "/mp", timeout=0.3) is None
    lab2.revive("lim1")
    assert lab2.http(LIM1, "/mp") == (200, "PM on lim1\n")
    assert lab2.http(LIM1, "/wbm/rows/survivor") == (200, "still here")
    assert lab2.exec("lim1", "id", "-un", "labonly", check=False).stdout == "labonly\n"  # /etc persists


def test_a_disabled_unit_is_not_started_at_revive(lab2):
    assert service(lab2, "lim1", "disable", "snm").returncode == 0
    assert service(lab2, "lim1", "disable", "snm").returncode == 0          # idempotent
    lab2.revive("lim1")
    assert service(lab2, "lim1", "is-active", "snm").returncode == 3
    assert service(lab2, "lim1", "is-active", "postgresql").returncode == 0
    assert lab2.http(LIM1, "/mp", timeout=0.3) is None
    assert service(lab2, "lim1", "enable", "snm").returncode == 0
    assert service(lab2, "lim1", "start", "snm").returncode == 0
    assert lab2.http(LIM1, "/mp") == (200, "PM on lim1\n")


def test_keepalived_without_a_configuration_does_not_start(lab2):
    result = service(lab2, "lim2", "start", "keepalived")
    assert result.returncode == 1
    assert "/etc/keepalived/keepalived.conf does not exist" in result.stderr
    assert service(lab2, "lim2", "is-active", "keepalived").returncode == 3


def test_replace_is_new_hardware_with_a_fresh_etc_and_no_database(lab2):
    lab2.exec("lim2", "useradd", "-m", "oldbox")
    service(lab2, "lim2", "install", "snm")
    lab2.replace("lim2")
    assert lab2.exec("lim2", "id", "oldbox", check=False).returncode != 0
    assert lab2.exec("lim2", "test", "-e", "/home/oldbox", check=False).returncode == 1
    assert lab2.exec("lim2", "id", "-un", "mxone_manager").stdout == "mxone_manager\n"
    assert service(lab2, "lim2", "version", "snm").returncode == 3
    assert lab2.exec("lim2", "ls", "-A", "/var/lib/pgsql").stdout == ""
    lab2.replace("lim1")                                                     # the Master gets SNM again
    assert lab2.http(LIM1, "/wbm") == (200, "SNM on lim1\n")
    assert lab2.http(LIM1, "/wbm/rows/survivor") == (404, "no such row\n")
