"""A guided reboot of one cluster server (`cluster reboot --server S`), as the seed recommends: lock the
LIM to its regular server, reboot, wait until the server answers over SSH and its peers hear its agent
again with the LIM running there, unlock (the unlock follows the fallback type). For the standby: refused
while it serves a LIM, unless asked to move the LIM back first; nothing to lock.

What a run has done is kept beside system.yaml (`system.yaml.reboot`), so a run that was interrupted
goes on from there (never a second reboot for the same order), and the lock is removed even when the
wait times out. The steps here are pure; cli/reboot_flow.py runs them."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path

from mxone_maintenance.core.model import System
from mxone_maintenance.core.rules import refusal
from mxone_maintenance.utility.ops.requests import RuntimeFacts
from mxone_maintenance.utility.ops.status_sources import ServerReport


class Step(str, Enum):
    LOCK = "lock"
    MOVE_BACK = "move-back"
    REBOOT = "reboot"
    WAIT = "wait"
    UNLOCK = "unlock"
    DONE = "done"


@dataclass(frozen=True)
class RebootRun:
    server: str
    cluster: str
    lim: int | None                  # the regular's LIM; None for the standby
    locked_by_us: bool               # the lock is ours to remove (it was not locked before)
    step: Step
    ordered_at: float = 0.0          # wall clock: when the reboot was ordered
    up_before: float | None = None   # the server's agent uptime when the reboot was ordered

    def steps(self) -> tuple[Step, ...]:
        if self.lim is None:
            return (Step.MOVE_BACK, Step.REBOOT, Step.WAIT)
        return ((Step.LOCK,) if self.locked_by_us else ()) + (Step.REBOOT, Step.WAIT) + \
            ((Step.UNLOCK,) if self.locked_by_us else ())

    def after(self, step: Step) -> RebootRun:
        order = self.steps()
        index = order.index(step) + 1
        return replace(self, step=order[index] if index < len(order) else Step.DONE)


def plan_reboot(system: System, server: str, facts: RuntimeFacts, move_back: bool) -> RebootRun:
    found = system.server(server)
    cluster = system.cluster_of_server(server)
    if found is None or cluster is None:
        raise refusal("reboot-not-member", f"{server} is no server of a cluster (guided reboot is for cluster "
                                           "members; reboot a free server as usual)")
    if server == cluster.standby.server:
        serving = sorted(facts.on_standby)
        if serving and not move_back:
            raise refusal("reboot-standby-serving", f"the standby {server} serves LIM {', '.join(map(str, serving))}; "
                                                    "give --move-back to move it to its regular first")
        first = Step.MOVE_BACK if serving else Step.REBOOT
        return RebootRun(server, cluster.name, None, False, first)
    item = next(lim for lim in cluster.lims if lim.server == server)
    if item.lock == "standby":
        raise refusal("reboot-locked-standby", f"LIM {item.lim} is locked to the standby; unlock it first")
    if item.lim in facts.on_standby:
        raise refusal("reboot-lim-on-standby", f"LIM {item.lim} runs on the standby now; fall it back to {server} "
                                               "first (a reboot of a server that serves nothing needs no guide)")
    locked_by_us = item.lock != "regular"
    return RebootRun(server, cluster.name, item.lim, locked_by_us, Step.LOCK if locked_by_us else Step.REBOOT)


def plan_lines(run: RebootRun, wait_s: float) -> list[str]:
    words = {Step.LOCK: f"lock LIM {run.lim} to its regular server {run.server} (the standby will not take it)",
             Step.MOVE_BACK: f"order the fallback of what the standby {run.server} serves, and wait until it is back",
             Step.REBOOT: f"reboot {run.server} (its agent.yaml's reboot command)",
             Step.WAIT: f"wait (at most {wait_s:g} s) until {run.server} answers over SSH and its peers hear its agent "
                        + (f"with LIM {run.lim} running there" if run.lim else "again"),
             Step.UNLOCK: f"unlock LIM {run.lim} (the fallback type decides from then on)"}
    return [f"Plan: guided reboot of {run.server} (cluster {run.cluster})"] + \
        [f"  {n}. {words[step]}" for n, step in enumerate(run.steps(), 1)]


def is_back(servers: Sequence[ServerReport], standby: str, run: RebootRun, elapsed: float) -> bool:
    """The rebooted server is back: it answers with an agent that started after the order -- its uptime,
    plus the age of what we know of it, is shorter than the `elapsed` seconds since the order (an agent
    up for only 4 s when the order came is still the old one until it has gone) -- and, for a regular,
    it runs its LIM there as the standby sees it."""
    reports = {report.server: report for report in servers}
    server = reports.get(run.server)
    if server is None or not server.reachable or server.agent is None:
        return False
    if server.agent.up_s + (server.age_s or 0.0) >= elapsed:
        return False                    # the agent from before the reboot: the order has not taken yet
    if run.lim is None:
        return True
    watcher = reports.get(standby)
    seen = watcher.lim(run.lim) if watcher is not None else None
    return run.lim in server.running() and seen is not None and seen.where == run.server


def progress_path(system_file: Path) -> Path:
    return system_file.with_name(system_file.name + ".reboot")


def read_progress(system_file: Path) -> RebootRun | None:
    try:
        data = json.loads(progress_path(system_file).read_text())
        return RebootRun(**{**data, "step": Step(data["step"])})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_progress(system_file: Path, run: RebootRun | None) -> None:
    path = progress_path(system_file)
    if run is None or run.step is Step.DONE:
        path.unlink(missing_ok=True)
        return
    temp = path.with_suffix(".new")
    temp.write_text(json.dumps({**asdict(run), "step": run.step.value}))
    os.replace(temp, path)
