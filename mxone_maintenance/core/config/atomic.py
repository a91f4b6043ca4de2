"""Replacing a local file so that readers see the old content or the new, never a half-written file.

The temporary file is made here rather than with tempfile, which brings shutil, random and the
compression modules with it (0.7 MB of the agent's memory, which replaces its state and metrics
files with this). It is created 0600 with O_EXCL and O_NOFOLLOW beside the target (so the rename is
atomic), named `.<name>.<random>.tmp` (never `*.prom`, so a metrics collector skips it), and gets its
mode just before the rename.
"""
from __future__ import annotations

import os
from pathlib import Path

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_atomic(path: Path, content: str | bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Write beside, chmod, rename. ``durable``: fsync the file before the rename and the folder after
    (the rename survives a power loss); without it (files the agent rewrites every second), none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, temp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _temp_beside(path: Path) -> tuple[int, Path]:
    for _ in range(100):
        temp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(temp, _TEMP_FLAGS, 0o600), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")
