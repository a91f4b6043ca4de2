"""PM/SNM redundancy's pure parts: who the pair is, which virtual IP it may have, its settings file,
the SCRAM verifier, keepalived's settings, and the order rules of the plans."""
from __future__ import annotations

import base64
import hashlib
import hmac
from ipaddress import IPv4Address, IPv4Interface

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxone_maintenance.core.config.system_file import parse_system
from mxone_maintenance.webserver.node.keepalived_conf import check_script, keepalived_conf, notify_script
from mxone_maintenance.webserver.node.platform import Platform
from mxone_maintenance.webserver.node.postgres import passfile_entry
from mxone_maintenance.webserver.shared.pair_file import PairFileError, pair_text, parse_pair
from mxone_maintenance.webserver.shared.scram import scram_verifier
from mxone_maintenance.webserver.tool import plans
from mxone_maintenance.webserver.tool.pair import PairProblem, find_pair, settings_for, unavailable_reason, \
    virtual_ip
from mxone_maintenance.webserver.tool.server_facts import facts_from
from tests.helpers.uitools import TWO_LIMS, with_lim1_clustered

PAIR = find_pair(parse_system(with_lim1_clustered()))


def test_the_pair_is_lim1s_server_and_its_clusters_standby():
    assert (PAIR.master, str(PAIR.master_base), PAIR.standby, str(PAIR.standby_base)) == \
        ("lim1", "10.77.0.111/24", "sb1", "10.77.0.20/24")


def test_redundancy_needs_lim1_in_a_cluster():
    assert "LIM 1 is in no cluster" in unavailable_reason(parse_system(TWO_LIMS))
    with pytest.raises(PairProblem, match="LIM 1 is in no cluster"):
        find_pair(parse_system(TWO_LIMS))


@pytest.mark.parametrize("used", ["10.77.0.11", "10.77.0.111", "10.77.0.20", "10.77.0.12"])
def test_a_virtual_ip_a_cluster_or_server_uses_is_refused(used):
    with pytest.raises(PairProblem, match=f"the virtual IP {used} is an address a cluster or server uses"):
        virtual_ip(PAIR, used)


@pytest.mark.parametrize("text, problem", [("10.78.0.50", "on the servers' subnet 10.77.0.0/24"),
                                           ("10.77.0.255", "broadcast"), ("nonsense\x1b[2J", "IPv4 address")])
def test_a_bad_virtual_ip_is_named_escaped(text, problem):
    with pytest.raises(PairProblem, match=problem) as caught:
        virtual_ip(PAIR, text)
    assert "\x1b" not in str(caught.value)


@given(st.integers(1, 254))
def test_every_free_address_of_the_subnet_is_accepted_with_the_bases_prefix(last):
    address = IPv4Address(f"10.77.0.{last}")
    if address in PAIR.used:
        with pytest.raises(PairProblem):
            virtual_ip(PAIR, str(address))
    else:
        assert virtual_ip(PAIR, str(address)) == IPv4Interface(f"{address}/24")


@given(vip=st.integers(1, 254).filter(lambda n: IPv4Address(f"10.77.0.{n}") not in PAIR.used),
       user=st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True), role=st.sampled_from(["master", "standby"]),
       generation=st.integers(1, 10**6))
@settings(max_examples=60)
def test_the_pair_file_reads_back_what_was_written(vip, user, role, generation):
    written = settings_for(PAIR, role, IPv4Interface(f"10.77.0.{vip}/24"), user, generation)
    assert parse_pair(pair_text(written), "redundancy.yaml") == written


@given(st.binary(max_size=300))
def test_a_damaged_pair_file_is_one_line(data):
    try:
        parse_pair(data.decode("utf-8", "replace"), "redundancy.yaml")
    except PairFileError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("redundancy.yaml")


def test_the_scram_verifier_is_postgresqls_form_and_checks_out():
    verifier = scram_verifier("s3cret", salt=b"0123456789abcdef")
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    stored, server = (base64.b64decode(k) for k in keys.split(":"))
    assert (method, iterations_salt) == ("SCRAM-SHA-256", "4096:" + base64.b64encode(b"0123456789abcdef").decode())
    salted = hashlib.pbkdf2_hmac("sha256", b"s3cret", b"0123456789abcdef", 4096)
    assert stored == hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    assert server == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert "s3cret" not in scram_verifier("s3cret")


def test_passfile_fields_are_escaped():
    assert passfile_entry("10.77.0.20", 5432, "rep", "a:b\\c") == "10.77.0.20:5432:*:rep:a\\:b\\\\c\n"


def test_keepalived_prefers_the_master_and_manual_fallback_does_not_preempt():
    vip = IPv4Interface("10.77.0.50/24")
    master = keepalived_conf(settings_for(PAIR, "master", vip, "rep"))
    standby = keepalived_conf(settings_for(PAIR, "standby", vip, "rep").with_changes(fallback="manual"))
    assert "priority 150" in master and "nopreempt" not in master and "unicast_peer {\n        10.77.0.20" in master
    assert "priority 100" in standby and "nopreempt" in standby and "unicast_src_ip 10.77.0.20" in standby
    assert "virtual_router_id 50" in master and "10.77.0.50/24 dev eth0" in master
    assert "notify /etc/opt/eri_sn/pmsnm-notify" in master
    assert notify_script("/opt/my venv/py").endswith("exec '/opt/my venv/py' -I -m mxone_maintenance.webserver.node notify \"$@\"\n")


def test_only_the_masters_check_requires_a_caught_up_standby():
    vip = IPv4Interface("10.77.0.50/24")
    assert '"t|t"' in check_script(settings_for(PAIR, "master", vip, "rep"), Platform())
    assert '"t|"*' in check_script(settings_for(PAIR, "standby", vip, "rep"), Platform())


def _facts(name, pair_settings=None, role="primary", **more):
    data = {"snm_version": "SNM 7", "manager_user": True, "keepalived": bool(pair_settings),
            "webserver": role == "primary", "database": {"running": True, "role": role},
            "pair": pair_text(pair_settings) if pair_settings else None, **more}
    return facts_from(name, data)


def test_the_standby_is_set_up_only_after_the_master_and_with_its_values():
    vip = IPv4Interface("10.77.0.50/24")
    bare = {"lim1": _facts("lim1"), "sb1": _facts("sb1", role="primary")}
    with pytest.raises(PairProblem, match="set up the master lim1 first"):
        plans.plan_setup(PAIR, "standby", vip, "rep", bare, "10.77.0.111 ssh-ed25519 AAAA")
    master_set = dict(bare, lim1=_facts("lim1", settings_for(PAIR, "master", vip, "rep")))
    with pytest.raises(PairProblem, match="virtual IP 10.77.0.50/24 and replication user rep; this standby was "
                                          "given 10.77.0.51/24 and rep"):
        plans.plan_setup(PAIR, "standby", IPv4Interface("10.77.0.51/24"), "rep", master_set, "x")
    plan = plans.plan_setup(PAIR, "standby", vip, "rep", master_set, "10.77.0.111 ssh-ed25519 AAAA")
    assert [s.action for s in plan.steps] == ["set-password", "login-key", "authorize", "check-login",
                                              "setup-standby", "start"]


def test_remove_goes_master_first_and_not_while_the_standby_serves():
    vip = IPv4Interface("10.77.0.50/24")
    both = {"lim1": _facts("lim1", settings_for(PAIR, "master", vip, "rep")),
            "sb1": _facts("sb1", settings_for(PAIR, "standby", vip, "rep"), role="standby")}
    with pytest.raises(PairProblem, match=r"remove redundancy on the master lim1 first \(--role master\)"):
        plans.plan_remove(PAIR, "standby", both)
    assert [s.action for s in plans.plan_remove(PAIR, "master", both).steps] == ["hold", "remove"]
    serving = dict(both, sb1=_facts("sb1", settings_for(PAIR, "standby", vip, "rep"), holds_virtual_ip=True))
    with pytest.raises(PairProblem, match="PM/SNM runs on sb1 now; order Fallback first"):
        plans.plan_remove(PAIR, "master", serving)
