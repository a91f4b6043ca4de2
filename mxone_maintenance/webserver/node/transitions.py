"""What keepalived's notify does on this server: bring the database and the web application to the
state keepalived has just entered, without losing a committed row.

MASTER: the database becomes (or stays) the primary, then the web application starts. A standby whose
peer is alive and still primary is a switch-over: it waits until the peer has shut down cleanly (which
streams its last WAL here) before it promotes. A peer that does not answer is a failover: promote now.
BACKUP / FAULT / STOP: the web application stops first (no more writes here). A primary that another
host has taken the virtual IP from shuts down cleanly and follows the new primary (pg_rewind, or a fresh
base backup when rewinding cannot). keepalived runs notify scripts concurrently; each run records the
state it was told and converges under one lock, and gives up as soon as a newer state is recorded."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from mxone_maintenance.webserver.node import postgres as db
from mxone_maintenance.webserver.node import services
from mxone_maintenance.webserver.node.platform import Platform
from mxone_maintenance.webserver.node.run import NodeError
from mxone_maintenance.webserver.shared.pair_file import PairSettings

WANTED = Path("/run/mxone-pmsnm.state")
LOCK = Path("/run/mxone-pmsnm.lock")
HOLD = Path("/run/mxone-pmsnm.hold")      # webserver_config is changing this server: notify only records
PEER_PRIMARY_WAIT_S = 60.0     # a demoted side waits this long for the other side's promotion
COLD_START_WAIT_S = 10.0       # both down: the one that was primary waits this long for the other
SWITCHOVER_WAIT_S = 20.0       # a promoting side waits this long for the old primary's clean stop
log = logging.getLogger("mxone.pmsnm")


def record(state: str) -> None:
    temp = WANTED.with_suffix(".new")
    temp.write_text(state + "\n")
    os.replace(temp, WANTED)


def wanted() -> str:
    try:
        return WANTED.read_text().strip()
    except OSError:
        return ""


class Transition:
    def __init__(self, platform: Platform, pair: PairSettings, state: str):
        self.platform, self.pair, self.state, self.pg = platform, pair, state, platform.postgres

    def superseded(self) -> bool:
        return wanted() != self.state

    def peer_role(self) -> str | None:
        if not services.tcp_open(str(self.pair.peer_base.ip), self.pg.port, 0.5):
            return None
        return db.peer_role(self.pg, self.pair)

    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        return db.wait_until(condition, timeout, self.superseded, step=0.3)

    # MASTER ------------------------------------------------------------------------------------
    def become_master(self) -> None:
        if not db.running(self.pg):
            log.info("starting the database (%s)", "standby" if db.is_marked_standby(self.pg) else "primary")
            services.start(self.platform, self.platform.database_unit)
        if db.role(self.pg) == "standby":
            self.promote()
        if not self.superseded():
            services.start(self.platform, self.platform.webserver_unit)
            log.info("PM/SNM serves here on %s", self.pair.virtual_ip.ip)

    def promote(self) -> None:
        if self.peer_role() == "primary":
            log.info("switch-over: waiting for %s to stop its database cleanly", self.pair.peer_name)
            self.wait(lambda: self.peer_role() != "primary", SWITCHOVER_WAIT_S)
            self.wait(lambda: not db.receiving(self.pg), 5)
        if self.superseded():
            return
        log.info("promoting the database to primary")
        db.promote(self.pg)

    # BACKUP, FAULT, STOP -----------------------------------------------------------------------
    def become_backup(self) -> None:
        services.stop(self.platform, self.platform.webserver_unit)
        found = db.role(self.pg)
        if self.state == "STOP":
            if found == "primary":
                log.info("keepalived stopped: shutting the primary down cleanly for the other side")
                services.stop(self.platform, self.platform.database_unit)
            return
        if found == "primary":
            if services.answered_elsewhere(self.pair.interface, str(self.pair.virtual_ip.ip)) \
                    or self.peer_role() == "primary":
                log.info("%s holds PM/SNM: shutting down cleanly to follow it", self.pair.peer_name)
                services.stop(self.platform, self.platform.database_unit)
                self.follow()
        elif found is None:
            self.start_stopped()

    def start_stopped(self) -> None:
        if db.is_marked_standby(self.pg):
            log.info("starting the database as a standby of %s", self.pair.peer_name)
            services.start(self.platform, self.platform.database_unit)
        elif self.wait(lambda: self.peer_role() == "primary", COLD_START_WAIT_S):
            self.follow()
        elif not self.superseded():
            log.info("%s has no primary: starting the database as the primary it was", self.pair.peer_name)
            services.start(self.platform, self.platform.database_unit)

    def follow(self) -> None:
        if not self.wait(lambda: self.peer_role() == "primary", PEER_PRIMARY_WAIT_S):
            log.warning("%s did not become primary; the database stays stopped", self.pair.peer_name)
            return
        if db.running(self.pg):
            services.stop(self.platform, self.platform.database_unit)
        try:
            db.rewind(self.pg, self.pair)
            log.info("rewound the database to follow %s", self.pair.peer_name)
        except NodeError as exc:
            self.fresh_copy(str(exc))
        db.configure(self.pg, self.pair)
        db.mark_standby(self.pg)
        services.start(self.platform, self.platform.database_unit)
        log.info("the database follows %s", self.pair.peer_name)

    def fresh_copy(self, why: str) -> None:
        """Rewinding failed: keep the old folder (nothing is ever deleted) and copy the primary afresh."""
        kept = f"{self.pg.data}.before-copy-{time.strftime('%Y%m%d-%H%M%S')}"
        log.warning("cannot rewind (%s): keeping the database folder as %s and copying %s afresh",
                    why, kept, self.pair.peer_name)
        shutil.move(self.pg.data, kept)
        db.base_backup(self.pg, self.pair)

    def converge(self) -> None:
        if self.state == "MASTER":
            self.become_master()
        elif self.state in ("BACKUP", "FAULT", "STOP"):
            self.become_backup()


@contextlib.contextmanager
def locked():
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def held():
    """While webserver_config sets up or removes the pair here, keepalived's notify (of a keepalived being
    stopped, say) changes nothing: the hold is made once any running transition has ended."""
    with locked():
        HOLD.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with locked():
            HOLD.unlink(missing_ok=True)


def on_notify(platform: Platform, pair: PairSettings, state: str) -> None:
    record(state)
    with locked():
        if HOLD.exists():
            log.info("%s: webserver_config is changing this server; nothing done", state)
            return
        if wanted() != state:
            log.info("%s superseded by %s before it ran", state, wanted())
            return
        log.info("keepalived: %s", state)
        try:
            Transition(platform, pair, state).converge()
        except (NodeError, OSError) as exc:
            log.error("%s: %s", state, exc)
