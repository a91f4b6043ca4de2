"""One handler per subcommand: the request from the arguments, the plan, then `execute`."""
from __future__ import annotations

import time

from mxone_maintenance.core.model import System
from mxone_maintenance.utility.cli.apply_flow import execute
from mxone_maintenance.utility.cli.session import Failed, Session
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops import proposals
from mxone_maintenance.utility.ops import servers as server_ops
from mxone_maintenance.utility.ops.cluster_keys import new_cluster_key
from mxone_maintenance.utility.ops.plan import Plan
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ops.requests import (
    AddLim,
    AddServer,
    AddStandby,
    ChangeCluster,
    CreateCluster,
    DeleteCluster,
    LockLim,
    PreloadCluster,
    RemoveLim,
    RemoveServer,
    RemoveStandby,
    UnlockLim,
    parse_int,
    parse_lim_spec,
    parse_priority_assignment,
    parse_seconds,
)
from mxone_maintenance.utility.remote.errors import RemoteError

# --- subcommands -------------------------------------------------------------------------------------

def _int_arg(text: str | None, what: str, low: int = 1, high: int = 99) -> int | None:
    return None if text is None else parse_int(text, what, low, high)


def _seconds_arg(text: str | None, what: str, low: float, high: float) -> float | None:
    return None if text is None else parse_seconds(text, what, low, high)


def _final(session: Session, proposal: Proposal) -> Plan:
    """The plan made again with what the servers say (the cluster key, what runs on the standby); not in
    a dry run: that changes nothing and asks nobody."""
    if session.dry_run:
        return proposal.plan
    try:
        return proposal.final(session.paths, session.ssh_settings())
    except RemoteError as err:
        raise Failed(f"{err}; nothing was changed") from None


def run_create(session: Session, args, system: System) -> int:
    request = CreateCluster(name=args.name, standby=args.standby, lims=tuple(parse_lim_spec(t) for t in args.lim),
                            fallback=args.fallback,
                            detect_s=_seconds_arg(args.detect_s, "detect_s", 0.3, 3600),
                            heartbeat_s=_seconds_arg(args.heartbeat_s, "heartbeat_s", 0.1, 60),
                            hold_s=_seconds_arg(args.hold_s, "hold_s", 0.1, 3600))
    return execute(session, cluster_ops.plan_create(system, request, new_cluster_key()))


def run_change(session: Session, args, system: System) -> int:
    request = ChangeCluster(name=args.name, fallback=args.fallback,
                            priorities=tuple(parse_priority_assignment(t) for t in args.priority),
                            detect_s=_seconds_arg(args.detect_s, "detect_s", 0.3, 3600),
                            hold_s=_seconds_arg(args.hold_s, "hold_s", 0.1, 3600))
    return execute(session, cluster_ops.plan_change(system, request))


def run_preload(session: Session, args, system: System) -> int:
    return execute(session, cluster_ops.plan_preload(system, PreloadCluster(args.name)))


def run_add_lim(session: Session, args, system: System) -> int:
    request = AddLim(args.name, parse_lim_spec(args.lim))
    return execute(session, _final(session, proposals.propose_add_lim(system, request)))


def run_remove_lim(session: Session, args, system: System) -> int:
    request = RemoveLim(args.name, _int_arg(args.lim, "LIM number"), allow_down=session.allow_down)
    return execute(session, _final(session, proposals.propose_remove_lim(system, request)))


def run_delete(session: Session, args, system: System) -> int:
    return execute(session, _final(session, proposals.propose_delete(system, DeleteCluster(args.name))))


def run_fallback(session: Session, args, system: System) -> int:
    lim = _int_arg(args.lim, "LIM number")
    return execute(session, _final(session, proposals.propose_fallback(system, lim)))


def run_lock(session: Session, args, system: System) -> int:
    return execute(session, cluster_ops.plan_lock(system, LockLim(_int_arg(args.lim, "LIM number"), args.to)))


def run_unlock(session: Session, args, system: System) -> int:
    return execute(session, cluster_ops.plan_unlock(system, UnlockLim(_int_arg(args.lim, "LIM number"))))


def run_pause(session: Session, args, system: System) -> int:
    minutes = _seconds_arg(args.minutes, "minutes", 1, 7 * 24 * 60)
    return execute(session, _final(session, proposals.propose_pause(system, args.name, minutes, time.time())))


def run_resume(session: Session, args, system: System) -> int:
    from mxone_maintenance.utility.ops.maintenance import plan_resume
    return execute(session, plan_resume(system, args.name, time.time()))


def run_reboot(session: Session, args, system: System) -> int:
    from mxone_maintenance.utility.cli.reboot_flow import run_reboot as guided
    return guided(session, args, system, parse_seconds(args.wait_s, "wait_s", 10, 7200))


def run_sync(session: Session, args, system: System) -> int:
    return execute(session, cluster_ops.plan_sync(system, args.name))


def run_server_add(session: Session, args, system: System) -> int:
    request = AddServer(args.name, args.address, _int_arg(args.lim, "LIM number"))
    return execute(session, _final(session, server_ops.propose_add_server(system, request)))


def run_server_remove(session: Session, args, system: System) -> int:
    return execute(session, server_ops.plan_remove_server(system, RemoveServer(args.name)))


def run_standby_add(session: Session, args, system: System) -> int:
    return execute(session, _final(session, server_ops.propose_add_standby(system, AddStandby(args.server))))


def run_standby_remove(session: Session, args, system: System) -> int:
    return execute(session, server_ops.plan_remove_standby(system, RemoveStandby(args.server)))
