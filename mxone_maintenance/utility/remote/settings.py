"""Who the utility connects to and how: a server's identity and address, and the SSH settings of a run
(their host-key part is the policy both sides share, core/contracts/host_keys.py). No paramiko here: the
shells build these before (and without) contacting any server."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mxone_maintenance.core.contracts.host_keys import HostKeyPolicy, known_hosts_address


@dataclass(frozen=True)
class Host:
    """A server as the utility addresses it: its name (the key-pinning identity) and where it is now."""

    name: str
    address: str  # without prefix length
    port: int = 22

    @property
    def where(self) -> str:
        """Address as shown in messages: ``10.77.0.12`` or ``10.77.0.12:2222``."""
        return self.address if self.port == 22 else f"{self.address}:{self.port}"

    @property
    def known_hosts_address(self) -> str:
        """Address as OpenSSH writes it in known_hosts (``[addr]:port`` for a non-standard port)."""
        return known_hosts_address(self.address, self.port)


@dataclass(frozen=True)
class PresentedKey:
    """A server's host key as it presented it (host_key_scan.py), or as a plan pins it."""
    key_type: str
    blob: str               # base64, as known_hosts holds it
    fingerprint: str        # SHA256:..., as `ssh-keygen -lf` prints it

    @property
    def described(self) -> str:
        return f"{self.key_type} {self.fingerprint}"


@dataclass(frozen=True)
class SshSettings:
    """How to reach servers; one instance is shared by every connection of a run."""

    key_file: Path
    known_hosts: Path
    user: str = "root"
    connect_timeout: float = 5.0
    command_timeout: float = 60.0
    accept_new_host_keys: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SshSettings:
        """Settings from ``MXONE_SSH_KEY``, ``MXONE_KNOWN_HOSTS``, ``MXONE_SSH_USER`` (docs/INTERFACES.md)."""
        home = Path(env.get("HOME") or Path.home())
        return cls(
            key_file=Path(env.get("MXONE_SSH_KEY") or home / ".ssh" / "id_ed25519"),
            known_hosts=HostKeyPolicy.for_admin(env).known_hosts,
            user=env.get("MXONE_SSH_USER") or "root",
        )

    @property
    def host_key_policy(self) -> HostKeyPolicy:
        return HostKeyPolicy(self.known_hosts, self.accept_new_host_keys)
