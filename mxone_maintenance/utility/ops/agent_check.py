"""Is the cluster agent installed on a server, and the same version as this utility? Asked before a
server is added to the system or replaced: a cluster member without the agent is a LIM nobody takes
over, and agents of different versions may not understand each other's status and heartbeats."""
from __future__ import annotations

from mxone_maintenance.core.version import product_version
from mxone_maintenance.utility.ops.agent_command import agent_command
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.ssh import Connection

PREFIX = "mxone-cluster-agent "


class AgentMissing(Exception):
    """One line: why the server cannot be a cluster member yet (no agent, another version)."""


def agent_version(conn: Connection) -> str | None:
    """The version the server's agent reports (`mxone-cluster-agent --version`); None: no agent there."""
    try:
        done = conn.run([agent_command(), "--version"], check=False, timeout=20)
    except RemoteError:
        return None
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.exit_status != 0 or not line.startswith(PREFIX):
        return None
    return line.removeprefix(PREFIX).strip()


def require_agent(conn: Connection) -> str:
    """The agent's version, the same as ours; else AgentMissing naming what to do."""
    ours = product_version()
    theirs = agent_version(conn)
    name = conn.host.name
    if theirs is None:
        raise AgentMissing(f"{name} has no cluster agent ({agent_command()} does not answer --version); "
                           "install it there first (scripts/install-agent)")
    if theirs != ours:
        raise AgentMissing(f"{name} runs cluster agent {theirs!r}, this utility is {ours!r}; install the same "
                           "version there first (scripts/install-agent)")
    return theirs
