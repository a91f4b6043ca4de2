"""agent.yaml: this server's own agent settings (docs/INTERFACES.md). Optional file, read like
system.yaml (core/config/loader: no anchors or aliases, no deep nesting).

    node: lim1                      # this server's name in cluster.yaml (default: hostname)
    service: {start: [argv...], stop: [argv...], reload: [argv...]}   # reload: optional (preloaded)
    data_backup_hook: [argv...]     # accepted and checked, but nothing runs it
    sync: {bwlimit_kbps: 20000}     # optional: cap the data sync's bandwidth (rsync --bwlimit, KiB/s)
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mxone_maintenance.core.config import FileError
from mxone_maintenance.core.config import schema as s
from mxone_maintenance.core.config.loader import Map, parse_yaml, read_text


class SettingsError(Exception):
    """agent.yaml cannot be used; str() is one line `FILE:LINE: KEY: problem`, as for system.yaml."""


@dataclass(frozen=True)
class AgentSettings:
    node: str
    service_start: tuple[str, ...] = ()
    service_stop: tuple[str, ...] = ()
    service_reload: tuple[str, ...] = ()     # preloaded: the passive side re-reads pulled data
    sync_bwlimit_kbps: int | None = None


def _argv(value: Any, where: s.Where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
        raise where.error("must be a list of strings", value)
    return tuple(str(item) for item in value)


def _node(value: Any, where: s.Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error("must be a server name", value)
    return value.strip()


def _empty(line: int) -> Map:
    empty = Map()
    empty.line, empty.key_lines = line, {}
    return empty


def _optional_map(data: Map, where: s.Where, key: str, allowed: set[str]) -> tuple[Map, s.Where]:
    """The mapping under `key` (empty when absent or null) and where its keys stand."""
    value, at = data.get(key), s.at(data, where, key)
    if value is None:
        return _empty(at.line), at
    s.fields(s.mapping(value, at), at, set(), allowed)
    return value, at


def _bwlimit(value: Any, where: s.Where) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise where.error("must be a positive integer", value)
    return value


def settings_from_data(data: Any, file: str, default_node: str) -> AgentSettings:
    top, root = s.top(_empty(1) if data is None else data, file)     # an empty file: all defaults
    s.fields(top, root, set(), {"node", "service", "data_backup_hook", "sync"})
    service, service_at = _optional_map(top, root, "service", {"start", "stop", "reload"})
    sync, sync_at = _optional_map(top, root, "sync", {"bwlimit_kbps"})
    s.get(top, root, "data_backup_hook", _argv)     # documented and written by scripts/lab; nothing runs it
    return AgentSettings(node=s.get(top, root, "node", _node, default=default_node.strip()),
                         service_start=s.get(service, service_at, "start", _argv, default=()),
                         service_stop=s.get(service, service_at, "stop", _argv, default=()),
                         service_reload=s.get(service, service_at, "reload", _argv, default=()),
                         sync_bwlimit_kbps=s.get(sync, sync_at, "bwlimit_kbps", _bwlimit))


def parse_settings(text: str, file: Path, default_node: str) -> AgentSettings:
    try:        # the product's loader: no anchors or aliases (a billion laughs), no deep nesting, one line
        return settings_from_data(parse_yaml(text, str(file)), str(file), default_node)
    except FileError as exc:
        raise SettingsError(str(exc)) from None


def load_settings(path: Path, default_node: str | None = None) -> AgentSettings:
    """The settings in `path`; a missing file means all defaults (node = this host's name)."""
    node = default_node or socket.gethostname()
    try:        # the loader's read: a FIFO does not block, a huge file or one not UTF-8 is one line
        text = read_text(path)
    except FileError as exc:
        if not os.path.lexists(path):
            return AgentSettings(node=node)
        raise SettingsError(str(exc)) from None
    return parse_settings(text, path, node)
