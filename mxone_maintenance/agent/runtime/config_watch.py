"""cluster.yaml and cluster.key as the agent last read them: read again when either changed on disk
(or on SIGHUP / the control socket's reload), with the rules of SCENARIOS rows 18 (an older generation
is ignored) and 19 (an invalid file keeps the last good config, with an alarm)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.core.config import FileError, load_cluster
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.core.paths import Paths

log = logging.getLogger("mxone-cluster-agent")


@dataclass(frozen=True)
class FileStamp:
    mtime_ns: int
    size: int
    inode: int


def stamp(path: Path) -> FileStamp | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return FileStamp(info.st_mtime_ns, info.st_size, info.st_ino)


def read_key(path: Path) -> bytes:
    """The cluster key: the file's bytes, stripped (raw bytes or hex text both work)."""
    key = path.read_bytes().strip()
    if not key:
        raise ValueError(f"{path} is empty")
    return key


@dataclass(frozen=True)
class Loaded:
    """A config to use (newer or equal generation) with its key."""
    config: Cluster
    key: bytes


@dataclass(frozen=True)
class Gone:
    """cluster.yaml is not there: the agent idles."""


class ConfigWatch:
    def __init__(self, paths: Paths, alarms: AlarmBook) -> None:
        self.paths, self.alarms = paths, alarms
        self._stamp: FileStamp | None = None
        self._key_stamp: FileStamp | None = None

    def poll(self, active: Cluster | None, forced: bool = False) -> Loaded | Gone | None:
        """What to do about the files now: use a config, idle, or nothing (unchanged, or unusable:
        the alarm says why and the active config stays)."""
        current, key_current = stamp(self.paths.cluster_file), stamp(self.paths.cluster_key)
        if not forced and current == self._stamp and key_current == self._key_stamp:
            return None
        self._stamp, self._key_stamp = current, key_current
        if current is None:
            if active is not None:
                log.warning("%s is gone: idle", self.paths.cluster_file)
            self.alarms.clear(alarm_keys.CONFIG)
            return Gone()
        loaded = self._load(active)
        if loaded is None:
            return None
        key = self._key()
        return Loaded(loaded, key) if key is not None else None

    def _load(self, active: Cluster | None) -> Cluster | None:
        try:
            loaded = load_cluster(self.paths.cluster_file)
        except (FileError, OSError) as exc:
            self.alarms.raise_(alarm_keys.CONFIG, f"Invalid cluster config, keeping generation "
                                                  f"{active.generation if active else '(none)'}: {exc}")
            return None
        self.alarms.clear(alarm_keys.CONFIG)
        if active is not None and loaded.generation < active.generation:
            log.warning("ignored %s: generation %d is older than the active %d", self.paths.cluster_file,
                        loaded.generation, active.generation)
            return None
        return loaded

    def _key(self) -> bytes | None:
        try:
            key = read_key(self.paths.cluster_key)
        except (OSError, ValueError) as exc:
            self.alarms.raise_(alarm_keys.CLUSTER_KEY,
                               f"Cluster key unusable: {getattr(exc, 'strerror', None) or exc}")
            return None
        self.alarms.clear(alarm_keys.CLUSTER_KEY)
        return key
