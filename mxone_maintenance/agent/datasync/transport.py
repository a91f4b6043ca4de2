"""rsync over SSH to a cluster peer: the agent's only SSH place (OpenSSH, run by rsync).

Every member holds the cluster's sync key (/etc/opt/eri_sn/sync.key, 0600) and lets it in only from
the members' base addresses, through agent/sync_serve.py (core/contracts/sync_keys.py): read-only rsync of the
versions the connecting member needs, nothing else. The server that needs data pulls it, nobody can
push. Host keys follow the one policy of core/contracts/host_keys.py: cluster_known_hosts only, by
server name (so new base addresses keep working), strict, nothing accepted or recorded.

A sync's rsyncs (the listing, then the pulls) share one SSH connection (an OpenSSH master): one handshake
instead of one per rsync, every session still through the peer's forced command. Its socket lies in a
root-only folder and is named for everything the master checked (address, host-key name, key, known
hosts, user, source address), so a session rides only on a connection made with the same checks; it
ends a few seconds after its last session, or at once when an rsync failed.

What a pull takes is what the peer may hand a root process without harm: files, folders and safe
symlinks, times and plain permissions; no owners, no device or special files, no set-id or sticky
bits, no symlink leading out of the version (folders.unsafe_entries checks the result again).
"""
from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mxone_maintenance.agent import signing
from mxone_maintenance.agent.commands import Finished, NotRun, run
from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.contracts.host_keys import HostKeyPolicy
from mxone_maintenance.core.contracts.xdata import Held
from mxone_maintenance.core.paths import SYNC_KEY, Paths

RECEIVED = re.compile(r"^Total bytes received:\s*([\d,.]+)", re.MULTILINE)
MAX_BASIS = 20                      # rsync accepts at most 20 --link-dest dirs
# What a pull keeps of the peer's files: no -o/-g (the receiving root owns them), no -D, set-id and
# sticky bits and group/other write dropped, symlinks out of the version ignored.
PULL_OPTIONS = ("-rlpt", "--no-D", "--safe-links", "--chmod=ug-s,a-t,go-w", "--delete", "--stats")
# One SSH connection serves a sync's listing and its pulls (an OpenSSH master, ControlMaster=auto): the
# handshake is paid once. Its sockets are root's alone -- whoever can open one speaks to the peer as us.
CONTROL_DIR = PurePosixPath("/run/mxone-sync-ssh")
CONTROL_PERSIST_S = 3               # the pull follows the listing within milliseconds; a master left
                                    # by a sync is gone before the next one would use it (retries: 5 s+)
MAX_CONTROL_PATH = 90               # sun_path holds 108 bytes; ssh binds a name 17 characters longer


@dataclass(frozen=True)
class SyncSettings:
    """How to reach peers: the sync key, the cluster's host keys, timeouts."""
    key: Path
    known_hosts: Path
    user: str = "root"
    connect_timeout_s: int = 5
    io_timeout_s: int = 30          # rsync --timeout and ssh keepalives: a cut peer fails, never hangs
    max_run_s: float = 3 * 3600.0   # the end of any one rsync: a peer that keeps the link alive but
                                    # sends nothing useful (rsync's keep-alives satisfy --timeout) is cut
    bwlimit_kbps: int | None = None
    rsync: str = "rsync"
    ssh: str = "ssh"
    bind_address: str | None = None  # our base address: never an alias as the source (a peer holding
                                     # that alias, blocked or not, drops it as a martian)
    pull_gate: Callable[[], str | None] | None = None  # asked just before data is pulled here: why it
                                     # must not be (a regular: the standby was not seen running the LIM)
    control_dir: Path | None = None  # the shared connections' sockets (None: a connection per rsync)

    @classmethod
    def for_paths(cls, paths: Paths, **changes: Any) -> SyncSettings:
        changes.setdefault("control_dir", paths.real(CONTROL_DIR))
        return cls(key=paths.real(SYNC_KEY), known_hosts=HostKeyPolicy.for_cluster(paths).known_hosts, **changes)


@dataclass(frozen=True)
class Peer:
    address: str                    # where to connect (the peer's base address)
    name: str | None = None         # its name in cluster_known_hosts (host key looked up by name)

    @property
    def label(self) -> str:
        return self.name or self.address


def io_timeout_for(detect_s: float) -> int:
    """rsync's I/O timeout: a cut peer fails the sync about when it is found failed (5..30 s)."""
    return int(min(30, max(5, round(2 * detect_s))))


# --- the ssh and rsync command lines -------------------------------------------------------------------

def ssh_command(settings: SyncSettings, peer: Peer) -> str:
    """rsync's -e string, every word quoted: no user config, only our key, only the cluster host keys.
    Keepalives give up after about io_timeout_s, like rsync --timeout, so a cut peer fails soon."""
    alive = max(1, min(5, settings.io_timeout_s // 3))
    tries = max(1, settings.io_timeout_s // alive)
    policy = HostKeyPolicy(settings.known_hosts)       # the agent never accepts a new host key
    words = [settings.ssh, "-F", "/dev/null", "-i", str(settings.key), "-o", "IdentitiesOnly=yes",
             "-o", "IdentityAgent=none", "-o", "BatchMode=yes", *policy.openssh_options(peer.name),
             "-o", f"ConnectTimeout={settings.connect_timeout_s}",
             "-o", f"ServerAliveInterval={alive}", "-o", f"ServerAliveCountMax={tries}"]
    if settings.bind_address:
        words += ["-o", f"BindAddress={settings.bind_address}"]
    shared = control_path(settings, peer)
    words += (["-o", "ControlMaster=auto", "-o", f"ControlPath={shared}", "-o", f"ControlPersist={CONTROL_PERSIST_S}"]
              if shared else ["-o", "ControlPath=none"])
    return " ".join(shlex.quote(w) for w in words)


def control_path(settings: SyncSettings, peer: Peer) -> str | None:
    """The socket of the connection a sync's rsyncs share, or None (each rsync connects on its own).
    A session over a master checks no host key and offers no key of its own: the name is a digest of
    everything that decides whom we reach and as whom (and how soon the master gives up a cut peer), so a
    connection serves only the same check."""
    if settings.control_dir is None or not private_dir(settings.control_dir):
        return None
    reach = (settings.user, peer.address, peer.name, str(settings.key), str(settings.known_hosts),
             settings.bind_address, settings.ssh, settings.io_timeout_s)
    path = f"{settings.control_dir}/{signing.digest(repr(reach).encode()).hex()[:24]}"
    return path if len(path) <= MAX_CONTROL_PATH and "%" not in path else None   # ssh expands % tokens


def private_dir(folder: Path) -> bool:
    """`folder` exists (made if not) as a real folder of ours, closed to everyone else."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def end_shared(settings: SyncSettings, peer: Peer) -> None:
    """After a failed rsync: close the shared connection (if one is open), so the next sync connects
    afresh instead of waiting on a master whose peer may be gone until its keepalives give up."""
    shared = control_path(settings, peer)
    if shared is None or not os.path.exists(shared):
        return
    try:
        run([settings.ssh, "-F", "/dev/null", "-o", f"ControlPath={shared}", "-O", "exit", peer.address],
            timeout=5, null_stdin=True)
    except NotRun:
        pass                        # the master ends on its own (ControlPersist, keepalives)


def remote_spec(settings: SyncSettings, peer: Peer, relative: str) -> str:
    # Paths are relative to what rrsync exposes (/var/opt/eri_sn).
    return f"{settings.user}@{peer.address}:{relative}"


def rsync_base(settings: SyncSettings, peer: Peer) -> list[str]:
    return [settings.rsync, "-e", ssh_command(settings, peer), f"--timeout={settings.io_timeout_s}"]


def list_argv(settings: SyncSettings, peer: Peer, lim: int, folders: list[str]) -> list[str]:
    """One listing of every folder that may hold LIM `lim`'s versions, filtered on the peer."""
    rules = xdata.filter_rules((folder, lim) for folder in folders)
    return rsync_base(settings, peer) + ["-r", "--list-only", *rules, "--exclude=*",
                                         remote_spec(settings, peer, "./")]


def pull_argv(settings: SyncSettings, peer: Peer, source: Held, partial: Path, basis: list[Path]) -> list[str]:
    argv = rsync_base(settings, peer) + list(PULL_OPTIONS)
    argv += [f"--link-dest={b}" for b in basis[:MAX_BASIS]]
    if settings.bwlimit_kbps:
        argv.append(f"--bwlimit={settings.bwlimit_kbps}")
    return argv + [remote_spec(settings, peer, source.relative_path + "/"), f"{partial}/"]


# --- running rsync -------------------------------------------------------------------------------------

def run_rsync(argv: list[str], max_run_s: float | None = None) -> Finished:
    """rsync --timeout and the ssh keepalives end a transfer stuck on a cut link; `max_run_s` ends one a
    peer keeps busy for nothing (SyncSettings.max_run_s). Raises commands.NotRun when rsync cannot start
    or ran out of time."""
    # TZ=UTC: --list-only prints times in the receiver's zone; UTC makes them unambiguous epochs.
    return run(argv, env={"TZ": "UTC", "LC_ALL": "C"}, timeout=max_run_s)


def not_run_text(exc: NotRun, settings: SyncSettings) -> str:
    if exc.timed_out:
        return f"rsync still running after {settings.max_run_s:.0f} s: stopped"
    return f"{settings.rsync}: {exc.reason}"


def rsync_failure(result: Finished) -> str:
    if result.returncode < 0:
        return f"rsync killed by signal {-result.returncode}"
    lines = [line for line in (result.stderr or "").strip().splitlines() if line.strip()]
    detail = next((line for line in lines if not line.startswith("rsync error:")), lines[-1] if lines else "")
    return f"rsync exit {result.returncode}: {detail or 'no message'}"


def received_bytes(stats: str) -> int:
    match = RECEIVED.search(stats)
    return int(re.sub(r"[,.]", "", match.group(1))) if match else 0
