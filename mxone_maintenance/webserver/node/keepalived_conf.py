"""keepalived.conf and its track script for the pair: VRRP unicast between the two base addresses, the
virtual IP, the master preferred. Automatic fallback is preempt, manual is nopreempt (the master then
takes PM/SNM back only when "Fallback" is ordered).

The track script puts a server in FAULT (out of the election, virtual IP released) while its database
cannot serve: not running, or, on the master, a standby that has not caught up with the other side -- so a
returning master takes the virtual IP back only once it holds every committed row."""
from __future__ import annotations

import shlex

from mxone_maintenance.webserver.node.platform import Platform
from mxone_maintenance.webserver.shared.pair_file import PairSettings

PRIORITY = {"master": 150, "standby": 100}
ADVERT_S = 1
CHECK_SCRIPT = "/etc/opt/eri_sn/pmsnm-check"
NOTIFY_SCRIPT = "/etc/opt/eri_sn/pmsnm-notify"
NOTIFY_MODULE = "mxone_maintenance.webserver.node"


def notify_script(python: str) -> str:
    """keepalived runs scripts only from paths no other user can write (enable_script_security): the
    notify is this root-owned wrapper in /etc/opt/eri_sn, wherever the interpreter is installed."""
    return (f"#!/bin/sh\n# keepalived notify of PM/SNM redundancy, written by webserver_config; do not edit\n"
            f"exec {shlex.quote(python)} -I -m {NOTIFY_MODULE} notify \"$@\"\n")


def keepalived_conf(pair: PairSettings) -> str:
    preempt = "" if pair.fallback == "automatic" else "    nopreempt\n"
    return f"""# PM/SNM redundancy of cluster {pair.cluster}, written by webserver_config; do not edit
global_defs {{
    router_id {pair.node}
    script_user root
    enable_script_security
}}
vrrp_script pmsnm_database {{
    script "{CHECK_SCRIPT}"
    interval 1
    timeout 3
    fall 2
    rise 1
    init_fail
}}
vrrp_instance PMSNM {{
    state BACKUP
    interface {pair.interface}
    virtual_router_id {pair.vrid}
    priority {PRIORITY[pair.role]}
    advert_int {ADVERT_S}
{preempt}    unicast_src_ip {pair.base.ip}
    unicast_peer {{
        {pair.peer_base.ip}
    }}
    virtual_ipaddress {{
        {pair.virtual_ip} dev {pair.interface}
    }}
    track_script {{
        pmsnm_database
    }}
    notify {NOTIFY_SCRIPT}
}}
"""


def check_script(pair: PairSettings, platform: Platform) -> str:
    """Exit 0 while this server's database can serve PM/SNM. One psql per second: a shell script, not a
    Python start."""
    pg = platform.postgres
    psql = " ".join(shlex.quote(word) for word in [
        "runuser", "-u", pg.user, "--", pg.tool("psql"), "-h", pg.socket, "-p", str(pg.port), "-d", "postgres",
        "-XAtq", "-c", "select pg_is_in_recovery(), coalesce(pg_last_wal_receive_lsn() is not null and "
                       "pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn(), false)"])
    standby_ok = '"t|t"' if pair.preferred else '"t|"*'
    return f"""#!/bin/sh
# keepalived track script of PM/SNM redundancy, written by webserver_config; do not edit.
# 0: this server's database can serve ({'primary, or a standby that has streamed since it started and '
                                         'replayed all it received' if pair.preferred
                                         else 'primary, or any running standby'}).
out=$({psql} 2>/dev/null) || exit 1
case "$out" in
    "f|"*) exit 0 ;;
    {standby_ok}) exit 0 ;;
esac
exit 1
"""
