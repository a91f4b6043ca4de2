"""The one SSH host-key policy of both sides, and the text of host-key entries.

Both SSH stacks follow it: the utility's (paramiko, utility/remote/ssh.py) and the agent's (OpenSSH
under rsync, agent/datasync/transport.py). The policy:
  - a server's host key is pinned in exactly one known_hosts file: the admin's for the utility
    (MXONE_KNOWN_HOSTS, else ~/.ssh/known_hosts), /etc/opt/eri_sn/cluster_known_hosts for the agent
    (written by the utility from the admin's); no other file counts (no global known_hosts);
  - it is looked up under the server's name before its address, so a server keeps its pinned key when
    the cluster moves it to a new base address;
  - checking is strict: a key not pinned is refused unless accepting new ones was asked for (the
    utility's --accept-new-host-key; the agent never does), a changed key is always refused, and ssh
    itself never rewrites the file.
Pure: reads nothing and opens no connection.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mxone_maintenance.core.paths import CLUSTER_KNOWN_HOSTS, Paths

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-")
DEFAULT_PORT = 22


class KeyLineError(ValueError):
    """A public key line that is not one (or a host entry that cannot be written)."""


@dataclass(frozen=True)
class HostKeyPolicy:
    """Where host keys are pinned, and whether a key not pinned yet may be accepted (and recorded)."""
    known_hosts: Path
    accept_new: bool = False

    @classmethod
    def for_cluster(cls, paths: Paths) -> HostKeyPolicy:
        """The agent's: the cluster's pinned keys as the utility wrote them, never a new one."""
        return cls(paths.real(CLUSTER_KNOWN_HOSTS))

    @classmethod
    def for_admin(cls, env: Mapping[str, str], accept_new: bool = False) -> HostKeyPolicy:
        """The utility's: MXONE_KNOWN_HOSTS, else ~/.ssh/known_hosts (docs/INTERFACES.md)."""
        home = Path(env.get("HOME") or Path.home())
        return cls(Path(env.get("MXONE_KNOWN_HOSTS") or home / ".ssh" / "known_hosts"), accept_new)

    def lookup_names(self, name: str, address: str, port: int = DEFAULT_PORT) -> tuple[str, str]:
        """The labels to look a server's key up under, in order: its name, then its address."""
        return name, known_hosts_address(address, port)

    def openssh_options(self, name: str | None = None) -> list[str]:
        """ssh ``-o`` words for this policy. With ``name`` the key is looked up under the server's name
        only (HostKeyAlias), whatever address it is reached at."""
        checking = "accept-new" if self.accept_new else "yes"
        words = ["-o", f"StrictHostKeyChecking={checking}", "-o", f"UserKnownHostsFile={self.known_hosts}",
                 "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no"]
        if name:
            words += ["-o", f"HostKeyAlias={name}"]
        return words


# --- public key lines ----------------------------------------------------------------------------------

def is_key_type(word: str) -> bool:
    return word.startswith(KEY_TYPES)


def public_key_words(public_line: str) -> tuple[str, str]:
    """(type, blob) of a public key line `type blob [comment]`, checked: the blob is base64 and names the
    same type."""
    words = public_line.split()
    if len(words) < 2 or not is_key_type(words[0]):
        raise KeyLineError(f"not a public key line: {public_line.strip()[:60]!r}")
    kind, blob = words[0], words[1]
    try:
        decoded = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise KeyLineError(f"public key is not base64: {blob[:20]!r}...") from None
    if kind.encode() not in decoded[:64]:
        raise KeyLineError(f"public key blob does not match its type {kind}")
    return kind, blob


# --- known_hosts entries -------------------------------------------------------------------------------

def known_hosts_address(address: str, port: int = DEFAULT_PORT) -> str:
    """An address as OpenSSH writes it in known_hosts (``[addr]:port`` for a non-standard port)."""
    return address if port == DEFAULT_PORT else f"[{address}]:{port}"


def known_hosts_line(names: Sequence[str], kind: str, blob: str) -> str:
    """One entry, `name,address type blob` (each name once, no comment, no newline)."""
    return f"{','.join(dict.fromkeys(names))} {kind} {blob}"


def cluster_known_hosts(entries: Iterable[tuple[str, str, str]]) -> str:
    """known_hosts text: one `name,address type blob` line per (name, address, host key line). A prefix on
    the address (10.77.0.11/24) is dropped, the key's comment too; a server listed twice gets both names."""
    lines: list[str] = []
    for name, address, keyline in entries:
        host_names = [n for n in (name.strip(), address.split("/")[0].strip()) if n]
        if not host_names or any(c in "".join(host_names) for c in ", \t"):
            raise KeyLineError(f"bad host name or address: {name!r} {address!r}")
        line = known_hosts_line(host_names, *public_key_words(keyline))
        if line not in lines:
            lines.append(line)
    return "".join(f"{line}\n" for line in lines)


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

