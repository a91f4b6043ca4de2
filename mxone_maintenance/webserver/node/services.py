"""The units of PM/SNM on this server (keepalived, the database, the web application) through the
server's service manager (webserver.yaml `control`: systemctl on an MX-ONE server), and the virtual IP
as the interface shows it."""
from __future__ import annotations

import json
import socket

from mxone_maintenance.webserver.node.platform import Platform
from mxone_maintenance.webserver.node.run import NodeError, run, succeeds


def start(platform: Platform, unit: str) -> None:
    run(platform.unit("start", unit), timeout=120)


def stop(platform: Platform, unit: str) -> None:
    run(platform.unit("stop", unit), timeout=120)


def reload(platform: Platform, unit: str) -> None:
    run(platform.unit("reload", unit), timeout=60)


def active(platform: Platform, unit: str) -> bool:
    return succeeds(platform.unit("is-active", unit))


def enabled(platform: Platform, unit: str) -> bool:
    return succeeds(platform.unit("is-enabled", unit))


def set_enabled(platform: Platform, unit: str, on: bool) -> None:
    run(platform.unit("enable" if on else "disable", unit), timeout=60)


def holds_address(interface: str, address: str) -> bool:
    try:
        shown = json.loads(run(["ip", "-j", "-4", "addr", "show", "dev", interface], timeout=10).stdout or "[]")
    except (NodeError, ValueError):
        return False
    return any(info.get("local") == address for link in shown for info in link.get("addr_info", []))


def answered_elsewhere(interface: str, address: str, wait_s: float = 2.0) -> bool:
    """Whether another host answers ARP for `address` now (after keepalived took it from us)."""
    return succeeds(["arping", "-q", "-c", "2", "-w", f"{wait_s:g}", "-I", interface, address], timeout=wait_s + 3)


def tcp_open(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
