"""Where the product's files live on a server, under an optional root prefix (--root / MXONE_ROOT).

The lab and the tests give every host its own tree by passing a root; on a real server it is "/".
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ETC = PurePosixPath("/etc/opt/eri_sn")
VAR = PurePosixPath("/var/opt/eri_sn")

# Real paths on a server (also the remote paths the utility writes over SSH).
SYSTEM_FILE = ETC / "system.yaml"
CLUSTER_FILE = ETC / "cluster.yaml"
CLUSTER_KEY = ETC / "cluster.key"
AGENT_SETTINGS = ETC / "agent.yaml"
SYNC_KEY = ETC / "sync.key"
CLUSTER_KNOWN_HOSTS = ETC / "cluster_known_hosts"
AUTHORIZED_KEYS = PurePosixPath("/root/.ssh/authorized_keys")
XDATA_DIR = VAR / "xdata"
STANDBY_DATA_DIR = VAR / "standby"
AUDIT_LOG = PurePosixPath("/var/log/mxone_maintenance.log")
AGENT_SOCKET = PurePosixPath("/run/mxone-cluster-agent.sock")
AGENT_STATE_DIR = VAR / "agent"
EVENTS_FILE = AGENT_STATE_DIR / "events.jsonl"   # the agent's event history (agent/events/history.py)


@dataclass(frozen=True)
class Paths:
    """The product's paths under one root prefix."""
    root: Path = Path("/")

    @classmethod
    def from_env(cls, root: str | os.PathLike[str] | None = None) -> Paths:
        chosen = root if root is not None else os.environ.get("MXONE_ROOT") or "/"
        return cls(Path(chosen))

    def real(self, path: PurePosixPath) -> Path:
        return self.root / path.relative_to("/")

    @property
    def is_test_tree(self) -> bool:
        return self.root.resolve() != Path("/")

    @property
    def system_file(self) -> Path:
        return self.real(SYSTEM_FILE)

    @property
    def cluster_file(self) -> Path:
        return self.real(CLUSTER_FILE)

    @property
    def cluster_key(self) -> Path:
        return self.real(CLUSTER_KEY)

    @property
    def agent_settings(self) -> Path:
        return self.real(AGENT_SETTINGS)

    @property
    def audit_log(self) -> Path:
        return self.real(AUDIT_LOG)

    @property
    def agent_socket(self) -> Path:
        return self.real(AGENT_SOCKET)

    @property
    def agent_state_dir(self) -> Path:
        return self.real(AGENT_STATE_DIR)

    @property
    def xdata_dir(self) -> Path:
        return self.real(XDATA_DIR)

    @property
    def standby_data_dir(self) -> Path:
        return self.real(STANDBY_DATA_DIR)

    @property
    def events_file(self) -> Path:
        return self.real(EVENTS_FILE)
