"""agent.yaml: this server's own agent settings (docs/INTERFACES.md). Optional file, read like
system.yaml (core/config/loader: no anchors or aliases, no deep nesting).

    node: lim1                      # this server's name in cluster.yaml (default: hostname)
    service: {start: [argv...], stop: [argv...], reload: [argv...]}   # reload: optional (preloaded)
    media_server: {start: [argv...], stop: [argv...], addresses_file: /path}   # a co-located Media Server
    reboot: [argv...]               # what a guided reboot runs (default systemctl reboot)
    service.check: [argv...] | {tcp: PORT, expect: TEXT}   # optional Service Node health check ({lim} {alias} {node})
    service.check_interval_s: 2, service.check_timeout_s: 1, service.check_failures: 3
    notify: [argv...]               # optional: run on every event (agent/events/notify.py)
    notify_timeout_s: 5             # ... killed after this
    traps: {receivers: ["host[:port]", ...], community: public}   # optional: SNMP v2c traps
    metrics: {textfile: /var/lib/prometheus/node-exporter/mxone.prom}   # optional: node-exporter textfile
    data_backup_hook: [argv...]     # accepted and checked, but nothing runs it
    sync: {bwlimit_kbps: 20000}     # optional: cap the data sync's bandwidth (rsync --bwlimit, KiB/s)
"""
from __future__ import annotations

import ipaddress
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
    check_argv: tuple[str, ...] = ()         # the Service Node's health check command, or
    check_tcp_port: int | None = None        # ... a TCP connect to the LIM's alias on this port
    check_expect: str = ""                   # ... whose greeting must contain this ({lim} {alias} {node})
    reboot: tuple[str, ...] = ("systemctl", "reboot")   # what `mxone-cluster-agent reboot` runs (cluster reboot)
    media_start: tuple[str, ...] = ()        # a co-located Media Server: started after the Service Node ...
    media_stop: tuple[str, ...] = ()         # ... and stopped before it, on the same alias
    media_addresses_file: Path | None = None   # where the MX-ONE configuration says the MS binds (KEY=VALUE)
    check_interval_s: float = 2.0
    check_timeout_s: float = 1.0
    check_failures: int = 3                  # this many failed checks in a row: unhealthy
    notify: tuple[str, ...] = ()
    notify_timeout_s: float = 5.0
    trap_receivers: tuple[tuple[str, int], ...] = ()
    trap_community: str = "public"
    metrics_textfile: Path | None = None


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


def _command(value: Any, where: s.Where) -> tuple[str, ...]:
    """A command that must run something: a list of at least one string."""
    argv = _argv(value, where)
    if value is not None and (not argv or not argv[0].strip()):
        raise where.error("must be a list of strings, the first a program", value)
    return argv


def _expect(value: Any, where: s.Where) -> str:
    if not isinstance(value, str) or not value or len(value) > 200 or not value.isprintable():
        raise where.error("must be the printable text the Service Node greets with (1 to 200 characters)", value)
    return value


def _absolute_file(value: Any, where: s.Where) -> Path:
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise where.error("must be an absolute file name", value)
    return Path(value)


def _check(value: Any, where: s.Where) -> tuple[tuple[str, ...], int | None, str]:
    """service.check: an argv list, or {tcp: PORT} (connects) with `expect: TEXT` (and reads its greeting:
    a hung Service Node still accepts connections, the kernel does that for it, but says nothing)."""
    if isinstance(value, Map):
        s.fields(value, where, {"tcp"}, {"expect"})
        return (), s.get(value, where, "tcp", s.whole(1, 65535)), s.get(value, where, "expect", _expect, default="")
    if not isinstance(value, list):
        raise where.error("must be a list of strings or {tcp: PORT}", value)
    return _command(value, where), None, ""


def _receiver(value: Any, where: s.Where) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` (port 162 when none is given)."""
    if not isinstance(value, str):
        raise where.error("must be host or host:port", value)
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port = rest[1:] if sep and rest.startswith(":") else None if sep and not rest else "bad"
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if not host or any(c.isspace() or c in "/[]" for c in host) or port == "bad" or (":" in host and not _v6(host)):
        raise where.error("must be host or host:port", value)
    if port is not None and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise where.error("the port must be from 1 to 65535", value)
    return host, int(port) if port is not None else 162


def _v6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _receivers(value: Any, where: s.Where) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, list):
        raise where.error("must be a list of host or host:port", value)
    lines = getattr(value, "item_lines", [])
    return tuple(_receiver(item, s.Where(where.file, lines[index] if index < len(lines) else where.line,
                                         f"{where.key}[{index}]"))
                 for index, item in enumerate(value))


def _community(value: Any, where: s.Where) -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or not value.isprintable():
        raise where.error("must be a community name (1 to 64 printable characters)", value)
    return value


def _textfile(value: Any, where: s.Where) -> Path:
    if not isinstance(value, str) or not value.startswith("/") or not value.endswith(".prom") \
            or not value.isprintable():
        raise where.error("must be an absolute path ending in .prom (node-exporter reads only those)", value)
    return Path(value)


SERVICE_KEYS = {"start", "stop", "reload", "check", "check_interval_s", "check_timeout_s", "check_failures"}
TOP_KEYS = {"node", "service", "data_backup_hook", "sync", "notify", "notify_timeout_s", "traps", "metrics",
            "reboot", "media_server"}


def settings_from_data(data: Any, file: str, default_node: str) -> AgentSettings:
    top, root = s.top(_empty(1) if data is None else data, file)     # an empty file: all defaults
    s.fields(top, root, set(), TOP_KEYS)
    service, service_at = _optional_map(top, root, "service", SERVICE_KEYS)
    media, media_at = _optional_map(top, root, "media_server", {"start", "stop", "addresses_file"})
    sync, sync_at = _optional_map(top, root, "sync", {"bwlimit_kbps"})
    traps, traps_at = _optional_map(top, root, "traps", {"receivers", "community"})
    metrics, metrics_at = _optional_map(top, root, "metrics", {"textfile"})
    s.get(top, root, "data_backup_hook", _argv)     # documented and written by scripts/lab; nothing runs it
    check_argv, check_tcp, check_expect = s.get(service, service_at, "check", _check, default=((), None, ""))
    return AgentSettings(node=s.get(top, root, "node", _node, default=default_node.strip()),
                         service_start=s.get(service, service_at, "start", _argv, default=()),
                         service_stop=s.get(service, service_at, "stop", _argv, default=()),
                         service_reload=s.get(service, service_at, "reload", _argv, default=()),
                         sync_bwlimit_kbps=s.get(sync, sync_at, "bwlimit_kbps", _bwlimit),
                         check_argv=check_argv, check_tcp_port=check_tcp, check_expect=check_expect,
                         check_interval_s=s.get(service, service_at, "check_interval_s", s.number(0.1, 3600),
                                                default=2.0),
                         check_timeout_s=s.get(service, service_at, "check_timeout_s", s.number(0.1, 600),
                                               default=1.0),
                         check_failures=s.get(service, service_at, "check_failures", s.whole(1, 100), default=3),
                         notify=s.get(top, root, "notify", _command, default=()),
                         reboot=s.get(top, root, "reboot", _command, default=("systemctl", "reboot")),
                         media_start=s.get(media, media_at, "start", _argv, default=()),
                         media_stop=s.get(media, media_at, "stop", _argv, default=()),
                         media_addresses_file=s.get(media, media_at, "addresses_file", _absolute_file),
                         notify_timeout_s=s.get(top, root, "notify_timeout_s", s.number(0.1, 300), default=5.0),
                         trap_receivers=s.get(traps, traps_at, "receivers", _receivers, default=()),
                         trap_community=s.get(traps, traps_at, "community", _community, default="public"),
                         metrics_textfile=s.get(metrics, metrics_at, "textfile", _textfile))


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
