"""Whether a menu item can be used now: one small pure check per item, named in the menu data.

Each check takes the loaded system (or the one-line reason it could not be loaded) and returns None
when the item can be used, else the reason in plain words.
"""
from __future__ import annotations

from collections.abc import Callable

from mxone_maintenance.core.model import Server, System

SystemOrError = System | str
Check = Callable[[SystemOrError], str | None]


def free_standbys(system: System) -> list[Server]:
    return [s for s in system.servers if s.role == "standby" and system.cluster_of_server(s.name) is None]


def free_lim_servers(system: System) -> list[Server]:
    return [s for s in system.servers if s.role == "lim" and s.lim is not None
            and system.cluster_of_server(s.name) is None]


def free_servers(system: System) -> list[Server]:
    return [s for s in system.servers if s.role == "free"]


def removable_servers(system: System) -> list[Server]:
    return [s for s in system.servers if system.cluster_of_server(s.name) is None]


def preloadable(system: System) -> list[str]:
    return [c.name for c in system.clusters if c.failover != "preloaded" and len(c.lims) == 1]


def locked_lims(system: System) -> list[int]:
    return [item.lim for c in system.clusters for item in c.lims if item.lock]


def system_loaded(system: SystemOrError) -> str | None:
    return system if isinstance(system, str) else None


def has_cluster(system: SystemOrError) -> str | None:
    if isinstance(system, str):
        return system
    return None if system.clusters else "No cluster yet: create one first"


def can_create_cluster(system: SystemOrError) -> str | None:
    if isinstance(system, str):
        return system
    if not any(s.role == "standby" for s in system.servers):
        return "No standby server in the system: add one under Standby server in system"
    if not free_standbys(system):
        return "No free standby server: each standby server is in a cluster already"
    if not free_lim_servers(system):
        return "No free LIM server: every LIM server is in a cluster already"
    return None


def can_preload(system: SystemOrError) -> str | None:
    reason = has_cluster(system)
    if reason:
        return reason
    if not preloadable(system):
        return "No cluster can be preloaded: that needs one regular and one standby server, not yet preloaded"
    return None


def can_add_lim(system: SystemOrError) -> str | None:
    reason = has_cluster(system)
    if reason:
        return reason
    return None if free_lim_servers(system) else "No free LIM server: every LIM server is in a cluster already"


def has_locked_lim(system: SystemOrError) -> str | None:
    reason = has_cluster(system)
    if reason:
        return reason
    return None if locked_lims(system) else "No LIM is locked"


def has_removable_server(system: SystemOrError) -> str | None:
    if isinstance(system, str):
        return system
    if not system.servers:
        return "No server in the system"
    return None if removable_servers(system) else "Every server is in a cluster: remove it from the cluster first"


def has_free_server(system: SystemOrError) -> str | None:
    if isinstance(system, str):
        return system
    return None if free_servers(system) else "No free server: add one under Server in system first"


def has_removable_standby(system: SystemOrError) -> str | None:
    if isinstance(system, str):
        return system
    standbys = [s for s in system.servers if s.role == "standby"]
    if not standbys:
        return "No standby server in the system"
    return None if free_standbys(system) else "Every standby server is in a cluster: delete the cluster first"


CHECKS: dict[str, Check] = {
    "system_loaded": system_loaded,
    "has_cluster": has_cluster,
    "can_create_cluster": can_create_cluster,
    "can_preload": can_preload,
    "can_add_lim": can_add_lim,
    "has_locked_lim": has_locked_lim,
    "has_removable_server": has_removable_server,
    "has_free_server": has_free_server,
    "has_removable_standby": has_removable_standby,
}


def reason_unavailable(check: str | None, system: SystemOrError) -> str | None:
    return CHECKS[check](system) if check else None
