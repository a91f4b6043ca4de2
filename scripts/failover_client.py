#!/usr/bin/env python3
"""failover_client: the shared measuring client for failover benchmarks and the chaos run (lab, root).

From the lab's client namespace it starts a new TCP connection attempt to ALIAS:7001 every `period`
(20 ms) on a fixed schedule; attempts overlap, each is given up after `limit` (~100 ms). For every
answer it records when it arrived and the Service Node's line ("LIM 1 on sb1"). A one-at-a-time loop
would only resolve an outage to ~120 ms; this one resolves it to about one period (LAB-NOTES).

    with FailoverClient("10.77.0.91", seconds=30) as client:    # bounded: stops by itself
        client.wait_for("lim1", timeout=5)                      # serving before the failure
        killed = time.monotonic(); lab.kill("lim1")
        answer = client.wait_for("sb1", since=killed, timeout=10)
    client.outage(killed, "sb1")          # kill moment -> first answer from sb1, seconds (None: never)
    client.gap("lim1", "sb1", killed)     # last answer from lim1 -> first from sb1 (client-visible)

Times are time.monotonic(). Standalone: `scripts/failover_client.py ALIAS --seconds S` prints one line
per change of server and a summary.
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

PORT = 7001
CLIENT_NETNS = "mxlab-client"
CLONE_NEWNET = 0x40000000
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class Answer:
    started: float          # when the attempt began
    at: float               # when its line arrived
    line: str               # "LIM 1 on sb1"

    @property
    def host(self) -> str:
        return self.line.rsplit(" on ", 1)[-1]

    @property
    def lim(self) -> int | None:
        parts = self.line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[0] == "LIM" and parts[1].isdigit() else None


@dataclass
class Counts:
    attempts: int = 0
    answered: int = 0
    refused: int = 0
    timed_out: int = 0
    errors: int = 0


@dataclass
class _Attempt:
    sock: socket.socket
    started: float
    data: bytes = b""


def enter_netns(netns: str) -> None:
    """Move the calling thread (only it) into a named network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/run/netns/{netns}") as ns:
        if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")


def first_answer(answers: list[Answer], since: float, host: str | None = None) -> Answer | None:
    """The first answer that arrived at or after `since` (from `host` when given)."""
    for answer in answers:
        if answer.at >= since and (host is None or answer.host == host):
            return answer
    return None


def last_answer(answers: list[Answer], before: float, host: str | None = None) -> Answer | None:
    """The last answer to an attempt started before `before` (from `host` when given)."""
    found = None
    for answer in answers:
        if answer.started < before and (host is None or answer.host == host):
            found = answer
    return found


def outage(answers: list[Answer], since: float, host: str) -> float | None:
    """Seconds from `since` to the first answer from `host` (None: it never answered)."""
    answer = first_answer(answers, since, host)
    return None if answer is None else answer.at - since


def changes(answers: list[Answer]) -> list[Answer]:
    """The answers where the answering line differs from the one before."""
    out, previous = [], None
    for answer in answers:
        if answer.line != previous:
            out.append(answer)
            previous = answer.line
    return out


@dataclass
class FailoverClient:
    alias: str
    seconds: float = 60.0
    period: float = 0.02
    limit: float = 0.1
    port: int = PORT
    netns: str = CLIENT_NETNS
    answers: list[Answer] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    error: str | None = None

    def __post_init__(self) -> None:
        self.seconds = min(self.seconds, MAX_SECONDS)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.began = 0.0

    # ------------------------------------------------------------ control
    def start(self) -> FailoverClient:
        self.began = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"failover-client-{self.alias}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.limit + 2)

    def __enter__(self) -> FailoverClient:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ reading the record
    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def outage(self, since: float, host: str) -> float | None:
        return outage(self.snapshot(), since, host)

    def gap(self, old_host: str, new_host: str, since: float) -> float | None:
        """Client-visible outage: last answer from old_host (attempt begun before `since`... or after,
        while it still served) to the first answer from new_host after `since`."""
        answers = self.snapshot()
        new = first_answer(answers, since, new_host)
        if new is None:
            return None
        old = last_answer(answers, new.started, old_host)
        return None if old is None else new.at - old.at

    def wait_for(self, host: str | None = None, since: float | None = None, timeout: float = 10.0) -> Answer | None:
        """Wait (bounded) until an answer from `host` (any host when None) arrives after `since`."""
        since = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running:
            found = first_answer(self.snapshot(), since, host)
            if found:
                return found
            time.sleep(self.period / 2)
        return first_answer(self.snapshot(), since, host)

    # ------------------------------------------------------------ the measuring thread
    def _run(self) -> None:
        try:
            enter_netns(self.netns)
            self._loop()
        except OSError as error:
            self.error = f"{type(error).__name__}: {error}"

    def _loop(self) -> None:
        selector = selectors.DefaultSelector()
        pending: dict[int, _Attempt] = {}
        deadline = self.began + self.seconds
        next_attempt = self.began
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                if now >= next_attempt:
                    self._begin(selector, pending, now)
                    next_attempt += self.period
                    if next_attempt < now:              # fell behind (a stalled machine): skip, never burst
                        next_attempt = now + self.period
                wait = max(0.0, min(next_attempt, deadline) - time.monotonic())
                for key, _ in selector.select(wait):
                    self._read(selector, pending, key.fd)
                self._expire(selector, pending, time.monotonic())
        finally:
            for attempt in pending.values():
                attempt.sock.close()
            selector.close()

    def _begin(self, selector: selectors.BaseSelector, pending: dict[int, _Attempt], now: float) -> None:
        self.counts.attempts += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex((self.alias, self.port))
        if code not in (0, errno.EINPROGRESS):
            self._fail(sock, code)
            return
        pending[sock.fileno()] = _Attempt(sock, now)
        selector.register(sock, selectors.EVENT_READ)

    def _read(self, selector: selectors.BaseSelector, pending: dict[int, _Attempt], fd: int) -> None:
        attempt = pending.get(fd)
        if attempt is None:
            return
        try:
            chunk = attempt.sock.recv(200)
        except BlockingIOError:
            return
        except OSError as error:
            self._close(selector, pending, fd)
            self._fail(None, error.errno)
            return
        attempt.data += chunk
        if chunk and not attempt.data.endswith(b"\n"):
            return
        self._close(selector, pending, fd)
        line = attempt.data.decode(errors="replace").strip()
        if not line:
            self.counts.errors += 1
            return
        self.counts.answered += 1
        with self._lock:
            self.answers.append(Answer(attempt.started, time.monotonic(), line))

    def _expire(self, selector: selectors.BaseSelector, pending: dict[int, _Attempt], now: float) -> None:
        for fd in [fd for fd, a in pending.items() if now - a.started >= self.limit]:
            self._close(selector, pending, fd)
            self.counts.timed_out += 1

    def _close(self, selector: selectors.BaseSelector, pending: dict[int, _Attempt], fd: int) -> None:
        attempt = pending.pop(fd)
        selector.unregister(attempt.sock)
        attempt.sock.close()

    def _fail(self, sock: socket.socket | None, code: int | None) -> None:
        if sock is not None:
            sock.close()
        if code == errno.ECONNREFUSED:
            self.counts.refused += 1
        else:
            self.counts.errors += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="failover_client", description=__doc__.split("\n\n")[0])
    parser.add_argument("alias")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--period", type=float, default=0.02)
    parser.add_argument("--limit", type=float, default=0.1)
    args = parser.parse_args(argv)
    client = FailoverClient(args.alias, seconds=args.seconds, period=args.period, limit=args.limit).start()
    client.wait_for("\0never", timeout=args.seconds + 1)
    client.stop()
    for answer in changes(client.snapshot()):
        print(f"{answer.at - client.began:8.3f}  {answer.line}")
    c = client.counts
    print(f"attempts {c.attempts}, answered {c.answered}, refused {c.refused}, timed out {c.timed_out}, "
          f"errors {c.errors}" + (f"; {client.error}" if client.error else ""))
    return 0 if client.error is None else 1


if __name__ == "__main__":
    sys.exit(main())
