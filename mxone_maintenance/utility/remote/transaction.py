"""A change across several servers that happens everywhere or nowhere.

Cluster changes (a new cluster.yaml with a higher generation, its key, old xdata folders, alias
addresses) must not leave one server on the new configuration and another on the old: the agents
would disagree about who runs which LIM. So every change is done in two phases:

STAGE, on every host in parallel: run the caller's precheck (it may refuse), upload each new file to a
hidden temp name beside its target (same folder, so the later rename is atomic), and copy every file
that will be overwritten or removed to a hidden backup name (``cp -a``: mode, owner and times kept).
Nothing a reader looks at has changed yet. If any host fails, the temp and backup files are removed
everywhere and no server was changed.

Staged files are fsynced before the commit, and the folders of renamed files after every host committed
(`sync FILE...`; the latter is best effort, like the clean-up).

COMMIT, on every host in parallel: apply the changes in the order given -- rename temps over targets,
remove files, rename folders to be removed to a hidden trash name, run commands. If any host fails,
every host is rolled back in reverse order: backups renamed back (or a file's staged ``undo_data``
renamed in: rolling forward, for readers that never go back to an older generation), new files
removed, trash renamed back, ``undo`` commands run for the commands that ran. Only when every host committed are backups and
trash deleted for good.

What it cannot promise: a server that dies in the middle of its commit cannot be rolled back until it
is back (the report says so, naming it), and a command without ``undo`` stays done.
"""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.fleet import Fleet, Outcome
from mxone_maintenance.utility.remote.ssh import Connection


@dataclass(frozen=True)
class WriteFile:
    """A file's new content. ``undo_data``: what rollback writes instead of the old file (e.g. the old
    configuration as a newer generation, which agents that already read the new one still follow)."""
    path: str
    data: bytes
    mode: int = 0o644
    undo_data: bytes | None = None


@dataclass(frozen=True)
class RemoveFile:
    path: str


@dataclass(frozen=True)
class RemoveTree:
    """A folder to delete (e.g. an old xdata version): renamed away at commit, deleted after success."""

    path: str


@dataclass(frozen=True)
class RunCommand:
    """A command run at commit; ``undo`` reverses it on rollback (e.g. ``ip addr add`` / ``ip addr del``)."""

    argv: tuple[str, ...]
    undo: tuple[str, ...] | None = None
    describe: str = ""


Change = WriteFile | RemoveFile | RemoveTree | RunCommand


@dataclass(frozen=True)
class Report:
    """How the change went. ``per_host``: "committed" / "unchanged" / "rolled back" / "FAILED: ..."."""

    ok: bool
    failed_host: str | None
    error: str
    per_host: dict[str, str]
    rolled_forward: frozenset[str] = frozenset()  # hosts where rollback wrote a WriteFile's undo_data
    rollback_incomplete: tuple[str, ...] = ()     # hosts where something could not be undone


# --- per-host bookkeeping -------------------------------------------------------------------------------


@dataclass
class _Step:
    """One change on one host and the hidden names staged for it."""

    change: Change
    existed: bool = False
    temp: str | None = None  # new content waiting to be renamed over the target
    backup: str | None = None  # copy of the old target
    trash: str | None = None  # where a removed folder waits until every host committed
    undo: str | None = None  # rollback content staged beside the target (WriteFile.undo_data)
    done: bool = False


@dataclass
class _HostWork:
    name: str
    steps: list[_Step]
    tag: str
    committed_any: bool = False
    rolled_forward: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def file_count(self) -> int:
        return sum(isinstance(s.change, WriteFile) for s in self.steps)


def _hidden(path: str, kind: str, tag: str) -> str:
    """Hidden name beside ``path``; hidden so globs such as ``xdata_*`` never see it."""
    folder, name = posixpath.split(path.rstrip("/"))
    return posixpath.join(folder, f".{name}.mxone-{kind}-{tag}")


def _validate(fleet: Fleet, changes: Mapping[str, Sequence[Change]]) -> None:
    """Programming errors are refused before any server is touched."""
    for name, host_changes in changes.items():
        if name not in fleet.hosts:
            raise ValueError(f"host {name!r} is not in the fleet")
        paths = [c.path for c in host_changes if not isinstance(c, RunCommand)]
        for path in paths:
            if not posixpath.isabs(path) or posixpath.normpath(path) in ("/", "//"):
                raise ValueError(f"{name}: path must be absolute and not / (got {path!r})")
        if len(set(paths)) != len(paths):
            raise ValueError(f"{name}: the same path is changed twice")


# --- stage ---------------------------------------------------------------------------------------------


def _stage(work: _HostWork, conn: Connection, fleet: Fleet,
           precheck: Callable[[Connection], None] | None) -> None:
    if precheck is not None:
        fleet.notify(work.name, "checking")
        precheck(conn)
    count = work.file_count
    fleet.notify(work.name, f"staging {count} file{'' if count == 1 else 's'}")
    for step in work.steps:
        _stage_step(step, conn, work.tag)
    _make_backups(conn, [s for s in work.steps if s.backup])
    _flush(conn, [hidden for s in work.steps for hidden in (s.temp, s.backup, s.undo) if hidden])


def _flush(conn: Connection, paths: Sequence[str]) -> None:
    """fsync files (their data before the commit renames them) or folders (the renames themselves):
    a server that loses power right after the change must come back with the old file or the new one,
    never an empty one. One remote command for all."""
    if paths:
        conn.run(["sync", "--", *sorted(set(paths))])


def _stage_step(step: _Step, conn: Connection, tag: str) -> None:
    change = step.change
    if isinstance(change, RunCommand):
        return
    step.existed = conn.exists(change.path)
    if isinstance(change, WriteFile):
        step.temp = _hidden(change.path, "new", tag)  # recorded first: a half upload is cleaned too
        try:
            conn.write_file(step.temp, change.data, change.mode)
        except RemoteError as e:
            raise RemoteError(conn.host, f"cannot stage {change.path}: {e.detail}") from None
        if change.undo_data is not None:
            step.undo = _hidden(change.path, "undo", tag)
            conn.write_file(step.undo, change.undo_data, change.mode)
    if step.existed and isinstance(change, (WriteFile, RemoveFile)):
        step.backup = _hidden(change.path, "old", tag)
    if step.existed and isinstance(change, RemoveTree):
        step.trash = _hidden(change.path, "trash", tag)


def _make_backups(conn: Connection, steps: list[_Step]) -> None:
    """Copy the old files with ``cp -a`` (one remote command for all): mode, owner, times survive."""
    if not steps:
        return
    # ${N} with braces: sh reads "$10" as "${1}0"
    script = " && ".join(f'cp -a -- "${{{i * 2 + 1}}}" "${{{i * 2 + 2}}}"' for i in range(len(steps)))
    args: list[str] = []
    for step in steps:
        args += [step.change.path, step.backup or ""]
    conn.run(["sh", "-c", script, "sh", *args])


def _discard_staged(work: _HostWork, conn: Connection) -> None:
    """Remove temps and backups of steps not (or no longer) committed."""
    for step in work.steps:
        if not step.done:
            for hidden in (step.temp, step.backup, step.undo):
                if hidden:
                    _try(work, f"remove {hidden}", lambda h=hidden: conn.remove(h))


# --- commit --------------------------------------------------------------------------------------------


def _commit(work: _HostWork, conn: Connection, fleet: Fleet) -> None:
    fleet.notify(work.name, "committing")
    for step in work.steps:
        _commit_step(step, conn)
        if step.done:
            work.committed_any = True


def _commit_step(step: _Step, conn: Connection) -> None:
    change = step.change
    if isinstance(change, WriteFile):
        assert step.temp is not None
        conn.rename(step.temp, change.path)
    elif isinstance(change, RemoveFile):
        if not step.existed:
            return
        conn.remove(change.path)
    elif isinstance(change, RemoveTree):
        if not step.existed:
            return
        assert step.trash is not None
        conn.rename(change.path, step.trash)
    else:
        conn.run(list(change.argv))
    step.done = True


def _finish(work: _HostWork, conn: Connection, fleet: Fleet) -> None:
    """After every host committed: make the renames durable, delete backups and trash for good. Best
    effort: the change is done (the agents may already run it), a failure here is reported, not undone."""
    folders = [posixpath.dirname(s.change.path) for s in work.steps if s.done and not isinstance(s.change, RunCommand)]
    _try(work, "sync the changed folders to disk", lambda: _flush(conn, folders))
    for step in work.steps:
        for hidden in (step.backup, step.undo):
            if hidden:
                _try(work, f"remove {hidden}", lambda h=hidden: conn.remove(h))
        if step.trash:
            _try(work, f"remove {step.trash}", lambda s=step: conn.run(["rm", "-rf", "--", s.trash]))
    fleet.notify(work.name, "done")


# --- rollback ------------------------------------------------------------------------------------------


def _rollback(work: _HostWork, conn: Connection, fleet: Fleet) -> None:
    """Undo the committed steps in reverse, then drop what was staged. Keeps going past errors."""
    for step in reversed(work.steps):
        if step.done:
            _try(work, f"undo {_describe(step.change)}", lambda s=step: _undo_step(s, conn, work))
    _discard_staged(work, conn)
    fleet.notify(work.name, "rolled back" if work.committed_any else "unchanged")


def _undo_step(step: _Step, conn: Connection, work: _HostWork) -> None:
    change = step.change
    if isinstance(change, WriteFile):
        if step.undo:
            conn.rename(step.undo, change.path)
            step.undo = None
            work.rolled_forward = True
        elif step.backup:
            conn.rename(step.backup, change.path)
        else:
            conn.remove(change.path)
    elif isinstance(change, RemoveFile):
        assert step.backup is not None
        conn.rename(step.backup, change.path)
    elif isinstance(change, RemoveTree):
        assert step.trash is not None
        conn.rename(step.trash, change.path)
    elif change.undo:
        conn.run(list(change.undo))
    step.done = False


def _describe(change: Change) -> str:
    if isinstance(change, RunCommand):
        return change.describe or " ".join(change.argv)
    return f"{type(change).__name__} {change.path}"


def _try(work: _HostWork, what: str, action: Callable[[], object]) -> None:
    """Best effort for clean-up and rollback: note the failure, go on with the rest."""
    try:
        action()
    except (RemoteError, OSError) as e:
        work.problems.append(f"{what}: {e}")


# --- the transaction -----------------------------------------------------------------------------------


def apply_changes(fleet: Fleet, changes: Mapping[str, Sequence[Change]],
                  precheck: Callable[[Connection], None] | None = None) -> Report:
    """Apply ``changes`` (host name -> changes in order) on every host, or on none. See module doc."""
    _validate(fleet, changes)
    tag = secrets.token_hex(4)
    works = {name: _HostWork(name, [_Step(c) for c in cs], tag) for name, cs in changes.items()}
    names = list(works)

    staged = fleet.each(lambda conn: _stage(works[conn.host.name], conn, fleet, precheck), names)
    failed = _first_failure(staged)
    if failed:
        _roll_back_all(fleet, works)
        return _report_failure("staging", failed, staged, works, changed=False)

    committed = fleet.each(lambda conn: _commit(works[conn.host.name], conn, fleet), names)
    failed = _first_failure(committed)
    if failed:
        _roll_back_all(fleet, works)
        return _report_failure("commit", failed, committed, works, changed=True)

    _each_noting_failures(fleet, works, _finish, names)
    per_host = {name: _success_state(works[name]) for name in names}
    return Report(ok=True, failed_host=None, error="", per_host=per_host)


def _roll_back_all(fleet: Fleet, works: dict[str, _HostWork]) -> None:
    """Roll back the hosts that have anything to undo or clean; the others only hear "unchanged"."""
    touched = [name for name, work in works.items() if _has_traces(work)]
    for name in works:
        if name not in touched:
            fleet.notify(name, "unchanged")
    _each_noting_failures(fleet, works, _rollback, touched)


def _has_traces(work: _HostWork) -> bool:
    return any(step.done or step.temp or step.backup or step.undo for step in work.steps)


def _each_noting_failures(fleet: Fleet, works: dict[str, _HostWork],
                          fn: Callable[[_HostWork, Connection, Fleet], None], names: list[str]) -> None:
    """Run a clean-up phase; a host it could not even reach gets that noted as a problem."""
    outcomes = fleet.each(lambda conn: fn(works[conn.host.name], conn, fleet), names)
    for name, outcome in outcomes.items():
        if not outcome.ok:
            works[name].problems.append(outcome.error)


def _first_failure(outcomes: dict[str, Outcome[None]]) -> str | None:
    return next((name for name, o in outcomes.items() if not o.ok), None)


def _success_state(work: _HostWork) -> str:
    state = "committed" if work.steps else "unchanged"
    if work.problems:
        state += f" (clean-up left: {'; '.join(work.problems)})"
    return state


def _report_failure(phase: str, failed: str, outcomes: dict[str, Outcome[None]],
                    works: dict[str, _HostWork], changed: bool) -> Report:
    per_host: dict[str, str] = {}
    for name, work in works.items():
        state = "rolled back" if work.committed_any else "unchanged"
        if not outcomes[name].ok:
            state = f"FAILED: {outcomes[name].error} ({state})"
        if work.problems:
            state += f"; ROLLBACK INCOMPLETE: {'; '.join(work.problems)}"
        per_host[name] = state
    incomplete = [n for n, w in works.items() if w.problems]
    if incomplete:
        outcome = f"rollback incomplete on {', '.join(incomplete)}: check them by hand"
    elif changed:
        outcome = "every server was rolled back"
    else:
        outcome = "no server was changed"
    return Report(ok=False, failed_host=failed, error=f"{phase} failed on {outcomes[failed].error}; {outcome}",
                  per_host=per_host, rolled_forward=frozenset(n for n, w in works.items() if w.rolled_forward),
                  rollback_incomplete=tuple(incomplete))
