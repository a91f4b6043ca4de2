"""What this server says about PM/SNM to webserver_config: installed versions, the mxone_manager user,
the units, the database's role and lag, the virtual IP, and the pair settings it holds."""
from __future__ import annotations

import pwd
import sys

from mxone_maintenance.webserver.node import postgres as db
from mxone_maintenance.webserver.node import services
from mxone_maintenance.webserver.node.files import read_pair
from mxone_maintenance.webserver.node.platform import Platform
from mxone_maintenance.webserver.node.run import NodeError, run
from mxone_maintenance.webserver.node.transitions import wanted
from mxone_maintenance.webserver.shared.pair_file import pair_text

MANAGER = "mxone_manager"


def version(argv: tuple[str, ...]) -> str | None:
    if not argv:
        return None
    try:
        done = run(argv, timeout=10, check=False)
    except NodeError:
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0][:80] if done.returncode == 0 and lines else None


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def facts(platform: Platform) -> dict:
    pair = read_pair()
    found = {
        "python": sys.executable,
        "snm_version": version(platform.snm_version),
        "pm_version": version(platform.pm_version),
        "can_install_snm": bool(platform.install_snm),
        "manager_user": user_exists(MANAGER),
        "keepalived": services.active(platform, platform.redundancy_unit),
        "webserver": services.active(platform, platform.webserver_unit),
        "database": db.replication_view(platform.postgres),
        "keepalived_state": wanted() or None,
        "pair": pair_text(pair) if pair else None,
        "holds_virtual_ip": bool(pair) and services.holds_address(pair.interface, str(pair.virtual_ip.ip)),
    }
    return found
