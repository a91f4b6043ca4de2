"""`python -m mxone_maintenance.webserver.node ACTION`: the node side's entry, run as root.

From webserver_config over SSH: a JSON request on stdin (secrets travel only there), one JSON answer on
stdout ({"ok": true, ...} or {"ok": false, "error": "one line"}), exit 0 or 1.
From keepalived: `... notify INSTANCE PMSNM STATE PRIORITY` (its notify arguments)."""
from __future__ import annotations

import json
import logging
import sys
from typing import Any

from mxone_maintenance.webserver.node import logins, setup
from mxone_maintenance.webserver.node.facts import facts
from mxone_maintenance.webserver.node.files import NODE_LOG, read_pair
from mxone_maintenance.webserver.node.platform import PlatformError, load_platform
from mxone_maintenance.webserver.node.run import NodeError, run
from mxone_maintenance.webserver.node.transitions import on_notify
from mxone_maintenance.webserver.shared.pair_file import PairFileError, parse_pair


def _pair(request: dict[str, Any]):
    return parse_pair(str(request["pair"]), "(request)")


ACTIONS = {
    "facts": lambda p, r: facts(p),
    "set-password": lambda p, r: logins.set_password(r["user"], r["password"]) or {},
    "login-key": lambda p, r: {"public_key": logins.login_key(r["user"], r["known_host"])},
    "authorize": lambda p, r: logins.authorize(r["user"], r["public_key"]) or {},
    "check-login": lambda p, r: logins.check_login(r["user"], r["peer"]) or {},
    "install-snm": lambda p, r: run(p.install_snm, timeout=600) and {} if p.install_snm else {},
    "setup-master": lambda p, r: setup.setup_master(p, _pair(r), r["replication_password"]),
    "setup-standby": lambda p, r: setup.setup_standby(p, _pair(r), r["replication_password"]),
    "start": lambda p, r: setup.start_redundancy(p),
    "set-fallback": lambda p, r: setup.set_fallback(p, r["fallback"]),
    "release": lambda p, r: setup.release(p),
    "hold": lambda p, r: setup.hold_still(p),
    "remove": lambda p, r: setup.remove(p),
}


def configure_log() -> None:
    try:
        handler: logging.Handler = logging.FileHandler(NODE_LOG)
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("mxone.pmsnm")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def notify(argv: list[str]) -> int:
    if len(argv) < 3:
        return 2
    pair = read_pair()
    if pair is not None:
        on_notify(load_platform(), pair, argv[2])
    return 0


def answer(action: str, raw: str) -> tuple[dict, int]:
    if action not in ACTIONS:
        return {"ok": False, "error": f"unknown action {action!r}"}, 1
    try:
        request = json.loads(raw) if raw.strip() else {}
        result = ACTIONS[action](load_platform(), request) or {}
    except (NodeError, PlatformError, PairFileError, OSError, KeyError, ValueError) as exc:
        logging.getLogger("mxone.pmsnm").error("%s: %s", action, exc)
        return {"ok": False, "error": str(exc) or type(exc).__name__}, 1
    return {"ok": True, **result}, 0


def main(argv: list[str]) -> int:
    configure_log()
    if argv[:1] == ["notify"]:
        return notify(argv[1:])
    if len(argv) != 1:
        print(json.dumps({"ok": False, "error": "usage: node ACTION (request on stdin)"}))
        return 2
    result, code = answer(argv[0], sys.stdin.read())
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
