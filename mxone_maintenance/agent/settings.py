"""agent.yaml: this server's own agent settings (docs/INTERFACES.md). Optional file, read like
system.yaml (core/config/loader: no anchors or aliases, no deep nesting).

    node: lim1                      # this server's name in cluster.yaml (default: hostname)
    service: {start: [argv...], stop: [argv...], reload: [argv...]}   # reload: optional (preloaded)
    data_backup_hook: [argv...]     # accepted and checked, but nothing runs it
    sync: {bwlimit_kbps: 20000}     # optional: cap the data sync's bandwidth (rsync --bwlimit, KiB/s)
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mxone_maintenance.core.config import FileError
from mxone_maintenance.core.config.loader import parse_yaml


class SettingsError(Exception):
    """agent.yaml cannot be used; str() is one line naming the file and the key."""


@dataclass(frozen=True)
class AgentSettings:
    node: str
    service_start: tuple[str, ...] = ()
    service_stop: tuple[str, ...] = ()
    service_reload: tuple[str, ...] = ()     # preloaded: the passive side re-reads pulled data
    sync_bwlimit_kbps: int | None = None


def _argv(value: Any, file: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
        raise SettingsError(f"{file}: {key}: must be a list of strings (got {value!r})")
    return tuple(str(item) for item in value)


def parse_settings(text: str, file: Path, default_node: str) -> AgentSettings:
    try:        # the product's loader: no anchors or aliases (a billion laughs), no deep nesting, one line
        data = parse_yaml(text, str(file))
    except FileError as exc:
        raise SettingsError(str(exc)) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise SettingsError(f"{file}: must be a mapping (got {type(data).__name__})")
    unknown = set(data) - {"node", "service", "data_backup_hook", "sync"}
    if unknown:
        raise SettingsError(f"{file}: unknown key {sorted(unknown)[0]!r}")
    node = data.get("node", default_node)
    if not isinstance(node, str) or not node.strip():
        raise SettingsError(f"{file}: node: must be a server name (got {node!r})")
    service = data.get("service") or {}
    if not isinstance(service, dict) or set(service) - {"start", "stop", "reload"}:
        raise SettingsError(f"{file}: service: must be a mapping with start, stop and reload (got {service!r})")
    _argv(data.get("data_backup_hook"), file, "data_backup_hook")  # documented and written by scripts/lab
    return AgentSettings(node=node.strip(),
                         service_start=_argv(service.get("start"), file, "service.start"),
                         service_stop=_argv(service.get("stop"), file, "service.stop"),
                         service_reload=_argv(service.get("reload"), file, "service.reload"),
                         sync_bwlimit_kbps=_bwlimit(data.get("sync"), file))


def _bwlimit(sync: Any, file: Path) -> int | None:
    sync = {} if sync is None else sync
    if not isinstance(sync, dict) or set(sync) - {"bwlimit_kbps"}:
        raise SettingsError(f"{file}: sync: must be a mapping with bwlimit_kbps (got {sync!r})")
    value = sync.get("bwlimit_kbps")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise SettingsError(f"{file}: sync.bwlimit_kbps: must be a positive integer (got {value!r})")
    return value


def load_settings(path: Path, default_node: str | None = None) -> AgentSettings:
    """The settings in `path`; a missing file means all defaults (node = this host's name)."""
    node = default_node or socket.gethostname()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return AgentSettings(node=node)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_settings(text, path, node)
