"""One sync of LIM N, run on the server that may receive (`sync_lim`):
  1. list the peer's versions of LIM N with their reload mtimes (one `rsync --list-only`); a version
     stamped more than a day ahead of our clock is left out and the sync reported failed (alarm);
  2. decide the direction from the newest versions' mtimes (xdata.sync_direction);
  3. if the data must come here and may (SyncSettings.pull_gate: on a regular, the standby was seen
     running the LIM; and never over a regular's own version of the same name): rsync the peer's newest
     version into `.partial-xdata_N_TS` beside the target, `--link-dest` to our newest versions
     (unchanged files become hard links), check what came (folders.unsafe_entries) and rename it into
     place only when rsync exits 0 -- an interrupted transfer never replaces or touches a good backup;
  4. on the standby: keep two backups of the regular, never the only copy of unsynced data; on a
     regular: the newest three, and always its own newest (records.py tells pulled from own).
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from mxone_maintenance.agent.commands import NotRun
from mxone_maintenance.agent.datasync import records
from mxone_maintenance.agent.datasync.folders import (
    clean_leftovers,
    lim_lock,
    move_into_place,
    prune_regular_versions,
    prune_standby_copies,
    unsafe_entries,
)
from mxone_maintenance.agent.datasync.listing import list_peer
from mxone_maintenance.agent.datasync.outcome import SyncError, SyncResult
from mxone_maintenance.agent.datasync.transport import (
    Peer,
    SyncSettings,
    end_shared,
    not_run_text,
    pull_argv,
    received_bytes,
    rsync_failure,
    run_rsync,
)
from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.contracts.xdata import Direction, Held, Role
from mxone_maintenance.core.paths import VAR, Paths


def other_role(role: Role) -> Role:
    return "regular" if role == "standby" else "standby"


def receiving_direction(role: Role) -> Direction:
    return "to-standby" if role == "standby" else "to-regular"


def decide(role: Role, here: list[Held], there: list[Held], clock_skew_s: float) -> tuple[Direction, Held | None]:
    """Direction, and the newest version on the side that has the newer data."""
    mine, theirs = xdata.newest(here), xdata.newest(there)
    regular, standby = (mine, theirs) if role == "regular" else (theirs, mine)
    direction = xdata.sync_direction(regular and regular.mtime, standby and standby.mtime, clock_skew_s,
                                     regular and regular.version, standby and standby.version)
    source = regular if direction == "to-standby" else standby if direction == "to-regular" else None
    return direction, source


def pull_version(settings: SyncSettings, peer: Peer, source: Held, target_dir: Path,
                 basis: list[Path]) -> int:
    """Pull one version into target_dir; returns bytes received; raises SyncError (target untouched)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    partial = target_dir / xdata.partial_name(source.version)
    partial.mkdir(mode=0o700)
    try:
        result = run_rsync(pull_argv(settings, peer, source, partial, basis), settings.max_run_s)
    except NotRun as exc:
        shutil.rmtree(partial, ignore_errors=True)
        end_shared(settings, peer)
        raise SyncError(f"pull {source.version.name} from {peer.label}: {not_run_text(exc, settings)}") from None
    if not result.ok:
        shutil.rmtree(partial, ignore_errors=True)
        end_shared(settings, peer)
        raise SyncError(f"pull {source.version.name} from {peer.label}: {rsync_failure(result)}")
    unsafe = unsafe_entries(partial)
    if unsafe:
        shutil.rmtree(partial, ignore_errors=True)
        raise SyncError(f"refused {source.version.name} from {peer.label}: {len(unsafe)} unsafe "
                        f"entr{'y' if len(unsafe) == 1 else 'ies'} ({unsafe[0]})")
    move_into_place(partial, target_dir / source.version.name)
    return received_bytes(result.stdout)


@dataclass(frozen=True)
class Plan:
    """What both sides hold, and which way the newest data must go."""
    direction: Direction
    source: Held | None              # the newest version on the side that has the newer data
    here: list[Held]
    there: list[Held]
    target_dir: Path
    refused: tuple[Held, ...] = ()   # the peer's versions stamped in the future: left out

    @property
    def version(self) -> str | None:
        newest = self.source or xdata.newest(self.here)
        return newest.version.name if newest else None


@dataclass(frozen=True)
class OneSync:
    """One sync of one LIM with one peer, on this server in this role (under the LIM's lock)."""
    paths: Paths
    role: Role
    lim: int
    peer: Peer
    settings: SyncSettings

    def plan(self, clock_skew_s: float) -> Plan:
        target_dir = self.paths.real(VAR / xdata.folders_of(self.role, self.lim)[0])
        clean_leftovers(target_dir)
        listed = list_peer(self.settings, self.peer, self.lim, xdata.folders_of(other_role(self.role), self.lim))
        there, refused = xdata.split_future(listed, time.time())
        here = xdata.local_holdings(self.paths, self.role, self.lim)
        return Plan(*decide(self.role, here, there, clock_skew_s), here, there, target_dir, tuple(refused))

    def carry_out(self, plan: Plan, dry_run: bool) -> int | None:
        """Pull if the data must come here, then prune; bytes received (None: nothing pulled)."""
        if plan.direction != receiving_direction(self.role) or dry_run:
            if self.role == "standby" and not dry_run:
                received = self.fill_backups(plan) if plan.direction == "none" else 0
                prune_standby_copies(self.paths, self.lim, [h.version for h in plan.there])
                return received or None
            return None
        pulled = self.may_pull(plan.source)
        basis = [self.paths.real(VAR / h.relative_path) for h in reversed(plan.here)
                 if h.version != plan.source.version]
        if self.role == "regular":       # noted first: a crash after the pull never makes it "our own"
            records.write_pulled(self.paths, self.lim, pulled | {plan.source.version})
        try:
            received = pull_version(self.settings, self.peer, plan.source, plan.target_dir, basis)
        except SyncError:
            if self.role == "regular":
                records.write_pulled(self.paths, self.lim, pulled)
            raise
        if self.role == "standby":
            received += self.fill_backups(plan)
            prune_standby_copies(self.paths, self.lim, [h.version for h in plan.there])
        else:
            prune_regular_versions(self.paths, self.lim, pulled | {plan.source.version})
            present = set(xdata.versions_in(plan.target_dir, self.lim))
            records.write_pulled(self.paths, self.lim, (pulled | {plan.source.version}) & present)
        return received

    def fill_backups(self, plan: Plan) -> int:
        """The standby holds the regular's newest STANDBY_KEEP backups (DESIGN §5), not only the newest:
        a new or replaced standby pulls the older one too. Bytes received."""
        held = {h.version for h in xdata.local_holdings(self.paths, self.role, self.lim)}
        wanted = sorted(plan.there, key=lambda h: h.version)[-xdata.STANDBY_KEEP:]
        received = 0
        for source in wanted:
            if source.version not in held:
                basis = [self.paths.real(VAR / h.relative_path) for h in reversed(plan.here)]
                received += pull_version(self.settings, self.peer, source, plan.target_dir, basis)
        return received

    def may_pull(self, source: Held) -> set[xdata.Version]:
        """Raise SyncError if `source` must not come here; on a regular, the versions it pulled before."""
        gate = self.settings.pull_gate
        why = gate() if gate is not None else None
        if why:
            raise SyncError(f"refused to pull {source.version.name} from {self.peer.label}: {why}")
        if self.role != "regular":
            return set()
        pulled = records.pulled_versions(self.paths, self.lim)
        ours = self.paths.real(VAR / xdata.regular_folder()) / source.version.name
        if source.version not in pulled and ours.exists():
            raise SyncError(f"refused to pull {source.version.name} from {self.peer.label}: it would replace "
                            f"this server's own version of that name")
        return pulled


def future_text(refused: tuple[Held, ...], peer: Peer) -> str:
    newest = max(h.version for h in refused)
    count = f"{len(refused)} versions" if len(refused) > 1 else "a version"
    return (f"refused {count} on {peer.label} stamped more than {xdata.FUTURE_STAMP_S / 3600:.0f} h ahead of "
            f"this server's clock (newest {newest.name}): not data of a real backup")


def held_text(clock_skew_s: float) -> str:
    return (f"clocks differ by {clock_skew_s:.1f} s (more than {xdata.MAX_CLOCK_SKEW_S:.0f} s): "
            f"modification times cannot be compared")


def sync_lim(paths: Paths, role: Role, lim: int, peer: Peer, settings: SyncSettings | None = None,
             clock_skew_s: float = 0.0, dry_run: bool = False) -> SyncResult:
    """Bring LIM `lim`'s newest data to this server if the peer's is newer (see the module doc)."""
    one = OneSync(paths, role, lim, peer, settings or SyncSettings.for_paths(paths))
    start = time.monotonic()
    plan: Plan | None = None
    try:
        with lim_lock(paths, lim):
            plan = one.plan(clock_skew_s)
            if plan.direction == "hold":
                raise SyncError(held_text(clock_skew_s))
            received = one.carry_out(plan, dry_run)
    except (SyncError, OSError, NotRun) as exc:
        return SyncResult(False, lim, plan.direction if plan else "none", None,
                          seconds=time.monotonic() - start, error=str(exc))
    error = future_text(plan.refused, peer) if plan.refused and not dry_run else None
    return SyncResult(error is None, lim, plan.direction, plan.version, received or 0, time.monotonic() - start,
                      error, received is not None)
