"""The notify command (agent.yaml `notify: [argv...]`, `notify_timeout_s`, default 5 s): run once per
event, with the event in its environment (the agent's own environment plus):

    MXONE_EVENT       the kind (takeover, release, fallback, yield, health, pause, resume,
                      alarm_raised, alarm_cleared, agent_started)
    MXONE_LIM         the LIM number, or empty
    MXONE_SERVER      the server whose agent recorded it
    MXONE_SEVERITY    0..4 (core/contracts/events.py)       MXONE_CODE   its alarm code (4100..4109)
    MXONE_TEXT        one line                              MXONE_CAUSE  one line, or empty
    MXONE_TIME        seconds since the epoch               MXONE_GENERATION  the cluster.yaml generation

Off the caller's thread: one worker runs the commands one after another from a bounded queue (full:
the event is dropped for the command, and counted). A command still running after the timeout is
killed with its whole process group. Each outcome is logged: ok, exit N, timeout, cannot run.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mxone_maintenance.agent.events.worker import Worker
from mxone_maintenance.core.contracts.events import Event, one_line

log = logging.getLogger("mxone-cluster-agent")

DEFAULT_TIMEOUT_S = 5.0


def event_environment(event: Event, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update({"MXONE_EVENT": event.kind.value, "MXONE_LIM": "" if event.lim is None else str(event.lim),
                "MXONE_SERVER": event.server, "MXONE_SEVERITY": str(event.severity),
                "MXONE_CODE": str(event.code), "MXONE_TEXT": event.text, "MXONE_CAUSE": event.cause,
                "MXONE_TIME": f"{event.at:.3f}", "MXONE_GENERATION": str(event.generation)})
    return env


@dataclass
class Outcomes:
    """What became of the events handed to the command (for tests and status)."""
    ok: int = 0
    failed: int = 0
    timed_out: int = 0
    cannot_run: int = 0
    last: list[str] = field(default_factory=list)     # the last few outcome lines

    def note(self, line: str) -> None:
        self.last = (self.last + [line])[-20:]


def run_once(argv: Sequence[str], event: Event, timeout_s: float) -> str:
    """Run the command for one event; its outcome as a word or two: ok, exit N, timeout, cannot run: ..."""
    try:
        proc = subprocess.Popen(list(argv), env=event_environment(event), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                                close_fds=True)
    except (OSError, ValueError) as exc:
        return f"cannot run: {getattr(exc, 'strerror', None) or exc}"
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:     # a child that left the group still holds stderr open
            proc.kill()
            proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        return f"timeout (killed after {timeout_s:g} s)"
    if proc.returncode == 0:
        return "ok"
    said = one_line(err.decode("utf-8", "replace").strip().splitlines()[-1], 200) if err.strip() else ""
    return f"exit {proc.returncode}" + (f": {said}" if said else "")


class Notifier:
    """Hands each event to the notify command on a worker thread."""

    def __init__(self, argv: Sequence[str], timeout_s: float = DEFAULT_TIMEOUT_S, queue_size: int = 100) -> None:
        self.argv, self.timeout_s = tuple(argv), timeout_s
        self.outcomes = Outcomes()
        self.worker: Worker[Event] = Worker("notify command", self._run, queue_size)

    @property
    def dropped(self) -> int:
        return self.worker.dropped

    def send(self, event: Event) -> bool:
        return self.worker.submit(event)

    def _run(self, event: Event) -> None:
        outcome = run_once(self.argv, event, self.timeout_s)
        line = f"notify command for {event.kind.value}" + (f" LIM {event.lim}" if event.lim is not None else "") \
            + f": {outcome}"
        self.outcomes.note(line)
        if outcome == "ok":
            self.outcomes.ok += 1
            log.info("%s", line)
            return
        if outcome.startswith("timeout"):
            self.outcomes.timed_out += 1
        elif outcome.startswith("cannot run"):
            self.outcomes.cannot_run += 1
        else:
            self.outcomes.failed += 1
        log.warning("%s", line)

    def close(self, timeout: float = 2.0) -> None:
        self.worker.close(timeout)
