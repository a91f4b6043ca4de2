"""Apply a Plan to the servers: check, stage on every server, then commit — all or nothing.

The plan says what changes; this module turns its steps into the remote layer's two-phase change,
does the checks that need SSH (reachability, free disk, which xdata versions exist), writes the system
file only after every server committed, and logs one audit line per action.
"""
from __future__ import annotations

import getpass
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mxone_maintenance.core import config
from mxone_maintenance.core import paths as product_paths
from mxone_maintenance.core.contracts.host_keys import cluster_known_hosts, parse_known_hosts
from mxone_maintenance.core.contracts.sync_keys import merge_authorized_keys, remove_from_authorized_keys
from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops import address_changes
from mxone_maintenance.utility.ops.agent_command import agent_command
from mxone_maintenance.utility.ops.change_lock import ChangeRefused, check_unchanged, one_change
from mxone_maintenance.utility.ops.cluster_keys import key_file
from mxone_maintenance.utility.ops.plan import (
    AddAddress,
    AllowSyncKey,
    DiskCheck,
    DropSyncKey,
    OrderAgent,
    Plan,
    PruneXdata,
    RemoveAddress,
    RemoveFile,
    SetBootAddress,
    WriteClusterHostKeys,
    WriteFile,
    catch_up_words,
)
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.fleet import Fleet
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection
from mxone_maintenance.utility.remote.transaction import RemoveFile as RemoteRemoveFile
from mxone_maintenance.utility.remote.transaction import RemoveTree, apply_changes
from mxone_maintenance.utility.remote.transaction import WriteFile as RemoteWriteFile

ProgressFn = Callable[[str, str], None]
XDATA_DIR = str(product_paths.XDATA_DIR)
XDATA_NAME = re.compile(r"^xdata_(\d+)_(\d{14})$")


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    message: str
    per_server: dict[str, str] = field(default_factory=dict)
    failed_server: str | None = None

    def text(self) -> str:
        lines = [("Done: " if self.ok else "FAILED: ") + self.message]
        lines += [f"  {server}: {state}" for server, state in self.per_server.items()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"ok": self.ok, "message": self.message, "per_server": self.per_server,
                "failed_server": self.failed_server}


# --- audit log ------------------------------------------------------------------------------------------

def audit(paths: Paths, plan: Plan, result: ApplyResult) -> None:
    """One line per action: when, who (the technician behind sudo), what, and how it ended."""
    who = os.environ.get("SUDO_USER") or getpass.getuser()
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    outcome = "ok" if result.ok else f"FAILED ({result.message})"
    line = f"{when} user={who} action={plan.action!r} what={plan.title!r} result={outcome}\n"
    log = paths.audit_log
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(line)
    os.chmod(log, 0o640)


# --- files here: the cluster keys kept, the system file ---------------------------------------------------

def _store_secrets(paths: Paths, plan: Plan) -> None:
    for name, key in plan.secrets.items():
        config.write_atomic(key_file(paths, name), key, mode=0o600)


def _write_system(system_file: Path, plan: Plan) -> None:
    config.write_atomic(system_file, config.dump_system(plan.after), mode=0o644)


# --- checks over SSH -------------------------------------------------------------------------------------

def _newest_versions(names: list[str]) -> list[str]:
    """xdata version folders sorted oldest first."""
    return sorted((n for n in names if XDATA_NAME.match(n)), key=lambda n: XDATA_NAME.match(n).group(2))


def _listdir_or_empty(conn: Connection, path: str) -> list[str]:
    return conn.listdir(path) if conn.exists(path) else []


def _newest_xdata_size(conn: Connection) -> int:
    versions = _newest_versions(_listdir_or_empty(conn, XDATA_DIR))
    if not versions:
        return 0
    out = conn.run(["du", "-sb", "--", f"{XDATA_DIR}/{versions[-1]}"]).stdout
    return int(out.split()[0])


def _free_bytes(conn: Connection) -> int:
    target = str(product_paths.VAR) if conn.exists(str(product_paths.VAR)) else "/"
    out = conn.run(["df", "-B1", "--output=avail", target]).stdout.split()
    return int(out[-1])


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e7 else f"{size / 1e6:.1f} MB"


@dataclass(frozen=True)
class Refusal:
    """A check that failed before anything changed: which server, and the line to show."""
    server: str
    message: str


def _check_disk(fleet: Fleet, check: DiskCheck) -> Refusal | None:
    sizes = fleet.each(_newest_xdata_size, list(check.regulars))
    failed = [o for o in sizes.values() if not o.ok]
    if failed:
        return Refusal(failed[0].host, failed[0].error)
    need = 2 * sum(o.value for o in sizes.values())
    free = fleet.each(_free_bytes, [check.standby])[check.standby]
    if not free.ok:
        return Refusal(check.standby, free.error)
    if free.value < need:
        return Refusal(check.standby, f"{check.standby}: not enough free disk for two data backups of each "
                                      f"regular ({_gb(free.value)} free, {_gb(need)} needed)")
    return None


def _unreachable(fleet: Fleet) -> dict[str, str]:
    """Each server that does not answer, with the line saying why."""
    outcomes = fleet.each(lambda conn: conn.run(["true"]))
    return {o.host: o.error for o in outcomes.values() if not o.ok}


def _catches_up(step) -> bool:
    """What an agent takes from its peers when it is back: cluster.yaml (their host keys and the xdata
    pruning can wait for the next change). Addresses, keys and network files cannot wait."""
    return (isinstance(step, WriteFile) and step.path == str(product_paths.CLUSTER_FILE)) or \
        isinstance(step, (WriteClusterHostKeys, PruneXdata))


def _skip_down(plan: Plan, down: dict[str, str], allow_down: frozenset[str]) -> tuple[dict, Refusal | None]:
    """The servers to leave out (allowed down, and their part can wait), or the refusal."""
    steps = {s.server: s.steps for s in plan.servers if s.steps}
    for server, error in down.items():
        if server not in allow_down:
            return {}, Refusal(server, error)
        waiting = [step.describe() for step in steps.get(server, ()) if not _catches_up(step)]
        if waiting:
            return {}, Refusal(server, f"{error}; its part of this change cannot wait for it: {waiting[0]}")
    return {server: f"not answering: {catch_up_words(plan, server)}" for server in down}, None



# --- steps -> remote changes -------------------------------------------------------------------------------

def _prune_changes(conn: Connection) -> list[RemoveTree]:
    """Every xdata version but the newest."""
    versions = _newest_versions(_listdir_or_empty(conn, XDATA_DIR))
    return [RemoveTree(f"{XDATA_DIR}/{name}") for name in versions[:-1]]


def _authorized_keys(conn: Connection, edit: Callable[[str], str]) -> RemoteWriteFile:
    path = str(product_paths.AUTHORIZED_KEYS)
    existing = (conn.read_file(path) or b"").decode()
    return RemoteWriteFile(path, edit(existing).encode(), 0o600)


def _cluster_host_keys(step: WriteClusterHostKeys, settings: SshSettings, system: System) -> RemoteWriteFile:
    """Each member's pinned host key, under its name and its base address, from our own known_hosts."""
    pinned = {name: key for name, _, key in parse_known_hosts(settings.known_hosts.read_text())}
    missing = [name for name in step.members if name not in pinned]
    if missing:
        raise RemoteError(missing[0], f"no pinned host key for {missing[0]} in {settings.known_hosts}")
    text = cluster_known_hosts((name, str(system.management_address(name).ip), pinned[name])
                               for name in step.members)
    return RemoteWriteFile(step.path, text.encode(), 0o644)


def _remote_changes(conn: Connection, steps, settings: SshSettings, after: System) -> list:
    changes: list = []
    for step in steps:
        if isinstance(step, WriteFile):
            changes.append(RemoteWriteFile(step.path, step.content, step.mode))
        elif isinstance(step, RemoveFile):
            if conn.exists(step.path):
                changes.append(RemoteRemoveFile(step.path))
        elif isinstance(step, AddAddress):
            changes.extend(address_changes.add_address(step))
        elif isinstance(step, RemoveAddress):
            changes.extend(address_changes.remove_address(conn, step))
        elif isinstance(step, SetBootAddress):
            changes.extend(address_changes.boot_address(conn, step))
        elif isinstance(step, PruneXdata):
            changes.extend(_prune_changes(conn))
        elif isinstance(step, AllowSyncKey):
            changes.append(_authorized_keys(conn, lambda text, line=step.line: merge_authorized_keys(text, line)))
        elif isinstance(step, DropSyncKey):
            changes.append(_authorized_keys(conn, lambda text, m=step.marker: remove_from_authorized_keys(text, m)))
        elif isinstance(step, WriteClusterHostKeys):
            changes.append(_cluster_host_keys(step, settings, after))
    return changes


# --- apply ----------------------------------------------------------------------------------------------------

def _give_orders(fleet: Fleet, plan: Plan) -> ApplyResult:
    steps = {s.server: [step for step in s.steps if isinstance(step, OrderAgent)] for s in plan.servers}

    def order(conn: Connection) -> str:
        said = []   # the agent's own line ("data sync ordered: LIM 1 with lim1; ...")
        for step in steps[conn.host.name]:
            lines = conn.run([agent_command(), *step.args]).stdout.strip().splitlines()
            said.append(lines[-1] if lines else "order accepted")
        return "; ".join(said)

    outcomes = fleet.each(order, [name for name, s in steps.items() if s])
    per_server = {name: (o.value if o.ok else f"FAILED: {o.error}") for name, o in outcomes.items()}
    failed = next((o for o in outcomes.values() if not o.ok), None)
    if failed:
        return ApplyResult(False, failed.error, per_server, failed.host)
    return ApplyResult(True, plan.title, per_server)


def _change_servers(fleet: Fleet, plan: Plan, settings: SshSettings, progress: ProgressFn,
                    allow_down: frozenset[str]) -> ApplyResult:
    skipped, problem = _skip_down(plan, _unreachable(fleet), allow_down)
    if problem is None and plan.disk_check is not None:
        progress(plan.disk_check.standby, "checking free disk")
        problem = _check_disk(fleet, plan.disk_check)
    if problem is not None:
        return ApplyResult(False, f"{problem.message}; nothing was changed", {}, problem.server)
    steps = {s.server: s.steps for s in plan.servers if s.steps and s.server not in skipped}
    listed = fleet.each(lambda conn: _remote_changes(conn, steps[conn.host.name], settings, plan.after), list(steps))
    failed = next((o for o in listed.values() if not o.ok), None)
    if failed:
        return ApplyResult(False, f"{failed.error}; nothing was changed", {}, failed.host)
    report = apply_changes(fleet, {name: o.value for name, o in listed.items()})
    if not report.ok:
        return ApplyResult(False, report.error, dict(report.per_host), report.failed_host)
    return ApplyResult(True, plan.title, {**report.per_host, **skipped})


def apply_plan(plan: Plan, paths: Paths, system_file: Path, settings: SshSettings,
               progress: ProgressFn | None = None, parallel: bool = True,
               allow_down: frozenset[str] = frozenset()) -> ApplyResult:
    """Carry out a plan. On failure no server and no file is changed, and the result names the server.
    `parallel=False` works on one server at a time (the benchmark's yardstick). A server in `allow_down`
    that does not answer is left out when all it would get is cluster.yaml: its agent takes that from
    its peers when it is back (runtime/catch_up.py)."""
    progress = progress or (lambda server, message: None)
    try:
        with one_change(system_file, plan.action):
            if plan.after != plan.before:
                check_unchanged(system_file, plan.before)
            result = _apply_locked(plan, paths, system_file, settings, progress, parallel, allow_down)
    except ChangeRefused as err:
        result = ApplyResult(False, f"{err}; nothing was changed")
    audit(paths, plan, result)
    return result


def _apply_locked(plan: Plan, paths: Paths, system_file: Path, settings: SshSettings, progress: ProgressFn,
                  parallel: bool, allow_down: frozenset[str]) -> ApplyResult:
    hosts = [Host(s.server, s.address) for s in plan.servers]
    try:
        if not hosts:
            result = ApplyResult(True, plan.title)
        else:
            with Fleet(hosts, settings, progress=progress, parallel=parallel) as fleet:
                if plan.is_order and plan.changes_servers:
                    result = _give_orders(fleet, plan)
                else:
                    result = _change_servers(fleet, plan, settings, progress, allow_down)
        if result.ok and plan.after != plan.before:
            _store_secrets(paths, plan)
            _write_system(system_file, plan)
    except RemoteError as err:
        result = ApplyResult(False, f"{err}; nothing was changed", {}, err.host)
    except OSError as err:
        result = ApplyResult(False, f"cannot write {getattr(err, 'filename', '')}: {err.strerror}")
    return result
