"""Plans for `server add|remove` and `standby add|remove`: the system inventory, and what the product
keeps on the server.

A server joins the system only when it can be a cluster member: on the subnet of the other servers
(checked here, before any SSH), answering over SSH with the host key the plan shows, and running the
cluster agent of this utility's version (both checked in apply). A standby also needs free disk for two
data backups of each regular it may serve (every LIM server of the system) and gets the folders for
them. Removing a server, or the standby role, cleans what the product put on it; one that does not
answer is removed all the same with `--allow-down`, and then nothing on it is cleaned.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Interface

from mxone_maintenance.core import paths
from mxone_maintenance.core.model import Server, System
from mxone_maintenance.core.rules import enforce, refusal, server_not_in_cluster
from mxone_maintenance.utility.ops import cluster as cluster_ops
from mxone_maintenance.utility.ops.plan import (
    AgentCheck,
    DiskCheck,
    MakeFolder,
    PinHostKey,
    Plan,
    RemoveFolder,
    ServerPlan,
    Step,
)
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ops.requests import (
    AddServer,
    AddStandby,
    RemoveServer,
    RemoveStandby,
    RequestError,
    name_problem,
    parse_address,
)
from mxone_maintenance.utility.remote.errors import HostKeyUnknown, RemoteError
from mxone_maintenance.utility.remote.settings import Host, SshSettings

REACH_CHECK = "answers over SSH with its pinned host key"
STANDBY_DIR = str(paths.STANDBY_DATA_DIR)


@dataclass(frozen=True)
class SeenKey:
    """The host key a server presented when the plan was made, and whether known_hosts pins it already."""
    key_type: str
    blob: str
    fingerprint: str
    pinned: bool


def _existing(system: System, name: str) -> Server:
    server = system.server(name)
    if server is None:
        raise refusal("unknown-server", f"no server named {name} in the system")
    return server


def subnet_problem(system: System, name: str, address: IPv4Interface) -> str | None:
    """Why `address` is not on the cluster subnet (the networks of the system's other servers), or None;
    a first server defines it."""
    networks = sorted({s.address.network for s in system.servers if s.name != name})
    if not networks or address.network in networks:
        return None
    return (f"server {name} must be on the cluster subnet, the subnet of the other servers in the system "
            f"({address} is not on {', '.join(map(str, networks))})")


def _on_subnet(system: System, server: Server) -> None:
    problem = subnet_problem(system, server.name, server.address)
    if problem:
        raise refusal("cluster-subnet", problem)


def _key_steps(server: Server, key: SeenKey | None) -> tuple[tuple[Step, ...], tuple[str, ...]]:
    """The host-key steps and check lines: the key shown, pinned at apply unless known_hosts has it."""
    where = f"{server.name} ({server.address.ip})"
    if key is None:     # a dry run asks nobody: the key is shown when the plan is made to be applied
        return (), (f"{where} answers over SSH (its host key's fingerprint is shown before the plan is applied)",)
    said = f"{where} presents {key.key_type} {key.fingerprint}"
    answers = f"{server.name} answers over SSH with that host key"
    if key.pinned:
        return (), (f"{said}, the key pinned for it", answers)
    return ((PinHostKey(key.key_type, key.blob, key.fingerprint),),
            (f"{said}: not pinned yet, compare it with the server's own (ssh-keygen -lf "
             f"/etc/ssh/ssh_host_*_key.pub)", answers))


def _joining(server: Server, key: SeenKey | None, extra: tuple[Step, ...] = ()) -> tuple[ServerPlan, tuple[str, ...]]:
    steps, checks = _key_steps(server, key)
    return ServerPlan(server.name, str(server.address.ip), steps + extra), checks


def plan_add_server(system: System, request: AddServer, key: SeenKey | None = None) -> Plan:
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
    _on_subnet(system, server)
    kind = f"LIM {request.lim}" if request.lim is not None else "free server"
    joining, checks = _joining(server, key)
    return Plan(action="server add", title=f"add server {server.name} ({address}, {kind})", before=system,
                after=system.with_server(server), servers=(joining,), checks=checks,
                agent_check=AgentCheck((server.name,)), system_change=f"server {server.name} added")


def _cleaning_steps(server: Server) -> tuple[Step, ...]:
    """What the product may have put on a server: the cluster files and keys, the data-sync key's line,
    and on a standby its copies of the regulars' data."""
    copies = (RemoveFolder(STANDBY_DIR, "the standby's copies of the regulars' data"),) \
        if server.role == "standby" else ()
    return (*cluster_ops.leaving_files(), *copies)


def _leaving(server: Server) -> ServerPlan:
    return ServerPlan(server.name, str(server.address.ip), _cleaning_steps(server), leaving=True)


def plan_remove_server(system: System, request: RemoveServer) -> Plan:
    server = _existing(system, request.name)
    enforce(server_not_in_cluster(system, server.name, f"remove server {server.name}"))
    return Plan(action="server remove", title=f"remove server {server.name} from the system", before=system,
                after=system.without_server(server.name), servers=(_leaving(server),),
                checks=(f"{server.name} {REACH_CHECK}",), system_change=f"server {server.name} removed")


def _standby_folders(regulars: list[Server]) -> tuple[Step, ...]:
    """The folder of the standby's copies, and one per LIM it may serve (DESIGN §7)."""
    return (MakeFolder(STANDBY_DIR, note="the standby's copies of the regulars' data"),
            *(MakeFolder(f"{STANDBY_DIR}/lim{s.lim}", note=f"copies of LIM {s.lim}") for s in regulars))


def plan_add_standby(system: System, request: AddStandby, key: SeenKey | None = None) -> Plan:
    server = _existing(system, request.server)
    if server.role == "standby":
        raise refusal("already-standby", f"server {server.name} is already a standby server")
    if server.role == "lim":
        raise refusal("standby-role", f"server {server.name} runs LIM {server.lim}; a standby server has no LIM")
    _on_subnet(system, server)
    regulars = sorted((s for s in system.servers if s.lim is not None), key=lambda s: s.lim)
    joining, checks = _joining(server, key, _standby_folders(regulars))
    asked = tuple(ServerPlan(s.name, cluster_ops.address_of(system, s.name), ()) for s in regulars)
    disk = DiskCheck(server.name, tuple(s.name for s in regulars)) if regulars else None
    return Plan(action="standby add", title=f"make {server.name} a standby server", before=system,
                after=system.with_server(replace(server, role="standby")), servers=(joining, *asked),
                checks=checks, agent_check=AgentCheck((server.name,)), disk_check=disk,
                system_change=f"server {server.name} becomes a standby server")


def plan_remove_standby(system: System, request: RemoveStandby) -> Plan:
    server = _existing(system, request.server)
    if server.role != "standby":
        raise refusal("not-standby", f"server {server.name} is not a standby server")
    enforce(server_not_in_cluster(system, server.name, f"remove standby {server.name}"))
    return Plan(action="standby remove", title=f"make {server.name} a free server again", before=system,
                after=system.with_server(replace(server, role="free")), servers=(_leaving(server),),
                checks=(f"{server.name} {REACH_CHECK}",),
                system_change=f"server {server.name} is no longer a standby server")


# --- the host key, asked before the plan to apply is shown ------------------------------------------------

def seen_key(server: Server, settings: SshSettings) -> SeenKey:
    """The key the server presents, held against known_hosts: a new one only with --accept-new-host-key,
    a changed one never (that is `server replace`). Raises RemoteError."""
    from mxone_maintenance.utility.remote.host_key_scan import pinned_key, presented_key  # paramiko only here
    host = Host(server.name, str(server.address.ip))
    key = presented_key(host, settings)
    pinned = pinned_key(host, settings)
    if pinned is None and not settings.accept_new_host_keys:
        raise HostKeyUnknown(host, key.key_type, key.fingerprint, settings.known_hosts)
    if pinned is not None and (pinned.key_type, pinned.blob) != (key.key_type, key.blob):
        raise RemoteError(host, f"presents {key.described}, but {settings.known_hosts} pins {pinned.described} "
                                f"for it; a changed host key is never accepted here (rebuilt hardware: "
                                f"`server replace --name {server.name}`)")
    return SeenKey(key.key_type, key.blob, key.fingerprint, pinned=pinned is not None)


def propose_add_server(system: System, request: AddServer) -> Proposal:
    plan = plan_add_server(system, request)
    server = plan.after.server(request.name)
    return Proposal(plan, lambda _paths, settings: plan_add_server(system, request, seen_key(server, settings)))


def propose_add_standby(system: System, request: AddStandby) -> Proposal:
    plan = plan_add_standby(system, request)
    server = system.server(request.server)
    return Proposal(plan, lambda _paths, settings: plan_add_standby(system, request, seen_key(server, settings)))
