"""The host-key policy both sides share (core/contracts/host_keys.py) carried out with paramiko, and
checked *before* authenticating (Ansible's strict checking):

- a server's key is pinned in one known_hosts file (SshSettings.known_hosts: MXONE_KNOWN_HOSTS, else
  ~/.ssh/known_hosts), looked up under the server's name first and its address second, so a server keeps
  its pinned key when the cluster moves it to a new base address;
- a key not pinned yet is refused (HostKeyUnknown) unless the admin asked to accept new ones, which
  records it; a changed key is always refused (HostKeyChanged): that is what an impostor on a taken-over
  alias address would look like.
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import paramiko
from paramiko.hostkeys import InvalidHostKey

from mxone_maintenance.core.contracts.host_keys import HostKeyPolicy, known_hosts_line
from mxone_maintenance.utility.remote.errors import HostKeyChanged, HostKeyUnknown, RemoteError
from mxone_maintenance.utility.remote.settings import Host

Pinned = tuple[str, Mapping[str, paramiko.PKey]]
"""The known_hosts label a server's keys were found under, and those keys by type."""


def pinned_keys(host: Host, policy: HostKeyPolicy) -> Pinned | None:
    """The pinned keys for ``host``: name first, then address. known_hosts is read fresh on every connect,
    as another run (or ssh-keygen -R) may have changed it."""
    known = paramiko.HostKeys()
    try:
        if policy.known_hosts.exists():
            known.load(str(policy.known_hosts))
    except (OSError, paramiko.SSHException, ValueError, InvalidHostKey) as e:
        raise RemoteError(host, f"cannot read {policy.known_hosts}: {' '.join(str(e).split()) or type(e).__name__}"
                          ) from None
    for label in policy.lookup_names(host.name, host.address, host.port):
        try:
            entry = known.lookup(label)
        except AssertionError:          # paramiko's check of a hashed entry's salt
            raise RemoteError(host, f"cannot read {policy.known_hosts}: a hashed entry is damaged") from None
        if entry:
            return label, entry
    return None


def preferred_first(pinned: Pinned | None, offered: Sequence[str]) -> list[str]:
    """The host-key algorithms to offer, the pinned key's types first, so a multi-key server shows the
    pinned one (RSA has three algorithm names)."""
    if not pinned:
        return list(offered)
    wanted: list[str] = []
    for key_type in pinned[1]:
        wanted += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type]
    preferred = [a for a in wanted if a in offered]
    return preferred + [a for a in offered if a not in preferred]


def verify(host: Host, key: paramiko.PKey, pinned: Pinned | None, policy: HostKeyPolicy) -> None:
    """Accept the presented key, record a new one when the policy accepts new ones, or refuse it."""
    known_hosts = policy.known_hosts
    if pinned is None:
        if not policy.accept_new:
            raise HostKeyUnknown(host, key.get_name(), key.fingerprint, known_hosts)
        names = (host.name, host.known_hosts_address)
        _append(known_hosts, known_hosts_line(names, key.get_name(), key.get_base64()) + "\n")
        return
    label, keys = pinned
    if keys.get(key.get_name()) == key:
        return
    expected = ", ".join(_describe(k) for k in keys.values())
    raise HostKeyChanged(host, expected, _describe(key), label, known_hosts)


def _describe(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def _append(path: Path, line: str) -> None:
    """Append one line to known_hosts (mode 0600). flock locks an open file description, so it keeps
    parallel connects of this process out as well as other processes."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o600)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
