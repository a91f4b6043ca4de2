"""Apply a Plan to the servers: check, stage on every server, then commit — all or nothing.

The plan says what changes; this module turns its steps into the remote layer's two-phase change,
runs the checks that need SSH (ops/apply_checks.py), journals the change before the first commit
(ops/journal.py), writes the system file only after every server committed, and logs one audit line
per action. A change rolled back after a commit goes back as a newer generation (ops/generations.py);
one interrupted for good stays in the journal until `cluster finish` or `cluster undo`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from mxone_maintenance.core import config
from mxone_maintenance.core import paths as product_paths
from mxone_maintenance.core.contracts.host_keys import cluster_known_hosts, parse_known_hosts
from mxone_maintenance.core.contracts.sync_keys import merge_authorized_keys, remove_from_authorized_keys
from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops import address_changes
from mxone_maintenance.utility.ops.agent_command import agent_command
from mxone_maintenance.utility.ops.apply_checks import XDATA_NAME, check_agents, check_disk, check_media_servers, \
    listdir_or_empty, skip_down, survey, versions_oldest_first
from mxone_maintenance.utility.ops.change_lock import ChangeRefused, check_unchanged, one_change, technician
from mxone_maintenance.utility.ops.cluster_keys import key_file
from mxone_maintenance.utility.ops.generations import GenerationConflict, numbered_above_servers, rolled_forward, \
    undo_cluster_file
from mxone_maintenance.utility.ops.host_key_pins import new_keys, pin_new, trusting_new
from mxone_maintenance.utility.ops.journal import Journal, JournalError, clear_journal, read_journal, write_journal
from mxone_maintenance.utility.ops.pending import PendingError, leaves_of, read_pending, write_pending
from mxone_maintenance.utility.ops.plan import (
    AddAddress,
    AllowSyncKey,
    CleanStaged,
    DropSyncKey,
    MakeFolder,
    OrderAgent,
    Plan,
    PruneXdata,
    RemoveAddress,
    RemoveFile,
    RemoveFolder,
    SetBootAddress,
    WriteClusterHostKeys,
    WriteFile,
)
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.fleet import Fleet
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection
from mxone_maintenance.utility.remote.transaction import RemoveFile as RemoteRemoveFile
from mxone_maintenance.utility.remote.transaction import RemoveTree, Report, RunCommand, apply_changes
from mxone_maintenance.utility.remote.transaction import WriteFile as RemoteWriteFile

ProgressFn = Callable[[str, str], None]
XDATA_DIR = str(product_paths.XDATA_DIR)
CLUSTER_FILE = str(product_paths.CLUSTER_FILE)


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    message: str
    per_server: dict[str, str] = field(default_factory=dict)
    failed_server: str | None = None
    can_leave_out: bool = False    # failed_server did not answer and its part can wait (--allow-down)

    def text(self) -> str:
        lines = [("Done: " if self.ok else "FAILED: ") + self.message]
        lines += [f"  {server}: {state}" for server, state in self.per_server.items()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"ok": self.ok, "message": self.message, "per_server": self.per_server,
                "failed_server": self.failed_server, "can_leave_out": self.can_leave_out}


# --- audit log ------------------------------------------------------------------------------------------

def audit(paths: Paths, plan: Plan, result: ApplyResult) -> None:
    """One line per action: when, who (the technician behind sudo), what, and how it ended. The command
    line checks the log before a change; if it still cannot be written (the disk filled meanwhile), the
    change stands and its line goes out as a warning instead (stderr, or the menus' UI log)."""
    who = technician()
    who = who if who.isprintable() and " " not in who else repr(who)      # one line, whatever $SUDO_USER holds
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    outcome = "ok" if result.ok else f"FAILED ({result.message!r})"
    line = f"{when} user={who} action={plan.action!r} what={plan.title!r} result={outcome}"
    log = paths.audit_log
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        os.chmod(log, 0o640)
    except OSError as err:
        import logging
        logging.getLogger(__name__).warning("the audit log %s could not be written (%s); its line: %s",
                                            log, err.strerror or err, line)


# --- files here: the cluster keys kept, the system file ---------------------------------------------------

def _store_secrets(paths: Paths, plan: Plan) -> None:
    """The new clusters' keys kept here; a deleted cluster's copy goes with it."""
    for name, key in plan.secrets.items():
        config.write_atomic(key_file(paths, name), key, mode=0o600)
    for cluster in plan.before.clusters:
        if plan.after.cluster(cluster.name) is None:
            key_file(paths, cluster.name).unlink(missing_ok=True)


def _write_system(system_file: Path, system: System) -> None:
    config.write_atomic(system_file, config.dump_system(system), mode=0o644)


# --- steps -> remote changes -------------------------------------------------------------------------------

def _prune_changes(conn: Connection) -> list[RemoveTree]:
    """Every xdata version but the newest of each LIM (a standby that ran two LIMs made backups of both)."""
    versions = versions_oldest_first(listdir_or_empty(conn, XDATA_DIR))
    newest = {XDATA_NAME.match(name).group(1): name for name in versions}     # the last of each LIM wins
    return [RemoveTree(f"{XDATA_DIR}/{name}") for name in versions if name not in newest.values()]


def _authorized_keys(conn: Connection, edit: Callable[[str], str]) -> RemoteWriteFile:
    path = str(product_paths.AUTHORIZED_KEYS)
    existing = (conn.read_file(path) or b"").decode()
    return RemoteWriteFile(path, edit(existing).encode(), 0o600)


def _dropped_sync_key(conn: Connection, marker: str) -> list[RemoteWriteFile]:
    """A server that holds no sync key keeps its authorized_keys as it is (or has none made)."""
    path = str(product_paths.AUTHORIZED_KEYS)
    existing = (conn.read_file(path) or b"").decode()
    edited = remove_from_authorized_keys(existing, marker)
    return [] if edited == existing else [RemoteWriteFile(path, edited.encode(), 0o600)]


def _folder_changes(conn: Connection, step: MakeFolder, planned: set[str]) -> list[RunCommand]:
    """mkdir for each missing folder down to the step's (rollback removes them again, deepest first);
    an existing folder of another mode gets the step's (rollback gives its old mode back)."""
    mode = f"{step.mode:o}"
    missing: list[str] = []
    folder = PurePosixPath(step.path)
    while str(folder) not in planned and not conn.exists(str(folder)):
        missing.append(str(folder))
        folder = folder.parent
    planned.update(missing)
    if missing:
        return [RunCommand(("mkdir", "-m", mode, "--", path), undo=("rmdir", "--", path), describe=f"create {path}")
                for path in reversed(missing)]
    if step.path in planned:
        return []
    kind, old = conn.run(["stat", "-c", "%F %a", "--", step.path]).stdout.strip().rsplit(" ", 1)
    if kind != "directory":
        raise RemoteError(conn.host, f"{step.path} is there but is not a folder ({kind})")
    if int(old, 8) == step.mode:
        return []
    return [RunCommand(("chmod", mode, "--", step.path), undo=("chmod", old, "--", step.path),
                       describe=f"chmod {mode} {step.path}")]


def _cluster_host_keys(step: WriteClusterHostKeys, settings: SshSettings, system: System) -> RemoteWriteFile:
    """Each member's pinned host key, under its name and its base address, from our own known_hosts."""
    pinned = {name: key for name, _, key in parse_known_hosts(settings.known_hosts.read_text())}
    missing = [name for name in step.members if name not in pinned]
    if missing:
        raise RemoteError(missing[0], f"no pinned host key for {missing[0]} in {settings.known_hosts}")
    text = cluster_known_hosts((name, str(system.management_address(name).ip), pinned[name])
                               for name in step.members)
    return RemoteWriteFile(step.path, text.encode(), 0o644)


def _remote_changes(conn: Connection, steps, settings: SshSettings, plan: Plan) -> list:
    """The transaction's changes for one server's steps (PinHostKey changes nothing there: it is pinned
    here, after the change)."""
    changes: list = []
    folders: set[str] = set()
    for step in steps:
        if isinstance(step, WriteFile):
            undo = undo_cluster_file(plan, conn.host.name) if step.path == CLUSTER_FILE else None
            changes.append(RemoteWriteFile(step.path, step.content, step.mode, undo_data=undo))
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
            changes.extend(_dropped_sync_key(conn, step.marker))
        elif isinstance(step, WriteClusterHostKeys):
            changes.append(_cluster_host_keys(step, settings, plan.after))
        elif isinstance(step, MakeFolder):
            changes.extend(_folder_changes(conn, step, folders))
        elif isinstance(step, RemoveFolder):
            if conn.exists(step.path):
                changes.append(RemoveTree(step.path))
    return changes


def _clean_staged(conn: Connection, step: CleanStaged) -> None:
    """Hidden staged names of earlier runs (this run has staged nothing yet)."""
    script = ('for d; do [ -d "$d" ] && find "$d" -maxdepth 1 -name ".*.mxone-*-*" -exec rm -rf -- {} +; '
              'done; true')
    conn.run(["sh", "-c", script, "sh", *step.folders])



# --- apply ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Ending:
    """How a change ended: the result, what system.yaml must now say (None: as it is), and whether the
    change is over (the journal goes) or still unfinished (a server could not be rolled back)."""
    result: ApplyResult
    system: System | None = None
    over: bool = True


def _give_orders(fleet: Fleet, plan: Plan, allow_down: frozenset[str] = frozenset()) -> ApplyResult:
    """Each server's agent told; a server in `allow_down` that does not answer is left out (a pause or
    resume reaches it from its peers' heartbeats when it is back), the others must all take it."""
    steps = {s.server: [step for step in s.steps if isinstance(step, OrderAgent)] for s in plan.servers}

    def order(conn: Connection) -> str:
        said = []   # the agent's own line ("data sync ordered: LIM 1 with lim1; ...")
        for step in steps[conn.host.name]:
            lines = conn.run([agent_command(), *step.args]).stdout.strip().splitlines()
            said.append(lines[-1] if lines else "order accepted")
        return "; ".join(said)

    outcomes = fleet.each(order, [name for name, s in steps.items() if s])
    per_server = {name: (o.value if o.ok else f"left out, it does not answer ({o.error})" if name in allow_down
                         else f"FAILED: {o.error}") for name, o in outcomes.items()}
    failed = next((o for name, o in outcomes.items() if not o.ok and name not in allow_down), None)
    if failed:
        return ApplyResult(False, failed.error, per_server, failed.host)
    return ApplyResult(True, plan.title, per_server)


def _refused(message: str, server: str | None = None, can_leave_out: bool = False) -> _Ending:
    return _Ending(ApplyResult(False, f"{message}; nothing was changed", {}, server, can_leave_out))


def _checked_plan(fleet: Fleet, plan: Plan, progress: ProgressFn,
                  allow_down: frozenset[str]) -> tuple[Plan, dict[str, str]] | _Ending:
    """The plan numbered above what the servers hold, and the servers left out; or the refusal."""
    seen = survey(fleet)
    skipped, problem = skip_down(plan, seen.down, allow_down)
    if problem is None and plan.agent_check is not None:
        for server in plan.agent_check.servers:
            progress(server, "checking the cluster agent")
        problem = check_agents(fleet, plan.agent_check)
    if problem is None and plan.media_check is not None:
        for server, _lim, _alias in plan.media_check.lims:
            progress(server, "checking where a co-located Media Server binds")
        problem = check_media_servers(fleet, plan.media_check)
    if problem is None and plan.disk_check is not None:
        progress(plan.disk_check.standby, "checking free disk")
        problem = check_disk(fleet, plan.disk_check)
    if problem is not None:
        return _refused(problem.message, problem.server, problem.can_wait)
    try:
        return numbered_above_servers(plan, seen.held), skipped
    except GenerationConflict as err:
        return _refused(str(err))


def _journal(system_file: Path, plan: Plan) -> None:
    write_journal(system_file, Journal(plan.action, plan.title, technician(), time.time(), plan.before, plan.after,
                                       dict(plan.secrets)))


def _change_servers(fleet: Fleet, plan: Plan, settings: SshSettings, progress: ProgressFn,
                    allow_down: frozenset[str], system_file: Path, recovering: bool) -> _Ending:
    checked = _checked_plan(fleet, plan, progress, allow_down)
    if isinstance(checked, _Ending):
        return checked
    plan, skipped = checked
    steps = {s.server: s.steps for s in plan.servers if s.steps and s.server not in skipped}
    cleaning = {name: [step for step in server_steps if isinstance(step, CleanStaged)]
                for name, server_steps in steps.items()}
    cleaned = fleet.each(lambda conn: [_clean_staged(conn, step) for step in cleaning[conn.host.name]], list(steps))
    listed = fleet.each(lambda conn: _remote_changes(conn, steps[conn.host.name], settings, plan), list(steps))
    failed = next((o for o in [*cleaned.values(), *listed.values()] if not o.ok), None)
    if failed:
        return _refused(failed.error, failed.host)
    if not recovering and plan.after != plan.before:    # one that changes no setting (a server replaced)
        _journal(system_file, plan)                     # is finished by running it again
    report = apply_changes(fleet, {name: o.value for name, o in listed.items()})
    if report.ok:
        return _Ending(ApplyResult(True, plan.title, {**report.per_host, **skipped}), plan.after)
    return _failed(plan, report, recovering)


def _failed(plan: Plan, report: Report, recovering: bool) -> _Ending:
    result = ApplyResult(False, report.error, dict(report.per_host), report.failed_host)
    if report.rollback_incomplete or recovering:
        hint = "an unfinished change: run `cluster finish` or `cluster undo` when every server answers"
        return _Ending(ApplyResult(False, f"{report.error}; {hint}", dict(report.per_host), report.failed_host),
                       over=False)
    if report.rolled_forward:       # back to the old settings, as a newer generation
        system = rolled_forward(plan.before, plan.after)
        gens = ", ".join(f"cluster {c.name} generation {c.generation}" for c in system.clusters
                         if c != plan.before.cluster(c.name))
        result = ApplyResult(False, f"{report.error} (the old settings are back as {gens})",
                             dict(report.per_host), report.failed_host)
        return _Ending(result, system)
    return _Ending(result)


def apply_plan(plan: Plan, paths: Paths, system_file: Path, settings: SshSettings,
               progress: ProgressFn | None = None, parallel: bool = True,
               allow_down: frozenset[str] = frozenset(), recovering: Journal | None = None) -> ApplyResult:
    """Carry out a plan. On failure no server and no file is changed, and the result names the server.
    `parallel=False` works on one server at a time (the benchmark's yardstick). A server in `allow_down`
    that does not answer is left out when all it would get is cluster.yaml: its agent takes that from
    its peers when it is back (runtime/catch_up.py). `recovering`: the journal of the interrupted change
    this plan finishes or undoes (ops/recovery.py); without it, a journal on disk refuses the change."""
    progress = progress or (lambda server, message: None)
    try:
        with one_change(system_file, plan.action):
            if not (plan.is_order and plan.changes_servers):    # orders change no configuration
                _check_journal(system_file, recovering)
            if plan.after != plan.before:
                accepted = (plan.before,) if recovering is None else \
                    (recovering.before, recovering.after, rolled_forward(recovering.before, recovering.after))
                check_unchanged(system_file, accepted)
            result = _apply_locked(plan, paths, system_file, settings, progress, parallel, allow_down,
                                   recovering is not None)
    except (ChangeRefused, JournalError, PendingError) as err:
        result = ApplyResult(False, f"{err}; nothing was changed")
    audit(paths, plan, result)
    return result


def _check_journal(system_file: Path, recovering: Journal | None) -> None:
    journal = read_journal(system_file)
    if journal != recovering:
        if journal is None:
            raise ChangeRefused("the interrupted change was finished or undone meanwhile")
        raise ChangeRefused(f"an interrupted change is not finished: {journal.headline()}; finish it with "
                            "`mxone_maintenance cluster finish` or undo it with `cluster undo` first")


def _apply_locked(plan: Plan, paths: Paths, system_file: Path, settings: SshSettings, progress: ProgressFn,
                  parallel: bool, allow_down: frozenset[str], recovering: bool) -> ApplyResult:
    hosts = [Host(s.server, s.address) for s in plan.servers]
    keys = new_keys(plan)
    try:
        if not hosts:
            ending = _Ending(ApplyResult(True, plan.title), plan.after)
        else:
            with trusting_new(settings, keys) as trusted, \
                    Fleet(hosts, trusted, progress=progress, parallel=parallel) as fleet:
                if plan.is_order and plan.changes_servers:
                    ending = _Ending(_give_orders(fleet, plan, allow_down))
                else:
                    ending = _change_servers(fleet, plan, trusted, progress, allow_down, system_file, recovering)
        if ending.result.ok and keys:
            said = pin_new(settings.known_hosts, keys, ending.result.per_server)
            ending = replace(ending, result=replace(ending.result, per_server=said))
        _record(paths, system_file, plan, ending, recovering)
        return ending.result
    except RemoteError as err:
        return ApplyResult(False, f"{err}; nothing was changed", {}, err.host)
    except OSError as err:
        return ApplyResult(False, f"cannot write {getattr(err, 'filename', '')}: {err.strerror}")


def _record(paths: Paths, system_file: Path, plan: Plan, ending: _Ending, recovering: bool) -> None:
    """system.yaml first, then the journal goes: a run killed in between finds the journal and a
    system.yaml that finishing or undoing accepts. A finish or undo that did not succeed keeps it."""
    if ending.system is not None and ending.system != plan.before:
        if ending.result.ok:
            _store_secrets(paths, plan)
        _write_system(system_file, ending.system)
    if ending.result.ok and leaves_of(plan):
        write_pending(system_file, read_pending(system_file) + leaves_of(plan))
    if ending.over and (ending.result.ok or not recovering):
        clear_journal(system_file)
