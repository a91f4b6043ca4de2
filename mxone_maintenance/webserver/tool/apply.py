"""Running a plan: each step on its server in order, with a line of progress before and after; the
answers a later step needs (the login key) carried forward; the tool's own waits. A step that fails ends
the run with one line naming the server and the step; every step is safe to run again, so running the
same action again finishes it (remove goes back)."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mxone_maintenance.webserver.tool.node_client import NodeClient, NodeFailed
from mxone_maintenance.webserver.tool.plans import Plan, Step
from mxone_maintenance.webserver.tool.server_facts import ServerFacts, facts_from

Progress = Callable[[str, str], None]
CARRIED = ("public_key",)


@dataclass(frozen=True)
class Secrets:
    manager: str = ""
    replication: str = ""

    def value(self, kind: str) -> str:
        return self.manager if kind == "manager" else self.replication


class ApplyFailed(Exception):
    """str() is one line: which step on which server, and why; `done` is how many steps were made."""

    def __init__(self, message: str, done: int):
        super().__init__(message)
        self.done = done


def read_facts(client: NodeClient) -> ServerFacts:
    return facts_from(client.name, client.ask("facts", timeout=30))


def _await(client: NodeClient, step: Step, condition: Callable[[ServerFacts], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + step.timeout
    while True:
        try:
            if condition(read_facts(client)):
                return {}
        except NodeFailed:
            pass
        if time.monotonic() > deadline:
            raise NodeFailed(f"{client.name}: not done within {step.timeout:g} s: {step.text}")
        time.sleep(0.5)


WAITS: dict[str, Callable[[ServerFacts], bool]] = {
    "await-serving": lambda found: found.serves,
    "await-following": lambda found: found.database.streaming,
}


def run_step(client: NodeClient, step: Step, secrets: Secrets, carried: dict[str, Any]) -> dict[str, Any]:
    if step.action in WAITS:
        return _await(client, step, WAITS[step.action])
    request = dict(step.request)
    request.update({key: carried[key] for key in CARRIED if key in carried and step.action == "authorize"})
    request.update({key: secrets.value(kind) for key, kind in step.secrets.items()})
    return client.ask(step.action, timeout=step.timeout, **request)


def apply_plan(plan: Plan, clients: Mapping[str, NodeClient], secrets: Secrets, progress: Progress) -> None:
    carried: dict[str, Any] = {}
    for done, step in enumerate(plan.steps):
        progress(step.server, step.text)
        started = time.monotonic()
        try:
            answer = run_step(clients[step.server], step, secrets, carried)
        except NodeFailed as exc:
            raise ApplyFailed(f"step {done + 1} ({step.text.split(':')[0]}) failed: {exc}", done) from None
        carried.update({key: answer[key] for key in CARRIED if key in answer})
        progress(step.server, f"done in {time.monotonic() - started:.1f} s")
