"""`cluster reboot --server S`: the guided reboot of ops/reboot.py run step by step, with a line of
progress for each, the progress kept beside system.yaml so an interrupted run goes on where it stopped,
and the lock removed even when the server does not come back in time (then exit 1, saying what to check)."""
from __future__ import annotations

import time
from dataclasses import replace

from mxone_maintenance.core.model import System
from mxone_maintenance.utility.cli.apply_flow import execute
from mxone_maintenance.utility.cli.session import EXIT_FAILED, EXIT_OK, Failed, Session
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops import proposals
from mxone_maintenance.utility.ops.reboot import RebootRun, Step, is_back, plan_lines, plan_reboot, read_progress, \
    write_progress
from mxone_maintenance.utility.ops.requests import LockLim, RuntimeFacts, UnlockLim

POLL_S = 1.0


def _status(session: Session, system: System, cluster: str):
    from mxone_maintenance.utility.ops.status import collect_status, for_status   # paramiko loads only here
    return collect_status(system, for_status(session.ssh_settings()), cluster).clusters[0]


def _agent(report, server: str):
    return next((s for s in report.servers if s.server == server), None)


def _start(session: Session, args, system: System) -> RebootRun:
    saved = read_progress(session.system_file)
    if saved is not None:
        if saved.server != args.server:
            raise Failed(f"the guided reboot of {saved.server} is unfinished (step {saved.step.value}); run "
                         f"`mxone_maintenance cluster reboot --server {saved.server}` to finish it first")
        session.say(f"Going on with the guided reboot of {saved.server} from step {saved.step.value}.")
        return saved
    from mxone_maintenance.utility.ops.status import runtime_facts
    cluster = system.cluster_of_server(args.server)
    facts = runtime_facts(system, cluster.name, session.ssh_settings()) if cluster else None
    return plan_reboot(system, args.server, facts or RuntimeFacts(), args.move_back)


def run_reboot(session: Session, args, system: System, wait_s: float) -> int:
    run = _start(session, args, system)
    for line in plan_lines(run, wait_s):
        session.say(line)
    if session.dry_run:
        session.say("Dry run: nothing was changed.")
        return EXIT_OK
    if not session.yes:
        if not _ask():
            session.say("Not applied: nothing was changed.")
            return EXIT_FAILED
    quiet = replace(session, yes=True)
    ok = True
    while run.step is not Step.DONE:
        session.say(f"Step: {run.step.value}")
        done, run = _do(quiet, system, run, wait_s)
        ok = ok and done
        write_progress(session.system_file, run)
        system = session.load_system()
    if ok:
        session.say(f"Guided reboot of {args.server}: done")
        return EXIT_OK
    return EXIT_FAILED


def _ask() -> bool:
    import sys
    if not sys.stdin.isatty():
        raise Failed("not applied: no terminal to confirm on; run again with --yes (or --dry-run to only look)")
    return input("Apply this plan? [y/N] ").strip().lower() in ("y", "yes")


def _do(session: Session, system: System, run: RebootRun, wait_s: float) -> tuple[bool, RebootRun]:
    """One step; whether it went well, and the run after it."""
    if run.step is Step.LOCK:
        if execute(session, cluster_ops.plan_lock(system, LockLim(run.lim, "regular"))) != EXIT_OK:
            raise Failed(f"could not lock LIM {run.lim}; {run.server} was not rebooted")
    elif run.step is Step.UNLOCK:
        if execute(session, cluster_ops.plan_unlock(system, UnlockLim(run.lim))) != EXIT_OK:
            raise Failed(f"LIM {run.lim} is still locked to {run.server}: run `cluster unlock --lim {run.lim}`")
    elif run.step is Step.MOVE_BACK:
        _move_back(session, system, run, wait_s)
    elif run.step is Step.REBOOT:
        return True, _reboot(session, system, run)
    elif run.step is Step.WAIT:
        return _wait(session, system, run, wait_s), run.after(Step.WAIT)
    return True, run.after(run.step)


def _move_back(session: Session, system: System, run: RebootRun, wait_s: float) -> None:
    report = _status(session, system, run.cluster)
    standby = _agent(report, run.server)
    for lim in sorted(standby.running() if standby else ()):
        code = execute(session, proposals.propose_fallback(system, lim).final(session.paths, session.ssh_settings()))
        if code != EXIT_OK:
            raise Failed(f"the fallback of LIM {lim} failed; {run.server} was not rebooted")
    deadline = time.monotonic() + wait_s
    while standby is not None and standby.running():
        if time.monotonic() > deadline:
            raise Failed(f"the standby {run.server} still serves LIM {sorted(standby.running())}; it was not rebooted")
        time.sleep(POLL_S)
        standby = _agent(_status(session, system, run.cluster), run.server)


def _reboot(session: Session, system: System, run: RebootRun) -> RebootRun:
    """Order the reboot; the step moves on (and is kept) before the order, so it is never given twice."""
    from mxone_maintenance.utility.ops.agent_command import agent_command
    from mxone_maintenance.utility.remote.errors import RemoteError
    from mxone_maintenance.utility.remote.settings import Host
    from mxone_maintenance.utility.remote.ssh import Connection
    before = _agent(_status(session, system, run.cluster), run.server)
    moved = replace(run.after(Step.REBOOT), ordered_at=time.time(),
                    up_before=before.agent.up_s if before and before.agent else None)
    write_progress(session.system_file, moved)
    session.progress(run.server, "rebooting")
    try:
        with Connection(Host(run.server, str(system.management_address(run.server).ip)), session.ssh_settings()) as conn:
            conn.run([agent_command(), "reboot"], timeout=30)
    except RemoteError as err:
        session.progress(run.server, f"the reboot order's connection ended: {err}")
    return moved


def _wait(session: Session, system: System, run: RebootRun, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            report = _status(session, system, run.cluster)
            elapsed = time.time() - run.ordered_at            # after the answer: the agent's uptime is as old
            if is_back(report.servers, report.cluster.standby.server, run, elapsed):
                session.progress(run.server, f"back after {elapsed:.0f} s" +
                                 (f", LIM {run.lim} running there, heard by the standby" if run.lim else ""))
                return True
        except Exception as err:  # noqa: BLE001 - a status that cannot be read yet is a server not back yet
            session.progress(run.server, f"not answering yet ({err})")
        time.sleep(POLL_S)
    session.say(f"error: {run.server} is not back within {wait_s:g} s: check its console (power, boot messages), "
                f"its network and `mxone_maintenance cluster status`" +
                (f"; LIM {run.lim} is unlocked now, so the fallback type decides where it runs" if run.lim else ""))
    return False
