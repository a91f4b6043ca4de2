"""Running one command for the agent (nft, the Service Node's commands, rsync): the only place that
calls subprocess, so a command that cannot start, hangs or fails is handled one way everywhere.

Callers turn the outcome into their own one-line error: the texts end up in logs and alarms.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Finished:
    """A command that ran to its end (any exit status; negative: killed by that signal)."""
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class NotRun(Exception):
    """The command did not run to its end: it could not start (OSError) or ran out of time.
    ``str()`` is the cause's own text."""

    def __init__(self, cause: OSError | subprocess.TimeoutExpired) -> None:
        super().__init__(str(cause))
        self.cause = cause

    @property
    def timed_out(self) -> bool:
        return isinstance(self.cause, subprocess.TimeoutExpired)

    @property
    def reason(self) -> str:
        """The short reason ("No such file or directory") where the OS gave one."""
        return getattr(self.cause, "strerror", None) or str(self.cause)


def run(argv: Sequence[str], *, input: str | None = None, timeout: float | None = None,
        env: Mapping[str, str] | None = None, null_stdin: bool = False) -> Finished:
    """Run ``argv`` with text output captured. ``env`` is added to the agent's environment;
    ``null_stdin`` gives the command /dev/null instead of the agent's stdin (ignored with ``input``)."""
    stdin = subprocess.DEVNULL if null_stdin and input is None else None
    try:
        done = subprocess.run(list(argv), input=input, stdin=stdin, capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ, **env) if env else None, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotRun(exc) from exc
    return Finished(tuple(argv), done.returncode, done.stdout, done.stderr)


def one_line(text: str, limit: int = 400) -> str:
    """A command's output on one line (for logs and alarms), cut at ``limit`` characters."""
    joined = " | ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[:limit - 3] + "..."


def last_line(text: str) -> str:
    """The last line of a command's output ("" when it said nothing)."""
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""
