"""Where the cluster agent's command lives on a server: the utility runs it there over SSH for
status and orders (MXONE_AGENT_COMMAND overrides it, as the lab does)."""
from __future__ import annotations

import os

DEFAULT_AGENT_COMMAND = "/opt/mxone_install/bin/mxone-cluster-agent"


def agent_command() -> str:
    return os.environ.get("MXONE_AGENT_COMMAND") or DEFAULT_AGENT_COMMAND
