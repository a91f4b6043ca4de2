"""Running a program on this server: one place, so every failure reads the same (`NodeError`: one line
naming the command and what it said)."""
from __future__ import annotations

import subprocess
from collections.abc import Sequence

from mxone_maintenance.core.config import one_line


class NodeError(Exception):
    """A step on this server failed; str() is one line."""


def run(argv: Sequence[str], *, input: str | None = None, timeout: float = 120, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, env=env)
    except FileNotFoundError:
        raise NodeError(f"{argv[0]} is not installed here") from None
    except subprocess.TimeoutExpired:
        raise NodeError(f"`{' '.join(argv[:3])}` did not end within {timeout:g} s") from None
    if check and done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise NodeError(f"`{' '.join(argv[:4])}` failed (exit {done.returncode})"
                        + (f": {one_line(said[-1])}" if said else ""))
    return done


def succeeds(argv: Sequence[str], timeout: float = 30) -> bool:
    try:
        return run(argv, timeout=timeout, check=False).returncode == 0
    except NodeError:
        return False
