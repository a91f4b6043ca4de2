"""sd_notify(3) without libsystemd: datagrams to the service manager over $NOTIFY_SOCKET.

The unit is Type=notify with WatchdogSec=: READY=1 when the loop has run its first cycle, WATCHDOG=1
only after a cycle ran (at most every WATCHDOG_USEC/2, as sd_watchdog_enabled(3) recommends: a loop
that hangs stops pinging and systemd restarts the agent), STATUS= when the line changes, STOPPING=1
on shutdown. Without $NOTIFY_SOCKET (a shell, the lab, the tests) every call does nothing; a failing
send is logged once and never raised: the manager's socket must not stop the agent.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, MutableMapping

log = logging.getLogger("mxone-cluster-agent")

# Read once, then taken out of the environment: the Service Nodes the agent starts must not ping for it.
ENVIRONMENT = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def socket_address(name: str) -> str | bytes:
    """The sendto() address of $NOTIFY_SOCKET: a leading '@' is Linux's abstract namespace (a NUL)."""
    return b"\0" + name[1:].encode() if name.startswith("@") else name


def watchdog_interval(environ: MutableMapping[str, str], pid: int) -> float | None:
    """Seconds between pings (half of WATCHDOG_USEC), or None when the manager expects none from us."""
    owner = environ.get("WATCHDOG_PID")
    if owner is not None and owner != str(pid):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class Notifier:
    """One agent's messages to systemd; every method is safe to call without a manager."""

    def __init__(self, name: str | None, ping_every_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.address = socket_address(name) if name else None
        self.ping_every_s = ping_every_s
        self.clock = clock
        self.ready = False
        self.last_ping = float("-inf")
        self.status = ""
        self._sock: socket.socket | None = None
        self._failing = False

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] = os.environ) -> Notifier:
        name = environ.get("NOTIFY_SOCKET") or None
        every = watchdog_interval(environ, os.getpid())
        for variable in ENVIRONMENT:
            environ.pop(variable, None)
        return cls(name, every)

    def send(self, *assignments: str) -> bool:
        """One datagram of `NAME=value` lines; False (logged once in a row) if it could not be sent."""
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(assignments).encode(), self.address)
        except (OSError, ValueError) as exc:    # ValueError: a NUL inside the path
            if not self._failing:
                log.warning("cannot notify systemd at %s: %s", os.fsdecode(self.address), exc)
            self._failing = True
            return False
        self._failing = False
        return True

    def cycled(self, status: str) -> None:
        """After a cycle ran: READY=1 the first time, WATCHDOG=1 when due, STATUS= when it changed."""
        now = self.clock()
        message = []
        if not self.ready:
            message.append("READY=1")
        elif self.ping_every_s is not None and now - self.last_ping >= self.ping_every_s:
            message.append("WATCHDOG=1")
        pinged = bool(message)          # READY=1 starts the manager's watchdog timer too
        status = " ".join(status.split())       # one line: a newline would start another assignment
        if status != self.status:
            message.append(f"STATUS={status}")
        if message and self.send(*message):
            self.ready, self.status = True, status
            if pinged:
                self.last_ping = now

    def stopping(self, status: str = "stopping") -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
