"""A Plan: what an action will change, on which server, shown before anything changes.

Plans are pure values. `apply` (ops/apply.py) turns their steps into a two-phase change over SSH.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface

from mxone_maintenance.core import paths as product_paths
from mxone_maintenance.core.model import System
from mxone_maintenance.core.version import product_version

# where staged hidden files may be left: the product's folders, root's .ssh, the network configuration
STAGING_FOLDERS = (str(product_paths.ETC), str(product_paths.AUTHORIZED_KEYS.parent), str(product_paths.XDATA_DIR),
                   "/etc/sysconfig/network", "/etc/network", "/etc/network/interfaces.d", "/etc/systemd/network")


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: bytes
    mode: int = 0o644
    note: str = ""

    def describe(self) -> str:
        extra = f" ({self.note})" if self.note else ""
        return f"write {self.path}{extra}"


@dataclass(frozen=True)
class RemoveFile:
    path: str

    def describe(self) -> str:
        return f"remove {self.path}"


@dataclass(frozen=True)
class AddAddress:
    address: IPv4Interface
    interface: str
    note: str = ""

    def describe(self) -> str:
        extra = f"; {self.note}" if self.note else ""
        return f"add base address {self.address} on {self.interface}{extra}"


@dataclass(frozen=True)
class RemoveAddress:
    address: IPv4Interface
    interface: str

    def describe(self) -> str:
        return f"remove base address {self.address} from {self.interface}"


@dataclass(frozen=True)
class SetBootAddress:
    """Make `new` the interface's address in the server's own network configuration (instead of `old`),
    so a reboot brings up the right base and never the alias (the file is read and edited at apply)."""
    interface: str
    old: IPv4Interface
    new: IPv4Interface
    required: bool = True     # leaving: a server without a network file has nothing of ours to restore

    def describe(self) -> str:
        return f"boot with {self.new} on {self.interface} (network configuration; was {self.old})"


@dataclass(frozen=True)
class PruneXdata:
    """Remove every xdata version but the newest (the versions are listed on the server at apply)."""

    def describe(self) -> str:
        return "remove old xdata versions (keep only the newest)"


@dataclass(frozen=True)
class AllowSyncKey:
    """Add the cluster's data-sync key to root's authorized_keys, restricted to read-only rsync
    (merged with what the file holds on the server, at apply)."""
    line: str

    def describe(self) -> str:
        return "allow the cluster's data-sync key in /root/.ssh/authorized_keys (read-only rsync only)"


@dataclass(frozen=True)
class DropSyncKey:
    marker: str

    def describe(self) -> str:
        return "remove the cluster's data-sync key from /root/.ssh/authorized_keys"


@dataclass(frozen=True)
class WriteClusterHostKeys:
    """cluster_known_hosts: every member's pinned host key (from the utility's known_hosts, at apply),
    so the agents verify each other when they sync data."""
    path: str
    members: tuple[str, ...]

    def describe(self) -> str:
        return f"write {self.path} (host keys of {', '.join(self.members)})"


@dataclass(frozen=True)
class CleanStaged:
    """Remove what an interrupted run left staged: hidden `.NAME.mxone-KIND-TAG` files beside the
    product's files (some hold keys). Only in a run that finishes or undoes an interrupted change."""
    folders: tuple[str, ...] = STAGING_FOLDERS

    def describe(self) -> str:
        return "remove files an interrupted run left staged (hidden .*.mxone-* names)"


@dataclass(frozen=True)
class OrderAgent:
    """A command to the server's cluster agent (fallback, sync): an order, not a file change."""
    args: tuple[str, ...]
    note: str = ""

    def describe(self) -> str:
        return self.note or f"tell the cluster agent: {' '.join(self.args)}"


@dataclass(frozen=True)
class MakeFolder:
    """A folder the product needs (made with its missing parents; an existing one gets the mode)."""
    path: str
    mode: int = 0o755
    note: str = ""

    def describe(self) -> str:
        extra = f", {self.note}" if self.note else ""
        return f"create {self.path}/ (mode {self.mode:04o}{extra})"


@dataclass(frozen=True)
class RemoveFolder:
    """A folder of the product's, with all it holds (nothing when it is not there)."""
    path: str
    note: str = ""

    def describe(self) -> str:
        extra = f" ({self.note})" if self.note else ""
        return f"remove {self.path}/{extra}"


@dataclass(frozen=True)
class PinHostKey:
    """The host key the server presented when the plan was made (shown in it): apply trusts only that key
    for the server, and pins it in this utility's known_hosts once the change is made."""
    key_type: str
    blob: str
    fingerprint: str

    def describe(self) -> str:
        return f"pin its host key {self.key_type} {self.fingerprint} in this utility's known_hosts"


Step = (WriteFile | RemoveFile | AddAddress | RemoveAddress | SetBootAddress | PruneXdata | AllowSyncKey | DropSyncKey
        | WriteClusterHostKeys | CleanStaged | OrderAgent | MakeFolder | RemoveFolder | PinHostKey)


@dataclass(frozen=True)
class ServerPlan:
    server: str
    address: str              # where the utility connects (address without prefix)
    steps: tuple[Step, ...]
    must_be_down: bool = False  # a dead regular whose LIM stops: its part waits for `cluster finish`
    leaving: bool = False       # leaves the system or the standby role: allowed down, it stays uncleaned


@dataclass(frozen=True)
class DiskCheck:
    """The standby needs free disk for two data backups of each regular (checked over SSH)."""
    standby: str
    regulars: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.standby} has free disk for two data backups of each of {', '.join(self.regulars)}"


@dataclass(frozen=True)
class AgentCheck:
    """Servers that must run the cluster agent, the same version as this utility (checked over SSH)."""
    servers: tuple[str, ...]

    def describe(self) -> str:
        return (f"{', '.join(self.servers)} has the cluster agent installed, the same version as this utility "
                f"({product_version()})")


@dataclass(frozen=True)
class MediaServerCheck:
    """Where a regular's MX-ONE configuration places a co-located Media Server (agent.yaml's
    media_server.addresses_file), its control and media addresses must be the LIM's alias, so it moves
    with the LIM. (server, LIM, alias) per regular; checked over SSH before anything changes."""
    lims: tuple[tuple[str, int, str], ...]

    def describe(self) -> str:
        return "; ".join(f"a co-located Media Server on {server} binds control and media to LIM {lim}'s alias {alias}"
                         for server, lim, alias in self.lims)


@dataclass(frozen=True)
class Plan:
    action: str                         # e.g. "cluster create"
    title: str                          # one line a technician reads first
    before: System
    after: System
    servers: tuple[ServerPlan, ...] = ()
    checks: tuple[str, ...] = ()        # what apply checks over SSH before it changes anything
    disk_check: DiskCheck | None = None
    agent_check: AgentCheck | None = None
    media_check: MediaServerCheck | None = None
    system_change: str = ""             # what happens to system.yaml, "" if nothing
    secrets: dict[str, bytes] = field(default_factory=dict, compare=False)   # e.g. a new cluster key

    @property
    def changes_servers(self) -> bool:
        return any(s.steps for s in self.servers)

    @property
    def is_order(self) -> bool:
        return all(isinstance(step, OrderAgent) for s in self.servers for step in s.steps)

    def all_checks(self) -> list[str]:
        return list(self.checks) + [check.describe() for check in (self.agent_check, self.media_check, self.disk_check)
                                    if check]

    def lines(self) -> list[str]:
        """The plan as text: a heading, then per server what changes, then the checks."""
        out = [f"Plan: {self.title}"]
        for server in self.servers:
            if not server.steps:
                continue
            out.append(f"  {server.server} ({server.address}):")
            out.extend(f"    - {step.describe()}" for step in server.steps)
        checks = self.all_checks()
        if checks:
            out.append("  Checked before anything changes:")
            out.extend(f"    - {check}" for check in checks)
        if self.system_change:
            out.append(f"  System file: {self.system_change}")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def to_json(self) -> dict:
        return {
            "action": self.action,
            "title": self.title,
            "servers": [{"server": s.server, "address": s.address, "steps": [step.describe() for step in s.steps]}
                        for s in self.servers if s.steps],
            "checks": self.all_checks(),
            "system_change": self.system_change,
        }


def catch_up_words(plan: Plan, server: str) -> str:
    """What a server left out of a change (`--allow-down`) gets when it is back."""
    if any(s.server == server and s.must_be_down for s in plan.servers):
        return "gets its part (leaving the cluster) from `cluster finish` when it is back"
    if any(s.server == server and s.leaving for s in plan.servers):
        kept = plan.after.server(server)
        change = "is removed from system.yaml" if kept is None else f"becomes a {kept.role} server in system.yaml"
        return f"{change} anyway, with nothing on it cleaned"
    cluster = plan.after.cluster_of_server(server)
    return f"takes generation {cluster.generation} from its peers when it is back" if cluster else "left as it is"
