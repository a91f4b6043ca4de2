"""A server's host key as it presents it, before anything trusts it, and re-pinning a changed one.

The only way a changed host key is accepted: a technician replacing a server compares the fingerprint
the server presents here with the one its console shows, and says yes (or gives it with --host-key).
`presented_key` runs the SSH key exchange only (no authentication, nothing sent but the handshake);
`repin` replaces every line pinning the server's name or addresses in known_hosts with one line for the
new key; `trusting` gives settings that trust the new key for the checks before the change, without
touching the real known_hosts.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import paramiko

from mxone_maintenance.core.contracts.host_keys import known_hosts_line
from mxone_maintenance.utility.remote import host_keys
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.settings import Host, PresentedKey, SshSettings


def _of(key: paramiko.PKey) -> PresentedKey:
    return PresentedKey(key.get_name(), key.get_base64(), key.fingerprint)


def presented_key(host: Host, settings: SshSettings) -> PresentedKey:
    """The host key `host` presents (the pinned key's type preferred). Raises Unreachable."""
    from mxone_maintenance.utility.remote.ssh import Connection
    return _of(Connection(host, settings).presented_key())


def pinned_key(host: Host, settings: SshSettings) -> PresentedKey | None:
    """The key pinned for `host` (by name, else address) of the type it would present first."""
    pinned = host_keys.pinned_keys(host, settings.host_key_policy)
    if pinned is None:
        return None
    return _of(next(iter(pinned[1].values())))


def _labels(line: str) -> list[str]:
    """The host names a pin line is for; none for comments, blank lines and @cert-authority / @revoked
    lines (the admin's trust settings, not a pinned key: kept as they are)."""
    words = line.split()
    if not words or words[0].startswith(("#", "@")):
        return []
    return words[0].split(",")


def _hashed_match(label: str, name: str) -> bool:
    try:
        return paramiko.HostKeys.hash_host(name, label) == label
    except (AssertionError, ValueError, TypeError):     # a damaged entry (another host's): no match
        return False


def _names_match(labels: Sequence[str], names: Sequence[str]) -> bool:
    for label in labels:
        if label.startswith("|1|"):           # hashed: HashKnownHosts yes
            if any(_hashed_match(label, name) for name in names):
                return True
        elif label in names:
            return True
    return False


def repinned_text(text: str, host: Host, key: PresentedKey) -> str:
    """known_hosts text with every line pinning a key for the host's name or address (a line naming it
    among others too) replaced by one for `key`; every other line kept byte for byte."""
    names = [host.name, host.known_hosts_address]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    kept = [line for line in lines if not _names_match(_labels(line), names)]
    kept.append(known_hosts_line(names, key.key_type, key.blob))
    return "\n".join(kept) + "\n"


def repin(known_hosts: Path, host: Host, key: PresentedKey) -> None:
    """Pin `key` for the host in known_hosts (0600), in place of whatever was pinned for it. Atomic: a
    reader sees the old file or the new one; flock keeps a parallel connect's append out."""
    known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(known_hosts, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with open(fd, encoding="utf-8", closefd=False) as handle:
            text = handle.read()
        new = known_hosts.with_name(f".{known_hosts.name}.mxone-repin")
        new.unlink(missing_ok=True)             # what a killed run left (any mode, even a symlink)
        new_fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with open(new_fd, "w", encoding="utf-8") as handle:
            handle.write(repinned_text(text, host, key))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(new, known_hosts)
    finally:
        os.close(fd)


@contextlib.contextmanager
def trusting(settings: SshSettings, host: Host, key: PresentedKey) -> Iterator[SshSettings]:
    """Settings whose known_hosts is a private copy with `key` pinned for the host (removed after)."""
    try:
        text = settings.known_hosts.read_text(encoding="utf-8") if settings.known_hosts.exists() else ""
    except OSError as err:
        raise RemoteError(host, f"cannot read {settings.known_hosts}: {err.strerror or err}") from None
    folder = Path(tempfile.mkdtemp(prefix="mxone-repin-"))     # 0700
    try:
        copy = folder / "known_hosts"
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(repinned_text(text, host, key))
        yield replace(settings, known_hosts=copy, accept_new_host_keys=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
