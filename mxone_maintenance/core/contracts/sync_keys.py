"""The cluster's data-sync key and host keys, as text the utility writes to every member (pure helpers).

Each member gets:
  /etc/opt/eri_sn/sync.key               the private key (mode 0600), the same on every member;
  /root/.ssh/authorized_keys             plus authorized_keys_line(public): read-only rsync of
                                         /var/opt/eri_sn through rrsync, nothing else (no shell, pty,
                                         forwarding);
  /etc/opt/eri_sn/cluster_known_hosts    every member's host key under its name and addresses.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SYNC_MARKER = "mxone-sync"
RRSYNC = "/usr/bin/rrsync"
SYNC_ROOT = "/var/opt/eri_sn"
RESTRICTION = f'command="{RRSYNC} -ro {SYNC_ROOT}",restrict'
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-")


class SyncKeyError(ValueError):
    """A public key line that is not one."""


def make_sync_keypair(comment: str = SYNC_MARKER) -> tuple[bytes, str]:
    """A fresh Ed25519 key: (OpenSSH private key PEM, public line "ssh-ed25519 AAAA... comment").
    cryptography (paramiko's own dependency) writes the OpenSSH format; no ssh-keygen, no temp files."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


def sync_keypair_from_cluster_key(cluster_key: bytes, comment: str = SYNC_MARKER) -> tuple[bytes, str]:
    """The cluster's sync key, derived from its heartbeat key (HMAC-SHA256 as the Ed25519 seed).

    One secret per cluster: the utility can give a joining server the same sync key without keeping a
    second secret, and both live in 0600 files on the same servers anyway."""
    seed = hmac.new(cluster_key.strip(), b"mxone-sync-key-v1", hashlib.sha256).digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


# --- authorized_keys -----------------------------------------------------------------------------------

def _is_key_type(word: str) -> bool:
    return word.startswith(KEY_TYPES)


def _split_options(line: str) -> tuple[str, str]:
    """(options, rest) of an authorized_keys line; options may hold quoted spaces."""
    if _is_key_type(line.split(None, 1)[0]):
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
    if len(words) < 2 or not _is_key_type(words[0]):
        return None
    return options, words[0], words[1], words[2] if len(words) > 2 else ""


def public_key_words(public_line: str) -> tuple[str, str]:
    """(type, blob) of a public key line, checked: the blob is base64 and names the same type."""
    parsed = parse_key_line(public_line)
    if parsed is None or parsed[0]:
        raise SyncKeyError(f"not a public key line: {public_line.strip()[:60]!r}")
    _, kind, blob, _ = parsed
    try:
        decoded = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise SyncKeyError(f"public key is not base64: {blob[:20]!r}...") from None
    if kind.encode() not in decoded[:64]:
        raise SyncKeyError(f"public key blob does not match its type {kind}")
    return kind, blob


def authorized_keys_line(public_line: str, marker: str = SYNC_MARKER) -> str:
    """The sync key's entry: rrsync read-only of /var/opt/eri_sn, every other SSH feature off."""
    kind, blob = public_key_words(public_line)
    return f"{RESTRICTION} {kind} {blob} {marker}"


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
        raise SyncKeyError(f"not an authorized_keys line: {line.strip()[:60]!r}")
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


# --- known_hosts ---------------------------------------------------------------------------------------

def cluster_known_hosts(entries: Iterable[tuple[str, str, str]]) -> str:
    """known_hosts text: one `name,address type blob` line per (name, address, host key line). A prefix on
    the address (10.77.0.11/24) is dropped, the key's comment too; a server listed twice gets both names."""
    lines: list[str] = []
    for name, address, keyline in entries:
        host_names = [n for n in (name.strip(), address.split("/")[0].strip()) if n]
        if not host_names or any(c in "".join(host_names) for c in ", \t"):
            raise SyncKeyError(f"bad host name or address: {name!r} {address!r}")
        kind, blob = public_key_words(keyline)
        line = f"{','.join(dict.fromkeys(host_names))} {kind} {blob}"
        if line not in lines:
            lines.append(line)
    return _joined(lines)


def parse_known_hosts(text: str) -> list[tuple[str, str, str]]:
    """(name, address, key) of each `name,address type blob` line (the admin's known_hosts as the utility
    and the lab write it), ready for cluster_known_hosts; hashed or other lines are skipped."""
    entries = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or line.startswith(("#", "|", "@")):
            continue
        names = words[0].split(",")
        entries.append((names[0], names[1] if len(names) > 1 else "", f"{words[1]} {words[2]}"))
    return entries
