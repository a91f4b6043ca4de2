"""What can go wrong on or on the way to a server: distinct types (a bad host key is not an auth failure,
neither is a timeout), each ``str()`` one plain line naming the host, because the CLI and the menus print
them as they are. No paramiko here."""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from mxone_maintenance.utility.remote.settings import Host


class RemoteError(Exception):
    """Something failed on or on the way to one server. ``str()`` is one line naming the host.

    ``host`` is the server's name; other layers may raise it too (e.g. a precheck refusing a change):
    ``raise RemoteError(conn.host, "not enough free disk")``.
    """

    def __init__(self, host: Host | str, detail: str):
        self.host = host.name if isinstance(host, Host) else host
        self.where = host.where if isinstance(host, Host) else ""
        self.detail = one_line(detail)
        label = f"{self.host} ({self.where})" if self.where else self.host
        super().__init__(f"{label}: {self.detail}")


class HostKeyUnknown(RemoteError):
    """The server's host key is not in known_hosts (and accepting new keys was not asked for)."""

    def __init__(self, host: Host, key_type: str, fingerprint: str, known_hosts: Path):
        self.key_type = key_type
        self.fingerprint = fingerprint
        super().__init__(
            host,
            f"unknown host key {key_type} {fingerprint}; compare it with the server's own "
            f"(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and accept it with --accept-new-host-key "
            f"(it will be recorded in {known_hosts})",
        )


class HostKeyChanged(RemoteError):
    """The server presented a key other than the pinned one: never accepted automatically."""

    def __init__(self, host: Host, expected: str, presented: str, pinned_as: str, known_hosts: Path):
        self.expected = expected
        self.presented = presented
        super().__init__(
            host,
            f"HOST KEY CHANGED: known_hosts pins {expected} for {pinned_as!r} but the server presented "
            f"{presented}; refusing to connect (if the server was reinstalled, remove the old line "
            f"for {pinned_as!r} from {known_hosts} and connect again)",
        )


class AuthFailed(RemoteError):
    """The server refused our key (or we could not load it). Never retried: retries cannot fix it."""


class Unreachable(RemoteError):
    """No SSH service answered: refused, timed out, no route, or no SSH handshake."""


class CommandFailed(RemoteError):
    """A command exited non-zero or timed out (``exit_status`` -1)."""

    def __init__(self, host: Host | str, argv: Sequence[str], exit_status: int, stderr: str,
                 detail: str | None = None):
        self.argv = tuple(argv)
        self.exit_status = exit_status
        self.stderr = stderr
        if detail is None:
            detail = f"`{short(shlex.join(self.argv))}` exited with status {exit_status}"
            last = _last_line(stderr)
            if last:
                detail += f": {short(last)}"
        super().__init__(host, detail)


def one_line(text: str) -> str:
    """Collapse a message to one line: errors end up in one-line CLI output and logs."""
    return " ".join(text.split())


def short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
