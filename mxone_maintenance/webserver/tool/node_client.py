"""Asking a server's node side to do one thing: `python -I -m mxone_maintenance.webserver.node ACTION`
over SSH, the request (and any secret) as JSON on stdin, one JSON answer back. The interpreter is this
program's own (installed under the same prefix on every server, as the agents are)."""
from __future__ import annotations

import json
import sys
from typing import Any

from mxone_maintenance.core.config import one_line
from mxone_maintenance.utility.remote.errors import CommandFailed, RemoteError
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection

NODE_MODULE = "mxone_maintenance.webserver.node"


class NodeFailed(Exception):
    """A server could not do what was asked; str() is one line naming the server."""


def node_argv(action: str) -> list[str]:
    return [sys.executable, "-I", "-m", NODE_MODULE, action]


class NodeClient:
    """One server's node side, over one SSH connection opened on first use."""

    def __init__(self, name: str, address: str, settings: SshSettings):
        self.name = name
        self.connection = Connection(Host(name, address), settings)

    def ask(self, action: str, timeout: float = 300, **request: Any) -> dict[str, Any]:
        try:
            done = self.connection.run(node_argv(action), check=False, timeout=timeout,
                                       stdin=json.dumps(request).encode())
        except RemoteError as exc:
            raise NodeFailed(str(exc)) from None
        try:
            answer = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            said = one_line((done.stderr.strip().splitlines() or ["no answer"])[-1])
            raise NodeFailed(f"{self.name}: {action}: {said}") from None
        if not answer.get("ok"):
            raise NodeFailed(f"{self.name}: {one_line(str(answer.get('error', 'failed')))}")
        return answer

    def close(self) -> None:
        self.connection.close()


__all__ = ["CommandFailed", "NodeClient", "NodeFailed", "node_argv"]
