"""The sync key's forced command on every member: what a member that connects with the cluster's sync key
may read, and nothing else (core/contracts/sync_keys.py puts it in root's authorized_keys):

  <python> -I -m mxone_maintenance.agent.sync_serve [--root DIR]

sshd runs it with SSH_ORIGINAL_COMMAND (what the client asked for) and SSH_CONNECTION (both addresses).
Both ends are told by their base addresses in this server's cluster.yaml (it follows every change of
the cluster, the key line's from= does not):
  - on the standby, a regular reads the versions of its own LIMs: standby/lim<N>/xdata_<N>_* (the
    standby's copies of them) and xdata/xdata_<N>_* (the standby's own backups while it ran LIM N);
  - on a regular, the standby reads xdata/xdata_<N>_* of the regular's LIMs;
  - no other member anything (a regular never reads another regular, nor the copies of other LIMs).
The request must be a read (`rsync --server --sender`) with options of a short list, and its sources
either the root (a listing: this side adds filter rules of its own ahead of the client's, so nothing
else is listed or sent) or allowed version folders. Then rsync itself serves /var/opt/eri_sn with
those options (and --confine-root where this rsync has it). Anything else is refused with one line on
stderr, which the client shows in its sync status.
"""
from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from mxone_maintenance.core.contracts import xdata
from mxone_maintenance.core.paths import VAR, Paths

if TYPE_CHECKING:
    from mxone_maintenance.core.model import Cluster

RSYNC = "/usr/bin/rsync"
TOKEN = re.compile(r"(?:[^\s\\]+|\\.[^\s\\]*)+")        # how rsync (and rrsync) split the remote command
UNESCAPE = re.compile(r"\\(.)")
SHORT = re.compile(r"^-(?P<letters>[A-Za-z]*?)(?P<caps>e\d*\.\w*)?$")
SHORT_ALLOWED = set("ACDEHIJNORSUWXbcdghilmnopqrtuvxyz")  # no L k (follow symlinks), K, s (sources
                                                          # over the protocol), e (remote shell)
LONG_FLAGS = {"list-only", "ignore-missing-args", "safe-links", "numeric-ids", "no-implied-dirs", "recursive",
              "relative", "no-relative", "no-r", "links", "times", "perms", "dirs", "one-file-system",
              "size-only", "ignore-times", "new-compress", "old-compress", "open-noatime", "no-W",
              "msgs2stderr", "no-msgs2stderr", "munge-links", "use-qsort"}
LONG_VALUES = {"timeout", "bwlimit", "block-size", "checksum-seed", "compress-level", "compress-choice",
               "checksum-choice", "modify-window", "max-size", "min-size", "max-alloc", "info"}
LONG = re.compile(r"^--(?P<name>[a-z0-9-]+)(?:=(?P<value>[\w.,:+-]*))?$")
SOURCE = re.compile(r"^(?:\./)?(?P<folder>xdata|standby/lim(?P<flim>\d+))/"
                    r"(?P<name>xdata_(?P<lim>\d+)_\d{14})/?$")
ROOT_SOURCES = {".", "./"}
# What cluster.yaml says of the members, kept between connections: sshd starts this program for each one,
# and yaml with the config's checks is most of its start. Used only while cluster.yaml is the very file
# (device, inode, size, times) it was read from; in /run, root's alone.
CACHE = PurePosixPath("/run/mxone-sync-serve.json")


class Refused(Exception):
    """One line: why this request is not served."""


@dataclass(frozen=True)
class Access:
    """Who connected, and the (folder, LIM) pairs whose versions it may read."""
    client: str
    readable: frozenset[tuple[str, int]]


@dataclass(frozen=True)
class Members:
    """What this needs of cluster.yaml: each member's base address, the standby, each LIM's regular."""
    cluster: str
    bases: tuple[tuple[str, str], ...]       # (member, base address)
    standby: str
    lims: tuple[tuple[int, str], ...]        # (LIM, its regular)

    @classmethod
    def of(cls, cluster: Cluster) -> Members:
        return cls(cluster.name, tuple((name, str(cluster.base_of(name).ip)) for name in cluster.member_names),
                   cluster.standby.server, tuple((item.lim, item.server) for item in cluster.lims))


@dataclass(frozen=True)
class Request:
    short: str                       # the short-option word as sent (-rlpte.iLsfxCIvu)
    longs: tuple[str, ...]
    sources: tuple[str, ...]         # unescaped

    @property
    def is_listing(self) -> bool:
        return self.sources[0] in ROOT_SOURCES


# --- who may read what (pure) ---------------------------------------------------------------------------

def member_at(members: Members, address: str) -> str | None:
    address = address.removeprefix("::ffff:")
    try:
        wanted = ip_address(address)
    except ValueError:
        return None
    return next((name for name, base in members.bases if ip_address(base) == wanted), None)


def access_for(members: Members, connection: str) -> Access:
    """From SSH_CONNECTION ("client port server port") and this server's cluster.yaml."""
    words = connection.split()
    if len(words) != 4:
        raise Refused("no SSH connection (SSH_CONNECTION not set)")
    client, server = member_at(members, words[0]), member_at(members, words[2])
    if server is None:
        raise Refused(f"connected to {words[2]}, which is no member's base address in cluster {members.cluster}")
    if client is None:
        raise Refused(f"{words[0]} is no member's base address in cluster {members.cluster}")
    standby = members.standby
    if server == standby and client != standby:
        lims = [lim for lim, regular in members.lims if regular == client]
        readable = {(xdata.standby_folder(n), n) for n in lims} | {(xdata.regular_folder(), n) for n in lims}
    elif client == standby and server != standby:
        readable = {(xdata.regular_folder(), lim) for lim, regular in members.lims if regular == server}
    else:
        raise Refused(f"{client} has no data to take from {server}")
    return Access(client, frozenset(readable))


def parse_request(command: str) -> Request:
    """SSH_ORIGINAL_COMMAND as a read-only rsync request; raises Refused for anything else."""
    tokens = TOKEN.findall(command or "")
    if tokens[:3] != ["rsync", "--server", "--sender"]:
        raise Refused("only a read-only rsync is served (rsync --server --sender ...)")
    if "." not in tokens[3:]:
        raise Refused("not an rsync request (no '.' argument)")
    dot = tokens.index(".", 3)
    options, sources = tokens[3:dot], tuple(UNESCAPE.sub(r"\1", t) for t in tokens[dot + 1:])
    shorts = [o for o in options if not o.startswith("--")]
    if len(shorts) != 1 or not (match := SHORT.match(shorts[0])) or not set(match["letters"]) <= SHORT_ALLOWED:
        raise Refused(f"options not served: {' '.join(shorts) or '(none)'}")
    for option in (o for o in options if o.startswith("--")):
        long = LONG.match(option)
        if not long or (long["name"] not in (LONG_VALUES if long["value"] is not None else LONG_FLAGS)):
            raise Refused(f"option not served: {option}")
    if not sources:
        raise Refused("no source given")
    if sources[0] in ROOT_SOURCES and len(sources) > 1 or any(s in ROOT_SOURCES for s in sources[1:]):
        raise Refused("a listing of the root goes alone")
    return Request(shorts[0], tuple(o for o in options if o.startswith("--")), sources)


def check_sources(request: Request, access: Access) -> None:
    if request.is_listing:
        return
    for source in request.sources:
        match = SOURCE.match(source)
        if not match or (match["flim"] is not None and match["flim"] != match["lim"]):
            raise Refused(f"not a version folder: {source}")
        if (match["folder"], int(match["lim"])) not in access.readable:
            raise Refused(f"{access.client} may not read {source}")


def server_argv(request: Request, access: Access, root: Path, rsync: str = RSYNC,
                confine: bool = False) -> list[str]:
    """The rsync server command for a checked request: a listing of the root gets this side's filter rules
    first (first match wins, so the client's own rules can only narrow it)."""
    argv = [rsync, "--server", "--sender", request.short, *request.longs]
    if confine:
        argv.append(f"--confine-root={root}")
    if request.is_listing:
        argv += [*xdata.filter_rules(sorted(access.readable)), "--exclude=*"]
    return [*argv, "--", ".", *request.sources]


# --- the file system and the process ----------------------------------------------------------------

def check_real_folders(request: Request, root: Path) -> None:
    """Each folder on the way to a version is a real folder, no symlink to elsewhere (missing: rsync says so)."""
    for source in () if request.is_listing else request.sources:
        path = root
        for part in source.strip("/").removeprefix("./").split("/"):
            path = path / part
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                break
            if not stat.S_ISDIR(mode):
                raise Refused(f"{source}: {path.relative_to(root)} is not a folder")


def has_confine_root(rsync: str = RSYNC) -> bool:
    """Whether this rsync takes --confine-root: its option table names it. Read from the program, not asked
    of `rsync --help`, which is a process more on every connection. (Were the name in an rsync without the
    option, that rsync would refuse the request: a failed sync, never a wider read.)"""
    try:
        with open(rsync, "rb") as program:
            return b"confine-root" in program.read()
    except OSError:
        return False


def load_members(paths: Paths) -> Members:
    """cluster.yaml's members: from the cache while cluster.yaml is unchanged, else read and checked by the
    config loader (and cached). The stamp is taken before the file is read: what is cached is never older
    than the file the stamp names, and a change while it is read gives the next connection another stamp."""
    try:
        info = os.stat(paths.cluster_file)
    except OSError as exc:
        raise Refused(f"no cluster configuration here ({exc})") from None
    stamp = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
    cache = paths.real(CACHE)
    try:
        with open(cache, encoding="utf-8") as file:
            own = os.fstat(file.fileno())
            kept = json.load(file) if own.st_uid == os.geteuid() and not own.st_mode & 0o077 else {}
        if kept.get("stamp") == stamp:
            return Members(kept["cluster"], tuple(map(tuple, kept["bases"])), kept["standby"],
                           tuple(map(tuple, kept["lims"])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass                                      # no usable cache: read cluster.yaml
    from mxone_maintenance.core.config import FileError, load_cluster   # here: the cost the cache saves
    try:
        members = Members.of(load_cluster(paths.cluster_file))
    except (FileError, OSError) as exc:
        raise Refused(f"no cluster configuration here ({exc})") from None
    keep(cache, {"stamp": stamp, "cluster": members.cluster, "bases": members.bases, "standby": members.standby,
                 "lims": members.lims})
    return members


def keep(cache: Path, data: dict) -> None:
    """Write the cache whole (a new file renamed into place, 0600); a failure only costs the next start."""
    part = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(data, file)
        os.replace(part, cache)
    except OSError:
        try:
            os.unlink(part)
        except OSError:
            pass


def serve(paths: Paths, environ: Mapping[str, str]) -> list[str]:
    """The checked rsync command for this connection; raises Refused."""
    access = access_for(load_members(paths), environ.get("SSH_CONNECTION", ""))
    request = parse_request(environ.get("SSH_ORIGINAL_COMMAND", ""))
    check_sources(request, access)
    root = paths.real(VAR)
    check_real_folders(request, root)
    return server_argv(request, access, root, RSYNC, has_confine_root(RSYNC))


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """`[--root DIR]` (DIR: prefix for /etc/opt/eri_sn and /var/opt/eri_sn, tests), read by hand: sshd runs
    this on every connection, and argparse would be one more module to load each time."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (len(args) != 2 or args[0] != "--root"):
        print("usage: python -m mxone_maintenance.agent.sync_serve [--root DIR]", file=sys.stderr)
        return 2
    paths = Paths.from_env(args[1] if args else None)
    try:
        command = serve(paths, os.environ if environ is None else environ)
        os.chdir(paths.real(VAR))
    except (Refused, OSError) as exc:
        print(f"mxone-sync: refused: {exc}", file=sys.stderr)
        return 1
    os.execv(command[0], command)
    return 1                                      # not reached


if __name__ == "__main__":
    sys.exit(main())
