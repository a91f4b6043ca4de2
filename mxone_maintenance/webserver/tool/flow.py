"""From a request to a result, for the command line and the menus alike: the pair found in system.yaml,
both servers asked what they are, the plan built and shown, confirmed, applied with progress."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path

from mxone_maintenance.utility.ops.inventory import SystemFileError, load_system
from mxone_maintenance.utility.remote.host_key_scan import pinned_key
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.webserver.shared.pair_file import Role
from mxone_maintenance.webserver.tool import plans
from mxone_maintenance.webserver.tool.apply import Progress, Secrets, apply_plan
from mxone_maintenance.webserver.tool.node_client import NodeClient, NodeFailed
from mxone_maintenance.webserver.tool.pair import Pair, PairProblem, find_pair, replication_user, virtual_ip
from mxone_maintenance.webserver.tool.server_facts import ServerFacts
from mxone_maintenance.webserver.tool.status import Answered, gather


class Failed(Exception):
    """Exit 1: a server or a file could not do it; str() is one line."""


@dataclass
class Context:
    system_file: Path
    ssh: SshSettings

    def pair(self) -> Pair:
        try:
            system = load_system(self.system_file)
        except SystemFileError as exc:
            raise Failed(str(exc)) from None
        return find_pair(system)

    def clients(self, pair: Pair) -> dict[str, NodeClient]:
        return {pair.master: NodeClient(pair.master, str(pair.master_base.ip), self.ssh),
                pair.standby: NodeClient(pair.standby, str(pair.standby_base.ip), self.ssh)}

    def known_host(self, pair: Pair, role: Role) -> str:
        """The other server's host key line for mxone_manager's known_hosts, as the admin's pins it."""
        other: Role = "standby" if role == "master" else "master"
        name, address = pair.name_of(other), str(pair.base_of(other).ip)
        key = pinned_key(Host(name, address), self.ssh)
        if key is None:
            raise Failed(f"no host key of {name} is pinned in {self.ssh.known_hosts}; add the server first")
        return f"{address} {key.key_type} {key.blob}"


def ask_both(clients: dict[str, NodeClient], need: tuple[str, ...] | None = None) -> Answered:
    answered = gather(clients)
    for name in need if need is not None else tuple(clients):
        if name in answered.silent:
            raise Failed(f"{answered.silent[name]}; nothing was changed")
    return answered


@dataclass(frozen=True)
class SetupRequest:
    role: Role
    vip: str | None
    user: str | None
    reconfigure: bool = False


def plan_for_setup(context: Context, pair: Pair, clients: dict[str, NodeClient], request: SetupRequest,
                   install: Callable[[str], bool], restart: Callable[[], bool]) -> plans.Plan:
    facts = ask_both(clients).facts
    setup_values(pair, request, facts)
    name = snm_to_install(pair, facts)
    wants_install = name is not None and install(name)
    return plan_setup_from(context, pair, facts, request, install=wants_install,
                           restart=request.role == "master" or restart())


def setup_values(pair: Pair, request: SetupRequest, facts: dict[str, ServerFacts]) -> tuple[IPv4Interface, str]:
    """The virtual IP and replication user as asked, else as set now (a reconfigure without them)."""
    current = facts[pair.master].pair or facts[pair.standby].pair
    vip = virtual_ip(pair, request.vip) if request.vip else (current.virtual_ip if current else None)
    user = replication_user(request.user) if request.user else (current.replication_user if current else None)
    if vip is None or user is None:
        raise PairProblem("give --virtual-ip and --replication-user")
    return vip, user


def snm_to_install(pair: Pair, facts: dict[str, ServerFacts]) -> str | None:
    """The standby, when SNM is missing there and it can install it: both setups need SNM on the standby
    (the master's own SNM is a rule, plans.plan_setup), so that is where the install is offered."""
    found = facts[pair.standby]
    return found.name if found.snm_version is None and found.can_install_snm else None


def plan_setup_from(context: Context, pair: Pair, facts: dict[str, ServerFacts], request: SetupRequest,
                    install: bool, restart: bool) -> plans.Plan:
    """The setup or reconfigure plan from what both servers said (the menus ask their questions between)."""
    vip, user = setup_values(pair, request, facts)
    return plans.plan_setup(pair, request.role, vip, user, facts, context.known_host(pair, request.role),
                            install=install, restart=restart, reconfigure=request.reconfigure)


def apply(plan: plans.Plan, clients: dict[str, NodeClient], secrets: Secrets, progress: Progress) -> None:
    from mxone_maintenance.webserver.tool.apply import ApplyFailed
    try:
        apply_plan(plan, clients, secrets, progress)
    except ApplyFailed as exc:
        raise Failed(f"{exc}; steps before it are made: run the same action again to finish it") from None


def close(clients: dict[str, NodeClient]) -> None:
    for client in clients.values():
        client.close()


__all__ = ["Context", "Failed", "NodeFailed", "PairProblem", "SetupRequest", "apply", "ask_both", "close",
           "plan_for_setup", "plan_setup_from", "setup_values", "snm_to_install"]
