"""The cluster's heartbeat key: made for a new cluster, kept here (ETC/keys/<cluster>.key, written by
apply), and fetched from the standby when this copy is missing (add-lim needs it)."""
from __future__ import annotations

import os
from pathlib import Path

from mxone_maintenance.core import paths as product_paths
from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.settings import Host, SshSettings


def new_cluster_key() -> bytes:
    """32 random bytes as hex and a newline: the format the agents read."""
    return (os.urandom(32).hex() + "\n").encode()


def key_file(paths: Paths, cluster_name: str) -> Path:
    return paths.real(product_paths.ETC) / "keys" / f"{cluster_name}.key"


def cluster_key(paths: Paths, system: System, cluster_name: str, settings: SshSettings) -> bytes:
    """The copy kept here, else the one on the standby."""
    local = key_file(paths, cluster_name)
    if local.exists():
        return local.read_bytes()
    from mxone_maintenance.utility.remote.ssh import Connection  # paramiko loads only when a server is asked

    cluster = system.cluster(cluster_name)
    host = Host(cluster.standby.server, str(cluster.standby.base.ip))
    with Connection(host, settings) as conn:
        data = conn.read_file(str(product_paths.CLUSTER_KEY))
    if not data:
        raise RemoteError(host, f"the key of cluster {cluster_name} is missing here ({local}) and on the standby")
    return data
