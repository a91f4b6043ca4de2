"""The Service Node's health check (agent.yaml `service.check`): a TCP connect to the LIM's alias on a
port, or an argv with the start/stop placeholders. Three outcomes, never two: a check that cannot be
run (its command missing, not executable) is neither a pass nor a miss -- it is its own alarm; keepalived
counts such a check as passing, which hides a broken check until the day it is needed. A command that
runs out of time is a miss: a hung Service Node is exactly what the check is for."""
from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address

from mxone_maintenance.agent.commands import NotRun, one_line, run
from mxone_maintenance.agent.effects.service import argv_alias, expand


class Verdict(Enum):
    PASSED = "passed"
    MISSED = "missed"
    CANNOT_RUN = "cannot-run"


@dataclass(frozen=True)
class CheckOutcome:
    verdict: Verdict
    detail: str = ""


@dataclass(frozen=True)
class HealthCheck:
    """How and how often; `failures` misses in a row are the verdict."""
    argv: tuple[str, ...] = ()
    tcp_port: int | None = None
    expect: str = ""                 # TCP: the greeting must contain this (placeholders filled)
    interval_s: float = 2.0
    timeout_s: float = 1.0
    failures: int = 3

    @property
    def configured(self) -> bool:
        return bool(self.argv) or self.tcp_port is not None

    def described(self) -> str:
        return f"TCP {self.tcp_port}" if self.tcp_port is not None else " ".join(self.argv[:2])


def tcp_check(alias: IPv4Address, port: int, timeout_s: float, expect: str = "") -> CheckOutcome:
    """Connect (and, with `expect`, read the greeting until it shows, all within `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((str(alias), port), timeout=timeout_s) as sock:
            said = b""
            while expect and expect.encode() not in said:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(512)
                if not chunk or len(said) > 4096:
                    return CheckOutcome(Verdict.MISSED, f"{alias}:{port} said {one_line(said.decode(errors='replace'))!r}, "
                                                        f"not {expect!r}")
                said += chunk
            return CheckOutcome(Verdict.PASSED)
    except socket.timeout:
        return CheckOutcome(Verdict.MISSED, f"no answer on {alias}:{port} within {timeout_s:g} s")
    except OSError as exc:
        return CheckOutcome(Verdict.MISSED, f"{alias}:{port}: {exc.strerror or exc}")


def command_check(template: Sequence[str], lim: int, alias: IPv4Address, node: str, timeout_s: float) -> CheckOutcome:
    argv = expand(template, lim, alias, node)
    env = {"MXONE_LIM": str(lim), "MXONE_ALIAS": argv_alias(alias), "MXONE_NODE": node}
    try:
        done = run(argv, timeout=timeout_s, env=env, null_stdin=True)
    except NotRun as exc:
        if exc.timed_out:
            return CheckOutcome(Verdict.MISSED, f"{argv[0]} did not answer within {timeout_s:g} s")
        return CheckOutcome(Verdict.CANNOT_RUN, f"{argv[0]}: {exc.reason}")
    if done.ok:
        return CheckOutcome(Verdict.PASSED)
    return CheckOutcome(Verdict.MISSED, one_line(done.stderr) or f"{argv[0]} exit status {done.returncode}")


def check_once(check: HealthCheck, lim: int, alias: IPv4Address, node: str) -> CheckOutcome:
    if check.tcp_port is not None:
        expect = expand([check.expect], lim, alias, node)[0] if check.expect else ""
        return tcp_check(alias, check.tcp_port, check.timeout_s, expect)
    return command_check(check.argv, lim, alias, node, check.timeout_s)
