"""Data sync between a cluster's standby and its regulars: rsync over SSH, always pulled (DESIGN §6).

Every member holds the cluster's sync key (/etc/opt/eri_sn/sync.key, 0600) and lets it in only as
`command="/usr/bin/rrsync -ro /var/opt/eri_sn",restrict ...` (sync_keys.py), so a stolen key reads
exchange data and nothing else: the server that needs data pulls it, nobody can push. Host keys are
checked against /etc/opt/eri_sn/cluster_known_hosts (by server name, so new base addresses keep working).

One sync of LIM N, run on the server that may receive (`sync_lim`):
  1. list the peer's versions of LIM N with their reload mtimes (one `rsync --list-only`);
  2. decide the direction from the newest versions' mtimes (xdata.sync_direction);
  3. if the data must come here: rsync the peer's newest version into `.partial-xdata_N_TS` beside the
     target, `--link-dest` to our newest versions (unchanged files become hard links), and rename it into
     place only when rsync exits 0 -- an interrupted transfer never replaces or touches a good backup;
  4. on the standby: keep two backups of the regular, never the only copy of unsynced data.

  python -m mxone_maintenance.agent.sync [--root DIR] pull --lim N --from ADDRESS --as standby|regular
        [--name PEER_NAME] [--clock-skew S] [--dry-run] [--json] [--key F] [--known-hosts F] [--user U]
        [--io-timeout S] [--bwlimit KBPS]
"""
from __future__ import annotations

import argparse
import calendar
import contextlib
import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath

from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.contracts.xdata import Direction, Held, Role, Version
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import ETC, VAR, Paths

SYNC_KEY = ETC / "sync.key"
CLUSTER_KNOWN_HOSTS = ETC / "cluster_known_hosts"
LIST_LINE = re.compile(r"^(?P<mode>[-dlcbps][-rwxsStT]{9})\s+[\d,.]+\s+"
                       r"(?P<date>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\s(?P<path>.+)$")
RECEIVED = re.compile(r"^Total bytes received:\s*([\d,.]+)", re.MULTILINE)
OLD_PREFIX = ".old-"                # a version being replaced by a new copy of the same name
PRUNE_PREFIX = ".prune-"            # a version being removed: hidden first, so it never looks valid


class SyncError(Exception):
    """One line: why a listing or transfer failed."""


class NotYetSynced(SyncError):
    """The standby holds newer data of a LIM than its regular: it must not hand the LIM back yet."""


@dataclass(frozen=True)
class SyncSettings:
    """How to reach peers: the sync key, the cluster's host keys, timeouts."""
    key: Path
    known_hosts: Path
    user: str = "root"
    connect_timeout_s: int = 5
    io_timeout_s: int = 30          # rsync --timeout and ssh keepalives: a cut peer fails, never hangs
    bwlimit_kbps: int | None = None
    rsync: str = "rsync"
    ssh: str = "ssh"
    bind_address: str | None = None  # our base address: never an alias as the source (a peer holding
                                     # that alias, blocked or not, drops it as a martian)

    @classmethod
    def for_paths(cls, paths: Paths, **changes) -> SyncSettings:
        return cls(key=paths.real(SYNC_KEY), known_hosts=paths.real(CLUSTER_KNOWN_HOSTS), **changes)


@dataclass(frozen=True)
class Peer:
    address: str                    # where to connect (the peer's base address)
    name: str | None = None         # its name in cluster_known_hosts (host key looked up by name)


@dataclass(frozen=True)
class SyncResult:
    ok: bool
    lim: int
    direction: Direction
    version: str | None = None      # the version pulled (or that would be / is newest)
    bytes: int = 0                  # bytes received over the wire
    seconds: float = 0.0
    error: str | None = None
    transferred: bool = False       # False: nothing to pull here (none, or the peer must pull)

    def line(self) -> str:
        if not self.ok:
            return f"LIM {self.lim}: sync failed ({self.direction}): {self.error}"
        if not self.transferred:
            return f"LIM {self.lim}: {self.direction}, nothing pulled here ({self.version or 'no data'})"
        return (f"LIM {self.lim}: {self.direction} {self.version}: {self.bytes / 1e6:.1f} MB received "
                f"in {self.seconds:.2f} s")


# --- the ssh and rsync command lines -------------------------------------------------------------------

def ssh_command(settings: SyncSettings, peer: Peer) -> str:
    """rsync's -e string, every word quoted: no user config, only our key, only the cluster host keys.
    Keepalives give up after about io_timeout_s, like rsync --timeout, so a cut peer fails soon."""
    alive = max(1, min(5, settings.io_timeout_s // 3))
    tries = max(1, settings.io_timeout_s // alive)
    words = [settings.ssh, "-F", "/dev/null", "-i", str(settings.key), "-o", "IdentitiesOnly=yes",
             "-o", "IdentityAgent=none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
             "-o", f"UserKnownHostsFile={settings.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
             "-o", "UpdateHostKeys=no", "-o", f"ConnectTimeout={settings.connect_timeout_s}",
             "-o", f"ServerAliveInterval={alive}", "-o", f"ServerAliveCountMax={tries}"]
    if peer.name:
        words += ["-o", f"HostKeyAlias={peer.name}"]
    if settings.bind_address:
        words += ["-o", f"BindAddress={settings.bind_address}"]
    return " ".join(shlex.quote(w) for w in words)


def remote_spec(settings: SyncSettings, peer: Peer, relative: str) -> str:
    # Paths are relative to what rrsync exposes (/var/opt/eri_sn).
    return f"{settings.user}@{peer.address}:{relative}"


def rsync_base(settings: SyncSettings, peer: Peer) -> list[str]:
    return [settings.rsync, "-e", ssh_command(settings, peer), f"--timeout={settings.io_timeout_s}"]


def list_argv(settings: SyncSettings, peer: Peer, lim: int, folders: list[str]) -> list[str]:
    """One listing of every folder that may hold LIM `lim`'s versions, filtered on the peer."""
    rules: list[str] = []
    for folder in folders:
        parents = PurePosixPath(folder).parts
        rules += [f"--include=/{'/'.join(parents[:i])}/" for i in range(1, len(parents) + 1)]
        rules.append(f"--include=/{folder}/xdata_{lim}_*/***")
    return rsync_base(settings, peer) + ["-r", "--list-only", *rules, "--exclude=*",
                                         remote_spec(settings, peer, "./")]


def pull_argv(settings: SyncSettings, peer: Peer, source: Held, partial: Path, basis: list[Path]) -> list[str]:
    argv = rsync_base(settings, peer) + ["-a", "--numeric-ids", "--delete", "--stats"]
    argv += [f"--link-dest={b}" for b in basis[:20]]   # rsync accepts at most 20 basis dirs
    if settings.bwlimit_kbps:
        argv.append(f"--bwlimit={settings.bwlimit_kbps}")
    return argv + [remote_spec(settings, peer, source.relative_path + "/"), f"{partial}/"]


def run_rsync(argv: list[str]) -> subprocess.CompletedProcess:
    # TZ=UTC: --list-only prints times in the receiver's zone; UTC makes them unambiguous epochs.
    return subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, TZ="UTC", LC_ALL="C"))


def rsync_failure(result: subprocess.CompletedProcess) -> str:
    if result.returncode < 0:
        return f"rsync killed by signal {-result.returncode}"
    lines = [line for line in (result.stderr or "").strip().splitlines() if line.strip()]
    detail = next((line for line in lines if not line.startswith("rsync error:")), lines[-1] if lines else "")
    return f"rsync exit {result.returncode}: {detail or 'no message'}"


# --- listing the peer ----------------------------------------------------------------------------------

def parse_listing(text: str, lim: int, folders: list[str]) -> list[Held]:
    """Versions of LIM `lim` in `rsync -r --list-only` output, with the newest mtime of their files."""
    newest_file: dict[tuple[str, Version], int] = {}
    dir_time: dict[tuple[str, Version], int] = {}
    for line in text.splitlines():
        match = LIST_LINE.match(line.strip())
        if not match:
            continue
        path = PurePosixPath(match["path"].removeprefix("./"))
        mtime = calendar.timegm(time.strptime(match["date"], "%Y/%m/%d %H:%M:%S"))
        for folder in folders:
            inside = _relative_to(path, PurePosixPath(folder))
            version = xdata.parse_version(inside.parts[0]) if inside and inside.parts else None
            if version is None or version.lim != lim:
                continue
            key = (folder, version)
            if len(inside.parts) == 1:
                dir_time[key] = mtime
            elif not match["mode"].startswith("d"):
                newest_file[key] = max(newest_file.get(key, 0), mtime)
    held = [Held(v, folder, newest_file.get((folder, v), t)) for (folder, v), t in dir_time.items()]
    return sorted(held, key=lambda h: h.version)


def _relative_to(path: PurePosixPath, folder: PurePosixPath) -> PurePosixPath | None:
    try:
        return path.relative_to(folder)
    except ValueError:
        return None


def list_peer(settings: SyncSettings, peer: Peer, lim: int, folders: list[str]) -> list[Held]:
    result = run_rsync(list_argv(settings, peer, lim, folders))
    if result.returncode != 0:
        raise SyncError(f"cannot list {peer.name or peer.address}: {rsync_failure(result)}")
    return parse_listing(result.stdout, lim, folders)


# --- local folders: lock, partial, rename into place, prune --------------------------------------------

@contextlib.contextmanager
def lim_lock(paths: Paths, lim: int) -> Iterator[None]:
    """One sync of a LIM at a time on this server (a periodic and an ordered one may overlap)."""
    lock_dir = paths.agent_state_dir
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"sync-lim{lim}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def remove_tree(path: Path) -> None:
    """Hide, then delete: a half-deleted version never carries a valid xdata name."""
    hidden = path.with_name(f"{PRUNE_PREFIX}{path.name}")
    path.rename(hidden)
    shutil.rmtree(hidden)


def clean_leftovers(folder: Path) -> None:
    """What a killed sync left: partial transfers go, a version caught mid-replacement comes back."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(OLD_PREFIX):
            original = entry.with_name(entry.name.removeprefix(OLD_PREFIX))
            if not original.exists():
                entry.rename(original)
                continue
        if entry.name.startswith((xdata.PARTIAL_PREFIX, OLD_PREFIX, PRUNE_PREFIX)):
            shutil.rmtree(entry, ignore_errors=True)


def move_into_place(partial: Path, final: Path) -> None:
    os.sync()  # the new copy is on disk before it counts (and before an older one may be pruned)
    if final.exists():
        old = final.with_name(f"{OLD_PREFIX}{final.name}")
        final.rename(old)
        partial.rename(final)
        shutil.rmtree(old)
    else:
        partial.rename(final)


def received_bytes(stats: str) -> int:
    match = RECEIVED.search(stats)
    return int(re.sub(r"[,.]", "", match.group(1))) if match else 0


def pull_version(settings: SyncSettings, peer: Peer, source: Held, target_dir: Path,
                 basis: list[Path]) -> int:
    """Pull one version into target_dir; returns bytes received; raises SyncError (target untouched)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    partial = target_dir / xdata.partial_name(source.version)
    partial.mkdir(mode=0o700)
    result = run_rsync(pull_argv(settings, peer, source, partial, basis))
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise SyncError(f"pull {source.version.name} from {peer.name or peer.address}: {rsync_failure(result)}")
    move_into_place(partial, target_dir / source.version.name)
    return received_bytes(result.stdout)


def prune_standby_copies(paths: Paths, lim: int, regular_has: list[Version]) -> list[Version]:
    folder = paths.real(VAR / xdata.standby_folder(lim))
    doomed = xdata.versions_to_prune(xdata.versions_in(folder, lim), regular_has)
    for version in doomed:
        remove_tree(folder / version.name)
    return doomed


def prune_regular_versions(paths: Paths, lim: int) -> list[Version]:
    """After a regular pulled the standby's newer data: MX-ONE's own rule, the newest three stay."""
    folder = paths.real(VAR / xdata.regular_folder())
    doomed = xdata.versions_in(folder, lim)[:-xdata.REGULAR_KEEP]
    for version in doomed:
        remove_tree(folder / version.name)
    return doomed


# --- one sync of one LIM -------------------------------------------------------------------------------

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


def sync_lim(paths: Paths, role: Role, lim: int, peer: Peer, settings: SyncSettings | None = None,
             clock_skew_s: float = 0.0, dry_run: bool = False) -> SyncResult:
    """Bring LIM `lim`'s newest data to this server if the peer's is newer (see the module doc)."""
    settings = settings or SyncSettings.for_paths(paths)
    start = time.monotonic()
    direction: Direction = "none"
    try:
        with lim_lock(paths, lim):
            target_dir = paths.real(VAR / xdata.folders_of(role, lim)[0])
            clean_leftovers(target_dir)
            there = list_peer(settings, peer, lim, xdata.folders_of(other_role(role), lim))
            here = xdata.local_holdings(paths, role, lim)
            direction, source = decide(role, here, there, clock_skew_s)
            if direction == "hold":
                raise SyncError(f"clocks differ by {clock_skew_s:.1f} s (more than "
                                f"{xdata.MAX_CLOCK_SKEW_S:.0f} s): modification times cannot be compared")
            newest = source or xdata.newest(here)
            version = newest.version.name if newest else None
            if direction != receiving_direction(role) or dry_run:
                if role == "standby" and not dry_run:
                    prune_standby_copies(paths, lim, [h.version for h in there])
                return SyncResult(True, lim, direction, version, seconds=time.monotonic() - start)
            basis = [paths.real(VAR / h.relative_path) for h in reversed(here) if h.version != source.version]
            received = pull_version(settings, peer, source, target_dir, basis)
            if role == "standby":
                prune_standby_copies(paths, lim, [h.version for h in there])
            else:
                prune_regular_versions(paths, lim)
            return SyncResult(True, lim, direction, version, received, time.monotonic() - start, None, True)
    except (SyncError, OSError) as exc:
        return SyncResult(False, lim, direction, None, seconds=time.monotonic() - start, error=str(exc))


def regular_is_current(paths: Paths, lim: int, regular: Peer, settings: SyncSettings | None = None,
                       clock_skew_s: float = 0.0) -> SyncResult:
    """On the standby: does the regular hold this standby's newest data of the LIM (it pulls it itself)?
    ok=False (direction "to-regular") while it does not."""
    result = sync_lim(paths, "standby", lim, regular, settings, clock_skew_s, dry_run=True)
    if result.ok and result.direction == "to-regular":
        return replace(result, ok=False, error=f"{regular.name or regular.address} has not yet pulled the "
                                               f"standby's newer data ({result.version})")
    return result


# --- what the daemon holds: every sync of this node's cluster ------------------------------------------

@dataclass
class ClusterSync:
    """The daemon's DataSync for one cluster config. The standby pulls each regular's new data; a regular
    pulls its LIM's newer data back from the standby (row 23). `clock_skew(peer_name)` gives the peer's
    clock minus ours as the heartbeats show it."""
    paths: Paths
    config: Cluster
    node: str
    settings: SyncSettings | None = None
    clock_skew: Callable[[str], float] = field(default=lambda _peer: 0.0)

    def peer(self, server: str) -> Peer:
        base = self.config.base_of(server)
        if base is None:
            raise SyncError(f"{server} is not a member of cluster {self.config.name}")
        return Peer(str(base.ip), server)

    @property
    def is_standby(self) -> bool:
        return self.node == self.config.standby.server

    def sync_lim(self, lim: int) -> SyncResult:
        """Sync one LIM with the right peer for this node's role."""
        item = self.config.lim(lim)
        if item is None:
            raise SyncError(f"LIM {lim} is not in cluster {self.config.name}")
        role: Role = "standby" if self.is_standby else "regular"
        server = item.server if self.is_standby else self.config.standby.server
        return sync_lim(self.paths, role, lim, self.peer(server), self.own_settings(), self.clock_skew(server))

    def own_settings(self) -> SyncSettings:
        """The settings, connecting from this node's base address (not the alias the kernel may pick)."""
        settings = self.settings or SyncSettings.for_paths(self.paths)
        base = self.config.base_of(self.node)
        return replace(settings, bind_address=str(base.ip)) if base is not None else settings

    def my_lims(self) -> list[int]:
        if self.is_standby:
            return [item.lim for item in self.config.lims]
        return [item.lim for item in self.config.lims if item.server == self.node]

    def sync_all(self) -> list[SyncResult]:
        return [self.sync_lim(lim) for lim in self.my_lims()]

    def sync_now(self) -> None:
        """DataSync.sync_now: every LIM of this node; raises SyncError naming the ones that failed."""
        failed = [r for r in self.sync_all() if not r.ok]
        if failed:
            raise SyncError("; ".join(f"LIM {r.lim}: {r.error}" for r in failed))

    def push(self, lim: int, server: str) -> None:
        """DataSync.push on the standby before handing LIM back: nothing can be pushed (the key is
        read-only), so check that `server` has pulled our newer data; raise NotYetSynced until it has."""
        result = regular_is_current(self.paths, lim, self.peer(server), self.own_settings(),
                                    self.clock_skew(server))
        if not result.ok:
            error = NotYetSynced if result.direction == "to-regular" else SyncError
            raise error(result.error or "unknown")


# --- command line --------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mxone_maintenance.agent.sync",
                                     description="pull a LIM's newer exchange data from a cluster peer")
    parser.add_argument("--root", help="prefix for /etc/opt/eri_sn and /var/opt/eri_sn (default $MXONE_ROOT or /)")
    sub = parser.add_subparsers(dest="command", required=True)
    pull = sub.add_parser("pull", help="sync one LIM with one peer (pull if the peer's data is newer)")
    pull.add_argument("--lim", type=int, required=True)
    pull.add_argument("--from", dest="address", required=True, help="the peer's address")
    pull.add_argument("--as", dest="role", choices=["standby", "regular"], required=True,
                      help="this server's role for the LIM")
    pull.add_argument("--name", help="the peer's name in cluster_known_hosts (host key by name)")
    pull.add_argument("--clock-skew", type=float, default=0.0, metavar="S", help="peer clock minus ours")
    pull.add_argument("--dry-run", action="store_true", help="only list and decide")
    pull.add_argument("--json", action="store_true")
    pull.add_argument("--key", type=Path)
    pull.add_argument("--known-hosts", type=Path)
    pull.add_argument("--user", default="root")
    pull.add_argument("--io-timeout", type=int, default=30, metavar="S")
    pull.add_argument("--bwlimit", type=int, metavar="KBPS", help="rsync --bwlimit (KiB/s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    paths = Paths.from_env(args.root)
    settings = SyncSettings.for_paths(paths, user=args.user, io_timeout_s=args.io_timeout,
                                      bwlimit_kbps=args.bwlimit)
    settings = replace(settings, key=args.key or settings.key, known_hosts=args.known_hosts or settings.known_hosts)
    result = sync_lim(paths, args.role, args.lim, Peer(args.address, args.name), settings,
                      args.clock_skew, args.dry_run)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(result.line(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
