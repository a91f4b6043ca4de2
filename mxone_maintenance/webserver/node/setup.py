"""Setting the pair up, changing it and removing it, on this server: what `webserver_config` asks of the
node side over SSH (node/__main__.py). Each function is safe to run again after an interruption."""
from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

from mxone_maintenance.webserver.node import postgres as db
from mxone_maintenance.webserver.node import services
from mxone_maintenance.webserver.node.files import read_pair, remove_pair_files, write_file, write_pair
from mxone_maintenance.webserver.node.keepalived_conf import CHECK_SCRIPT, NOTIFY_SCRIPT, check_script, keepalived_conf, \
    notify_script
from mxone_maintenance.webserver.node.platform import Platform
from mxone_maintenance.webserver.node.run import NodeError
from mxone_maintenance.webserver.node.transitions import held
from mxone_maintenance.webserver.shared.pair_file import Before, PairSettings
from mxone_maintenance.webserver.shared.scram import scram_verifier

SAVED_SUFFIX = ".before-redundancy"
STREAMING_WAIT_S = 60.0
SERVING_WAIT_S = 30.0
log = logging.getLogger("mxone.pmsnm")


def units_before(platform: Platform, saved_data: str | None = None) -> Before:
    return Before(database_enabled=services.enabled(platform, platform.database_unit),
                  database_active=services.active(platform, platform.database_unit),
                  webserver_enabled=services.enabled(platform, platform.webserver_unit),
                  webserver_active=services.active(platform, platform.webserver_unit),
                  saved_data=saved_data)


def write_redundancy_files(platform: Platform, pair: PairSettings) -> None:
    write_pair(pair)
    write_file(CHECK_SCRIPT, check_script(pair, platform), 0o755)
    write_file(NOTIFY_SCRIPT, notify_script(sys.executable), 0o755)
    write_file(platform.keepalived_conf, keepalived_conf(pair), 0o644)


def hand_units_to_keepalived(platform: Platform) -> None:
    """At boot only keepalived starts; its notify starts the database and the web application in the
    role the election gives (a returning master must not come up as a second primary)."""
    services.set_enabled(platform, platform.database_unit, False)
    services.set_enabled(platform, platform.webserver_unit, False)
    services.set_enabled(platform, platform.redundancy_unit, True)


def restart_keepalived(platform: Platform) -> None:
    if services.active(platform, platform.redundancy_unit):
        services.stop(platform, platform.redundancy_unit)
    services.start(platform, platform.redundancy_unit)


def setup_master(platform: Platform, pair: PairSettings, password: str) -> dict:
    pg = platform.postgres
    old = read_pair()
    if not db.running(pg):
        services.start(platform, platform.database_unit)
    if db.role(pg) != "primary":
        raise NodeError(f"the database on {pair.node} is not a primary; it cannot be the master's")
    before = old.before if old else units_before(platform)
    pair = pair.with_changes(before=before)
    db.ensure_replication_role(pg, pair.replication_user, scram_verifier(password))
    db.write_passfile(pg, pair, password)
    db.configure(pg, pair)
    (Path(pg.data) / "standby.signal").unlink(missing_ok=True)
    log.info("setup as master of %s: restarting the database with replication on", pair.peer_name)
    with held():
        if services.active(platform, platform.redundancy_unit):
            services.stop(platform, platform.redundancy_unit)
        services.stop(platform, platform.webserver_unit)
        services.stop(platform, platform.database_unit)
        services.start(platform, platform.database_unit)
        write_redundancy_files(platform, pair)
        hand_units_to_keepalived(platform)
        services.start(platform, platform.webserver_unit)     # serving on its own address until it holds the VIP
    services.start(platform, platform.redundancy_unit)
    holds = db.wait_until(lambda: services.holds_address(pair.interface, str(pair.virtual_ip.ip)), SERVING_WAIT_S)
    return {"holds_virtual_ip": holds}


def setup_standby(platform: Platform, pair: PairSettings, password: str) -> dict:
    pg = platform.postgres
    old = read_pair()
    data = Path(pg.data)
    if old is None:
        saved = f"{pg.data}{SAVED_SUFFIX}" if data.exists() else None
        before = units_before(platform, saved)
    else:
        before = old.before
    pair = pair.with_changes(before=before)
    with held():
        return copy_master(platform, pair, password)


def copy_master(platform: Platform, pair: PairSettings, password: str) -> dict:
    pg = platform.postgres
    data = Path(pg.data)
    before = pair.before
    db.write_passfile(pg, pair, password)
    for unit in (platform.redundancy_unit, platform.webserver_unit, platform.database_unit):
        if services.active(platform, unit):
            services.stop(platform, unit)
    if data.exists():
        if before.saved_data and not Path(before.saved_data).exists():
            log.info("keeping this server's own database as %s", before.saved_data)
            shutil.move(str(data), before.saved_data)
        else:
            shutil.rmtree(data)      # an earlier copy of the master's: the master holds the original
    log.info("copying the database of %s (pg_basebackup)", pair.peer_name)
    db.base_backup(pg, pair)
    db.configure(pg, pair)
    db.mark_standby(pg)
    services.start(platform, platform.database_unit)
    streaming = db.wait_until(lambda: db.receiving(pg), STREAMING_WAIT_S)
    if not streaming:
        raise NodeError(f"the database copy does not stream from {pair.peer_name} "
                        f"(see {pg.data}/../ and the database log)")
    write_redundancy_files(platform, pair)
    hand_units_to_keepalived(platform)
    return {"streaming": True}


def start_redundancy(platform: Platform) -> dict:
    """"Re-start webserver now?": keepalived (re)started with the settings written."""
    restart_keepalived(platform)
    return {"started": True}


def set_fallback(platform: Platform, fallback: str) -> dict:
    pair = read_pair()
    if pair is None:
        raise NodeError("PM/SNM redundancy is not set on this server")
    pair = pair.with_changes(fallback=fallback)
    write_redundancy_files(platform, pair)
    if services.active(platform, platform.redundancy_unit):
        services.reload(platform, platform.redundancy_unit)
    return {"fallback": fallback}


def release(platform: Platform) -> dict:
    """The fallback order on the server that serves PM/SNM instead of the master: stop serving (the web
    application, then a clean database shutdown that streams its last WAL to the master). Its track
    script then fails, keepalived moves the virtual IP to the master, and this side follows it."""
    services.stop(platform, platform.webserver_unit)
    services.stop(platform, platform.database_unit)
    return {"released": True}


def hold_still(platform: Platform) -> dict:
    """Before the master leaves the pair: keepalived stopped here, so this side does not take over."""
    with held():
        if services.active(platform, platform.redundancy_unit):
            services.stop(platform, platform.redundancy_unit)
    return {"stopped": True}


def remove(platform: Platform) -> dict:
    pair = read_pair()
    if pair is None:
        return {"removed": False}
    with held():
        return remove_here(platform, pair)


def remove_here(platform: Platform, pair: PairSettings) -> dict:
    pg = platform.postgres
    services.set_enabled(platform, platform.redundancy_unit, False)
    if services.active(platform, platform.redundancy_unit):
        services.stop(platform, platform.redundancy_unit)
    services.stop(platform, platform.webserver_unit)
    if pair.role == "master":
        if not db.running(pg):
            services.start(platform, platform.database_unit)
        if db.role(pg) == "primary":
            db.drop_replication_role(pg, pair.replication_user)
        services.stop(platform, platform.database_unit)
        db.unconfigure(pg)
    else:
        if db.running(pg):
            services.stop(platform, platform.database_unit)
        restore_own_database(pg, pair.before.saved_data)
    Path(pg.passfile).unlink(missing_ok=True)
    restore_units(platform, pair.before)
    remove_pair_files(platform.keepalived_conf)
    log.info("PM/SNM redundancy removed (%s)", pair.role)
    return {"removed": True}


def restore_own_database(pg, saved: str | None) -> None:
    data = Path(pg.data)
    if saved and Path(saved).exists():
        if data.exists():
            shutil.rmtree(data)      # the copy of the master's
        shutil.move(saved, str(data))
    elif data.exists() and not saved:
        shutil.rmtree(data)          # there was no database here before the copy


def restore_units(platform: Platform, before: Before) -> None:
    for unit, was_enabled, was_active in ((platform.database_unit, before.database_enabled, before.database_active),
                                          (platform.webserver_unit, before.webserver_enabled, before.webserver_active)):
        services.set_enabled(platform, unit, was_enabled)
        if was_active:
            services.start(platform, unit)
