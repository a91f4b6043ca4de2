"""One command on an SSH channel: the argv quoted word by word, stdin fed while stdout and stderr are
read together (no deadlock on full pipes), all within a deadline."""
from __future__ import annotations

import select
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass

import paramiko

_READ_CHUNK = 65536


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str


def command_line(argv: Sequence[str]) -> str:
    """Quote every argument: the remote shell must see data, never syntax."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a sequence of arguments, not a command string")
    if not argv:
        raise ValueError("argv is empty")
    return " ".join(shlex.quote(str(a)) for a in argv)


def collect(channel: paramiko.Channel, stdin: bytes | None, deadline: float) -> tuple[int | None, bytes, bytes]:
    """Feed stdin and read both streams until the command ends: (exit status or None, stdout, stderr).
    TimeoutError when the deadline passes first."""
    out, err = bytearray(), bytearray()
    pending = memoryview(stdin or b"")
    channel.settimeout(0.0)
    if not pending:
        channel.shutdown_write()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        while pending and channel.send_ready():
            pending = pending[_send_some(channel, pending):]
            if not pending:
                channel.shutdown_write()
        select.select([channel], [], [], min(remaining, 0.02) if pending else remaining)
        _drain(channel, out, err)
        if channel.closed or (channel.eof_received and channel.exit_status_ready()):
            _drain(channel, out, err)
            # paramiko reports -1 when the channel closed without an exit-status message (real ones are 0-255)
            status = channel.recv_exit_status() if channel.exit_status_ready() else -1
            return (None if status < 0 else status), bytes(out), bytes(err)


def _send_some(channel: paramiko.Channel, data: memoryview) -> int:
    try:
        return channel.send(bytes(data[:_READ_CHUNK]))
    except TimeoutError:
        return 0


def _drain(channel: paramiko.Channel, out: bytearray, err: bytearray) -> None:
    while channel.recv_ready():
        out += channel.recv(_READ_CHUNK)
    while channel.recv_stderr_ready():
        err += channel.recv_stderr(_READ_CHUNK)
