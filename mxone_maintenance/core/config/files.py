"""system.yaml and cluster.yaml: load with schema checks, dump, and write atomically.

Every problem in a file is reported as one line `FILE:LINE: KEY: problem (got VALUE)`, so a technician
can open the file at the right place. Only `yaml.safe_load`-equivalent construction is used.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Interface, NetmaskValueError
from pathlib import Path
from typing import Any

import yaml

from mxone_maintenance.core.model import (
    DEFAULT_DETECT_S,
    DEFAULT_HEARTBEAT_S,
    DEFAULT_INTERFACE,
    DEFAULT_PORT,
    DEFAULT_PRIORITY,
    Cluster,
    ClusterLim,
    Server,
    StandbyRef,
    System,
)

SCHEMA_VERSION = 1


class FileError(Exception):
    """A file that cannot be used; str() is one line naming file, line and key."""


# --- YAML with line numbers -------------------------------------------------------------------

class _Map(dict):
    """A mapping that remembers the line of itself and of each key (1-based)."""
    line: int = 0
    key_lines: dict


class _Seq(list):
    line: int = 0
    item_lines: list


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records line numbers and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):  # noqa: D401 - yaml hook
        result = _Map()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise FileError(f"{{file}}:{key_node.start_mark.line + 1}: a key must be a plain name, "
                                "not a list or mapping")
            if key in result:
                raise FileError(f"{{file}}:{key_node.start_mark.line + 1}: {key}: duplicate key")
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node, deep=False):
        result = _Seq(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)


def _parse(text: str, file: str) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except FileError as err:
        raise FileError(str(err).replace("{file}", file)) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark else 0
        raise FileError(f"{file}:{line}: not valid YAML ({err.problem})") from None
    except yaml.YAMLError as err:
        raise FileError(f"{file}: not valid YAML ({err})") from None


# --- schema checks ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Where:
    file: str
    line: int
    key: str

    def error(self, problem: str, value: Any = None, show_value: bool = True) -> FileError:
        got = f" (got {value!r})" if show_value else ""
        return FileError(f"{self.file}:{self.line}: {self.key}: {problem}{got}")


def _mapping(value: Any, where: _Where) -> _Map:
    if not isinstance(value, _Map):
        raise where.error("must be a mapping", value)
    return value


def _fields(data: _Map, where: _Where, required: set[str], optional: set[str]) -> None:
    for key in data:
        if key not in required | optional:
            line = data.key_lines.get(key, data.line)
            allowed = ", ".join(sorted(required | optional))
            raise _Where(where.file, line, _join(where.key, key)).error(f"unknown key (allowed: {allowed})",
                                                                         show_value=False)
    for key in sorted(required - set(data)):
        raise _Where(where.file, data.line, _join(where.key, key)).error("missing", show_value=False)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _at(data: _Map, where: _Where, key: str) -> _Where:
    return _Where(where.file, data.key_lines.get(key, data.line), _join(where.key, key))


def _get(data: _Map, where: _Where, key: str, check: Callable[[Any, _Where], Any], default: Any = None) -> Any:
    if key not in data:
        return default
    return check(data[key], _at(data, where, key))


def _int(low: int, high: int) -> Callable[[Any, _Where], int]:
    def check(value: Any, where: _Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.error("must be a whole number", value)
        if not low <= value <= high:
            raise where.error(f"must be from {low} to {high}", value)
        return value
    return check


def _number(low: float, high: float) -> Callable[[Any, _Where], float]:
    def check(value: Any, where: _Where) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.error("must be a number", value)
        if not low <= value <= high:
            raise where.error(f"must be from {low:g} to {high:g}", value)
        return float(value)
    return check


NAME_RULE = "must be a name of letters, digits, '-', '_' or '.'"


def is_name(value: Any) -> bool:
    """A server, cluster or interface name as the files accept it."""
    return isinstance(value, str) and bool(value) and all(c.isalnum() or c in "-_." for c in value)


def _name(value: Any, where: _Where) -> str:
    if not is_name(value):
        raise where.error(NAME_RULE, value)
    return value


def _choice(*options: str | None) -> Callable[[Any, _Where], Any]:
    def check(value: Any, where: _Where) -> Any:
        if value not in options:
            shown = ", ".join("null" if o is None else o for o in options)
            raise where.error(f"must be one of {shown}", value)
        return value
    return check


def parse_interface(value: Any) -> IPv4Interface:
    """An IPv4 address with prefix length, e.g. 10.77.0.11/24 (a bare address is not enough)."""
    if not isinstance(value, str) or "/" not in value:
        raise ValueError("must be an IPv4 address with prefix length, like 10.77.0.11/24")
    try:
        iface = IPv4Interface(value)
    except (AddressValueError, NetmaskValueError, ValueError):
        raise ValueError("must be an IPv4 address with prefix length, like 10.77.0.11/24") from None
    if iface.ip in (iface.network.network_address, iface.network.broadcast_address) and iface.network.prefixlen < 31:
        raise ValueError("is the network or broadcast address of its subnet")
    return iface


def _address(value: Any, where: _Where) -> IPv4Interface:
    try:
        return parse_interface(value)
    except ValueError as err:
        raise where.error(str(err), value) from None


def _list(value: Any, where: _Where) -> _Seq:
    if not isinstance(value, _Seq):
        raise where.error("must be a list", value)
    return value


def _items(data: _Map, where: _Where, key: str) -> list[tuple[_Map, _Where]]:
    seq = _get(data, where, key, _list, default=_Seq())
    out = []
    for index, item in enumerate(seq):
        line = seq.item_lines[index] if index < len(seq.item_lines) else seq.line
        item_where = _Where(where.file, line, f"{_join(where.key, key)}[{index}]")
        out.append((_mapping(item, item_where), item_where))
    return out


def _unique(items: list[tuple[Any, _Where]], what: str) -> None:
    seen: dict[Any, _Where] = {}
    for value, where in items:
        if value in seen:
            raise where.error(f"duplicate {what} (also at line {seen[value].line})", str(value))
        seen[value] = where


# --- system.yaml -----------------------------------------------------------------------------

_SERVER_KEYS = {"address", "role", "lim"}


def _server(data: _Map, where: _Where) -> Server:
    _fields(data, where, {"name", "address"}, _SERVER_KEYS - {"address"})
    name = _get(data, where, "name", _name)
    address = _get(data, where, "address", _address)
    role = _get(data, where, "role", _choice("lim", "standby", "free"), default="lim")
    lim = _get(data, where, "lim", _int(1, 99))
    if role == "lim" and lim is None:
        raise _at(data, where, "lim").error("missing: a LIM server needs its LIM number (or role: standby | free)",
                                            show_value=False)
    if role != "lim" and lim is not None:
        raise _at(data, where, "lim").error(f"a {role} server has no LIM", lim)
    return Server(name=name, address=address, role=role, lim=lim)


def system_from_data(data: Any, file: str) -> System:
    top = _mapping(data, _Where(file, 1, "(top)"))
    root = _Where(file, top.line, "")
    _fields(top, root, {"schema"}, {"servers", "clusters"})
    _get(top, root, "schema", _int(SCHEMA_VERSION, SCHEMA_VERSION))
    servers = [(_server(item, where), item, where) for item, where in _items(top, root, "servers")]
    _unique([(s.name, _at(m, w, "name")) for s, m, w in servers], "server name")
    _unique([(s.address.ip, _at(m, w, "address")) for s, m, w in servers], "server address")
    _unique([(s.lim, _at(m, w, "lim")) for s, m, w in servers if s.lim is not None], "LIM number")
    clusters = [(_cluster(item, where), item, where) for item, where in _items(top, root, "clusters")]
    _unique([(c.name, _at(m, w, "cluster")) for c, m, w in clusters], "cluster name")
    return System(servers=tuple(s for s, _, _ in servers), clusters=tuple(c for c, _, _ in clusters))


# --- cluster.yaml ----------------------------------------------------------------------------

_CLUSTER_REQUIRED = {"schema", "cluster", "generation", "standby", "lims"}
_CLUSTER_OPTIONAL = {"fallback", "failover", "detect_s", "heartbeat_s", "port", "interface"}


def _standby(data: Any, where: _Where) -> StandbyRef:
    data = _mapping(data, where)
    _fields(data, where, {"server", "base"}, set())
    return StandbyRef(server=_get(data, where, "server", _name), base=_get(data, where, "base", _address))


def _cluster_lim(data: _Map, where: _Where) -> ClusterLim:
    _fields(data, where, {"lim", "server", "base", "alias"}, {"priority", "lock"})
    return ClusterLim(
        lim=_get(data, where, "lim", _int(1, 99)),
        server=_get(data, where, "server", _name),
        base=_get(data, where, "base", _address),
        alias=_get(data, where, "alias", _address),
        priority=_get(data, where, "priority", _int(0, 999), default=DEFAULT_PRIORITY),
        lock=_get(data, where, "lock", _choice(None, "regular", "standby")),
    )


def _cluster(data: _Map, where: _Where) -> Cluster:
    _fields(data, where, _CLUSTER_REQUIRED, _CLUSTER_OPTIONAL)
    _get(data, where, "schema", _int(SCHEMA_VERSION, SCHEMA_VERSION))
    failover = _get(data, where, "failover", _choice("normal", "preloaded"), default="normal")
    lims = [(_cluster_lim(item, w), item, w) for item, w in _items(data, where, "lims")]
    _unique([(item.lim, _at(m, w, "lim")) for item, m, w in lims], "LIM number")
    _unique([(item.server, _at(m, w, "server")) for item, m, w in lims], "server")
    interface = _get(data, where, "interface", _name, default=DEFAULT_INTERFACE)
    return Cluster(
        name=_get(data, where, "cluster", _name),
        generation=_get(data, where, "generation", _int(1, 2**53)),
        fallback=_get(data, where, "fallback", _choice("automatic", "manual"), default="automatic"),
        failover=failover,
        detect_s=_get(data, where, "detect_s", _number(0.3, 3600), default=DEFAULT_DETECT_S[failover]),
        heartbeat_s=_get(data, where, "heartbeat_s", _number(0.1, 60), default=DEFAULT_HEARTBEAT_S),
        port=_get(data, where, "port", _int(1, 65535), default=DEFAULT_PORT),
        interface=interface,
        standby=_get(data, where, "standby", _standby),
        lims=tuple(item for item, _, _ in lims),
    )


def cluster_from_data(data: Any, file: str) -> Cluster:
    return _cluster(_mapping(data, _Where(file, 1, "(top)")), _Where(file, 1, ""))


# --- dump ------------------------------------------------------------------------------------

def _number_out(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def cluster_to_data(cluster: Cluster) -> dict:
    return {
        "schema": cluster.schema,
        "cluster": cluster.name,
        "generation": cluster.generation,
        "fallback": cluster.fallback,
        "failover": cluster.failover,
        "detect_s": _number_out(cluster.detect_s),
        "heartbeat_s": _number_out(cluster.heartbeat_s),
        "port": cluster.port,
        "interface": cluster.interface,
        "standby": {"server": cluster.standby.server, "base": str(cluster.standby.base)},
        "lims": [{"lim": item.lim, "server": item.server, "base": str(item.base), "alias": str(item.alias),
                  "priority": item.priority, "lock": item.lock} for item in cluster.lims],
    }


def server_to_data(server: Server) -> dict:
    data: dict[str, Any] = {"name": server.name, "address": str(server.address)}
    if server.role == "lim":
        data["lim"] = server.lim
    else:
        data["role"] = server.role
    return data


def system_to_data(system: System) -> dict:
    return {"schema": system.schema,
            "servers": [server_to_data(s) for s in system.servers],
            "clusters": [cluster_to_data(c) for c in system.clusters]}


class _Dumper(yaml.SafeDumper):
    """Flow style for the small server entries, block style elsewhere: the look of DESIGN §3."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = set(data) <= {"name", "address", "lim", "role"} and "name" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)


def _dump(data: dict, header: str) -> str:
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def dump_system(system: System) -> str:
    return _dump(system_to_data(system),
                 "# MX-ONE system inventory. Written by mxone_maintenance; do not edit by hand.\n")


def dump_cluster(cluster: Cluster) -> str:
    return _dump(cluster_to_data(cluster),
                 "# MX-ONE cluster configuration. Written by mxone_maintenance; enforced by mxone-cluster-agent.\n")


# --- load / write ----------------------------------------------------------------------------

def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise FileError(f"{path}: cannot read ({err})") from None


def parse_system(text: str, file: str = "system.yaml") -> System:
    return system_from_data(_parse(text, file), file)


def parse_cluster(text: str, file: str = "cluster.yaml") -> Cluster:
    return cluster_from_data(_parse(text, file), file)


def load_system(path: Path) -> System:
    return parse_system(_read(path), str(path))


def load_cluster(path: Path) -> Cluster:
    return parse_cluster(_read(path), str(path))


def write_atomic(path: Path, content: str | bytes, mode: int = 0o644) -> None:
    """Write a file so that readers see the old content or the new, never a half-written file:
    a temp file in the same folder, fsync, chmod, rename, then fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
