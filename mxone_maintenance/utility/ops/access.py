"""How a run reaches the servers: its SSH settings. The menus name the transport's settings type through
here, so they never import the transport."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from mxone_maintenance.utility.remote.settings import SshSettings

__all__ = ["SshSettings", "ssh_settings"]


def ssh_settings(accept_new_host_key: bool, env: Mapping[str, str] = os.environ) -> SshSettings:
    """From the environment (docs/INTERFACES.md); `accept_new_host_key` records the key of a server not
    yet pinned (a changed key is refused all the same)."""
    settings = SshSettings.from_env(env)
    return replace(settings, accept_new_host_keys=True) if accept_new_host_key else settings
