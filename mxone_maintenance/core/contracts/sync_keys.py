"""The cluster's data-sync key and its authorized_keys entry, as text the utility writes to every member
(pure helpers; the host keys and their policy are host_keys.py).

Each member gets:
  /etc/opt/eri_sn/sync.key               the private key (mode 0600), the same on every member;
  /root/.ssh/authorized_keys             plus authorized_keys_line(public, members=...): from the
                                         members' base addresses only, through the agent's forced
                                         command (agent/sync_serve.py: read-only rsync of what the
                                         connecting member needs: a regular the standby's versions of
                                         its own LIM, the standby a regular's xdata), nothing else (no
                                         shell, pty, forwarding);
  /etc/opt/eri_sn/cluster_known_hosts    every member's host key under its name and addresses
                                         (host_keys.cluster_known_hosts).
The same line on every member: agent/sync_serve.py tells who connected, and to whom, from the addresses and the
server's own cluster.yaml. Without members (hand-made lab keys, lines of older versions) the line is the
earlier one, rrsync read-only on all of /var/opt/eri_sn.
"""
from __future__ import annotations

import hashlib
import hmac
import shlex
import sys
from collections.abc import Iterable
from ipaddress import ip_address

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# the known_hosts helpers live in host_keys; the sync key files use them
from mxone_maintenance.core.contracts.host_keys import (
    KeyLineError,
    cluster_known_hosts,
    is_key_type,
    parse_known_hosts,
    public_key_words,
)

__all__ = [
    "RESTRICTION", "RRSYNC", "SERVE_MODULE", "SYNC_MARKER", "SYNC_ROOT", "KeyLineError", "authorized_keys_line",
    "cluster_known_hosts", "make_sync_keypair", "merge_authorized_keys", "parse_key_line",
    "parse_known_hosts", "remove_from_authorized_keys", "serve_command", "sync_keypair_from_cluster_key",
]

SYNC_MARKER = "mxone-sync"
RRSYNC = "/usr/bin/rrsync"
SYNC_ROOT = "/var/opt/eri_sn"
RESTRICTION = f'command="{RRSYNC} -ro {SYNC_ROOT}",restrict'
SERVE_MODULE = "mxone_maintenance.agent.sync_serve"   # the forced command of a line with members


def make_sync_keypair(comment: str = SYNC_MARKER) -> tuple[bytes, str]:
    """A fresh Ed25519 key: (OpenSSH private key PEM, public line "ssh-ed25519 AAAA... comment").
    cryptography (paramiko's own dependency) writes the OpenSSH format; no ssh-keygen, no temp files."""
    return _openssh_pair(Ed25519PrivateKey.generate(), comment)


def sync_keypair_from_cluster_key(cluster_key: bytes, comment: str = SYNC_MARKER) -> tuple[bytes, str]:
    """The cluster's sync key, derived from its heartbeat key (HMAC-SHA256 as the Ed25519 seed).

    One secret per cluster: the utility can give a joining server the same sync key without keeping a
    second secret, and both live in 0600 files on the same servers anyway."""
    seed = hmac.new(cluster_key.strip(), b"mxone-sync-key-v1", hashlib.sha256).digest()
    return _openssh_pair(Ed25519PrivateKey.from_private_bytes(seed), comment)


def _openssh_pair(key: Ed25519PrivateKey, comment: str) -> tuple[bytes, str]:
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


# --- authorized_keys -----------------------------------------------------------------------------------

def _split_options(line: str) -> tuple[str, str]:
    """(options, rest) of an authorized_keys line; options may hold quoted spaces."""
    if is_key_type(line.split(None, 1)[0]):
        return "", line
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif char in " \t" and not quoted:
            return line[:index], line[index:].strip()
    return line, ""


def parse_key_line(line: str) -> tuple[str, str, str, str] | None:
    """(options, type, base64 blob, comment) of an authorized_keys line; None for blanks and comments."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    options, rest = _split_options(text)
    words = rest.split(None, 2)
    if len(words) < 2 or not is_key_type(words[0]):
        return None
    return options, words[0], words[1], words[2] if len(words) > 2 else ""


def serve_command(python: str | None = None) -> str:
    """The forced command: the agent's sync_serve.py under `python` (default: this program's interpreter --
    the utility's, installed under the same prefix as the agents, e.g. /opt/mxone_install/venv), in
    isolated mode (no current folder or PYTHON* variables on its path)."""
    python = python or sys.executable
    if not python or '"' in python or "\\" in python:
        raise KeyLineError(f"cannot name the interpreter {python!r} in authorized_keys")
    return f"{shlex.quote(python)} -I -m {SERVE_MODULE}"


def authorized_keys_line(public_line: str, marker: str = SYNC_MARKER, *, members: Iterable[str] = (),
                         python: str | None = None) -> str:
    """The sync key's entry, every other SSH feature off. With `members` (their base addresses): only
    from those addresses, through sync_serve.py, which serves each member what it needs and nothing else;
    without: rrsync read-only of /var/opt/eri_sn (the earlier line)."""
    kind, blob = public_key_words(public_line)
    addresses = list(dict.fromkeys(str(a) for a in members))
    if not addresses:
        return f"{RESTRICTION} {kind} {blob} {marker}"
    for address in addresses:
        try:
            ip_address(address)
        except ValueError:
            raise KeyLineError(f"not an address for from=: {address!r}") from None
    return f'from="{",".join(addresses)}",command="{serve_command(python)}",restrict {kind} {blob} {marker}'


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _joined(lines: Iterable[str]) -> str:
    kept = list(lines)
    return "\n".join(kept) + "\n" if kept else ""


def merge_authorized_keys(existing: str, line: str) -> str:
    """existing with `line` in it exactly once. A line for the same key, or an older key with the same
    marker (key rotation), is replaced in place; every other line is kept as it was. Idempotent."""
    new = parse_key_line(line)
    if new is None:
        raise KeyLineError(f"not an authorized_keys line: {line.strip()[:60]!r}")
    _, _, blob, marker = new
    out: list[str] = []
    placed = False
    for old in _lines(existing):
        parsed = parse_key_line(old)
        same = parsed is not None and (parsed[2] == blob or (marker and parsed[3] == marker))
        if not same:
            out.append(old)
        elif not placed:
            out.append(line.strip())
            placed = True
    if not placed:
        out.append(line.strip())
    return _joined(out)


def remove_from_authorized_keys(existing: str, marker: str = SYNC_MARKER) -> str:
    """existing without the lines whose comment is `marker` (or whose key blob is `marker`)."""
    def doomed(old: str) -> bool:
        parsed = parse_key_line(old)
        return parsed is not None and marker in (parsed[3], parsed[2])
    return _joined(old for old in _lines(existing) if not doomed(old))

