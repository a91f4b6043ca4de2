"""Plans for `server add|remove` and `standby add|remove`: the system inventory, checked over SSH."""
from __future__ import annotations

from dataclasses import replace

from mxone_maintenance.core.model import Server, System
from mxone_maintenance.core.rules import enforce, refusal, server_not_in_cluster
from mxone_maintenance.utility.ops.plan import Plan, ServerPlan
from mxone_maintenance.utility.ops.requests import (
    AddServer,
    AddStandby,
    RemoveServer,
    RemoveStandby,
    RequestError,
    name_problem,
    parse_address,
)

REACH_CHECK = "answers over SSH with its pinned host key"


def _existing(system: System, name: str) -> Server:
    server = system.server(name)
    if server is None:
        raise refusal("unknown-server", f"no server named {name} in the system")
    return server


def _reach_only(server: Server) -> tuple[ServerPlan, ...]:
    """No file changes: apply only connects, to prove the server answers."""
    return (ServerPlan(server.name, str(server.address.ip), ()),)


def plan_add_server(system: System, request: AddServer) -> Plan:
    problem = name_problem(request.name, "server name")
    if problem:
        raise refusal("bad-name", problem)
    if system.server(request.name) is not None:
        raise refusal("server-exists", f"a server named {request.name} already exists")
    try:
        address = parse_address(request.address, "server address")
    except RequestError as err:
        raise refusal("bad-address", str(err)) from None
    used = next((s for s in system.servers if s.address.ip == address.ip), None)
    if used is not None:
        raise refusal("address-used", f"address {address.ip} is already used by server {used.name}")
    base = next(((c, item) for c in system.clusters for item in c.lims if item.base.ip == address.ip), None)
    if base is not None:
        raise refusal("address-used", f"address {address.ip} is already used as the base address of "
                                      f"{base[1].server} in cluster {base[0].name}")
    if request.lim is not None and system.server_with_lim(request.lim) is not None:
        raise refusal("lim-used", f"LIM {request.lim} is already on server {system.server_with_lim(request.lim).name}")
    server = Server(request.name, address, "lim" if request.lim is not None else "free", request.lim)
    kind = f"LIM {request.lim}" if request.lim is not None else "free server"
    return Plan(action="server add", title=f"add server {server.name} ({address}, {kind})", before=system,
                after=system.with_server(server), servers=_reach_only(server),
                checks=(f"{server.name} {REACH_CHECK}",), system_change=f"server {server.name} added")


def plan_remove_server(system: System, request: RemoveServer) -> Plan:
    server = _existing(system, request.name)
    enforce(server_not_in_cluster(system, server.name, f"remove server {server.name}"))
    return Plan(action="server remove", title=f"remove server {server.name} from the system", before=system,
                after=system.without_server(server.name), system_change=f"server {server.name} removed")


def plan_add_standby(system: System, request: AddStandby) -> Plan:
    server = _existing(system, request.server)
    if server.role == "standby":
        raise refusal("already-standby", f"server {server.name} is already a standby server")
    if server.role == "lim":
        raise refusal("standby-role", f"server {server.name} runs LIM {server.lim}; a standby server has no LIM")
    after = system.with_server(replace(server, role="standby"))
    return Plan(action="standby add", title=f"make {server.name} a standby server", before=system, after=after,
                servers=_reach_only(server), checks=(f"{server.name} {REACH_CHECK}",),
                system_change=f"server {server.name} becomes a standby server")


def plan_remove_standby(system: System, request: RemoveStandby) -> Plan:
    server = _existing(system, request.server)
    if server.role != "standby":
        raise refusal("not-standby", f"server {server.name} is not a standby server")
    enforce(server_not_in_cluster(system, server.name, f"remove standby {server.name}"))
    return Plan(action="standby remove", title=f"make {server.name} a free server again", before=system,
                after=system.with_server(replace(server, role="free")),
                system_change=f"server {server.name} is no longer a standby server")
