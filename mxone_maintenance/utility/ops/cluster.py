"""Plans for the cluster actions of DESIGN §4: each `plan_*(system, request, ...) -> Plan` is pure.

A plan checks every rule before it is returned (RuleViolation otherwise), so nothing that breaks a rule
ever reaches a server.
"""
from __future__ import annotations

from dataclasses import replace

from mxone_maintenance.core import paths
from mxone_maintenance.core.config import dump_cluster
from mxone_maintenance.core.contracts.sync_keys import SYNC_MARKER, authorized_keys_line, sync_keypair_from_cluster_key
from mxone_maintenance.core.model import (
    DEFAULT_DETECT_S,
    DEFAULT_HEARTBEAT_S,
    DEFAULT_PRIORITY,
    Cluster,
    ClusterLim,
    StandbyRef,
    System,
)
from mxone_maintenance.core.rules import enforce, nothing_on_standby, preload_kept, refusal, system_errors
from mxone_maintenance.utility.ops.plan import (
    MediaServerCheck,
    AddAddress,
    AllowSyncKey,
    DiskCheck,
    DropSyncKey,
    OrderAgent,
    Plan,
    PruneXdata,
    RemoveAddress,
    RemoveFile,
    ServerPlan,
    SetBootAddress,
    Step,
    WriteClusterHostKeys,
    WriteFile,
)
from mxone_maintenance.utility.ops.requests import (
    AddLim,
    ChangeCluster,
    CreateCluster,
    DeleteCluster,
    LimSpec,
    LockLim,
    PreloadCluster,
    RemoveLim,
    RequestError,
    RuntimeFacts,
    UnlockLim,
    name_problem,
    resolve_base,
)

CLUSTER_FILE = str(paths.CLUSTER_FILE)
CLUSTER_KEY = str(paths.CLUSTER_KEY)
SYNC_KEY = str(paths.SYNC_KEY)
CLUSTER_KNOWN_HOSTS = str(paths.CLUSTER_KNOWN_HOSTS)


def _checked(after: System) -> System:
    enforce(system_errors(after))
    return after


def find_cluster(system: System, name: str) -> Cluster:
    cluster = system.cluster(name)
    if cluster is None:
        known = ", ".join(c.name for c in system.clusters) or "none"
        raise refusal("unknown-cluster", f"no cluster named {name} (clusters: {known})")
    return cluster


def find_cluster_of_lim(system: System, lim: int) -> Cluster:
    cluster = system.cluster_of_lim(lim)
    if cluster is None:
        raise refusal("lim-not-clustered", f"LIM {lim} is in no cluster")
    return cluster


def config_file(cluster: Cluster) -> WriteFile:
    return WriteFile(CLUSTER_FILE, dump_cluster(cluster).encode(), 0o644, note=f"generation {cluster.generation}")


def key_files(key: bytes, cluster: Cluster) -> tuple[Step, ...]:
    """The heartbeat key, and the data-sync key derived from it with its restricted authorized_keys entry
    (only from the members' base addresses)."""
    private, _ = sync_keypair_from_cluster_key(key)
    return (WriteFile(CLUSTER_KEY, key, 0o600, note="heartbeat key, mode 0600"),
            WriteFile(SYNC_KEY, private, 0o600, note="data-sync key, mode 0600"),
            AllowSyncKey(sync_key_line(key, cluster)))


def sync_key_line(key: bytes, cluster: Cluster) -> str:
    """The same authorized_keys line on every member: from the members' base addresses only."""
    _, public = sync_keypair_from_cluster_key(key)
    return authorized_keys_line(public, members=[str(cluster.base_of(name).ip) for name in cluster.member_names])


def host_keys(cluster: Cluster) -> WriteClusterHostKeys:
    return WriteClusterHostKeys(CLUSTER_KNOWN_HOSTS, cluster.member_names)


def leaving_files() -> tuple[Step, ...]:
    return (RemoveFile(CLUSTER_FILE), RemoveFile(CLUSTER_KEY), RemoveFile(SYNC_KEY), RemoveFile(CLUSTER_KNOWN_HOSTS),
            DropSyncKey(SYNC_MARKER))


def address_of(system: System, name: str) -> str:
    return str(system.management_address(name).ip)


def original_address(system: System, name: str) -> str:
    """The server's own address: used while its new base address is being added or removed."""
    server = system.server(name)
    assert server is not None
    return str(server.address.ip)


def _cluster_lim(system: System, spec: LimSpec, cluster_name: str) -> ClusterLim:
    server = system.server_with_lim(spec.lim)
    if server is None:
        raise refusal("unknown-lim", f"no server in the system has LIM {spec.lim}")
    other = system.cluster_of_server(server.name)
    if other is not None and other.name != cluster_name:
        raise refusal("one-cluster", f"LIM server {server.name} already belongs to cluster {other.name}")
    try:
        base = resolve_base(spec.base, server.address)
    except RequestError as err:
        raise refusal("bad-address", str(err)) from None
    return ClusterLim(lim=spec.lim, server=server.name, base=base, alias=server.address,
                      priority=DEFAULT_PRIORITY if spec.priority is None else spec.priority)


def joining_steps(item: ClusterLim, cluster: Cluster, key: bytes) -> tuple[Step, ...]:
    return (AddAddress(item.base, cluster.interface, note=f"{item.alias} stays as the alias of LIM {item.lim}"),
            SetBootAddress(cluster.interface, old=item.alias, new=item.base), config_file(cluster),
            *key_files(key, cluster), host_keys(cluster), PruneXdata())


def standby_joining_steps(cluster: Cluster, key: bytes) -> tuple[Step, ...]:
    return (config_file(cluster), *key_files(key, cluster), host_keys(cluster), PruneXdata())


def staying_steps(cluster: Cluster, key: bytes | None = None) -> tuple[Step, ...]:
    """A member that stays gets the new cluster.yaml and the members' host keys; with `key` (a member
    joins) also the sync key's line naming the new member in from=. A member that leaves may stay named
    there: agent/sync_serve.py hands nothing to a server its cluster.yaml does not list."""
    sync_line = (AllowSyncKey(sync_key_line(key, cluster)),) if key is not None else ()
    return (config_file(cluster), *sync_line, host_keys(cluster), PruneXdata())


def standby_leaving_steps() -> tuple[Step, ...]:
    return (*leaving_files(), PruneXdata())


def _disk_check(cluster: Cluster) -> DiskCheck:
    return DiskCheck(cluster.standby.server, tuple(item.server for item in cluster.lims))


def _plan_for_members(system: System, cluster: Cluster, steps: tuple[Step, ...]) -> tuple[ServerPlan, ...]:
    return tuple(ServerPlan(name, address_of(system, name), steps) for name in cluster.member_names)


# --- create ------------------------------------------------------------------------------------

def plan_create(system: System, request: CreateCluster, key: bytes) -> Plan:
    problem = name_problem(request.name, "cluster name")
    if problem:
        raise refusal("bad-name", problem)
    if system.cluster(request.name) is not None:
        raise refusal("cluster-exists", f"a cluster named {request.name} already exists")
    if system.server(request.standby) is None:
        raise refusal("unknown-server", f"no server named {request.standby} in the system")
    numbers = [spec.lim for spec in request.lims]
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    if twice:
        raise refusal("lim-twice", f"LIM {twice[0]} is given twice")
    standby = system.server(request.standby)
    other = system.cluster_of_server(standby.name)
    if other is not None:
        raise refusal("one-cluster", f"standby server {standby.name} already belongs to cluster {other.name}")
    cluster = Cluster(
        name=request.name,
        standby=StandbyRef(standby.name, standby.address),
        lims=tuple(_cluster_lim(system, spec, request.name) for spec in request.lims),
        generation=1,
        fallback=request.fallback,
        detect_s=request.detect_s if request.detect_s is not None else DEFAULT_DETECT_S["normal"],
        heartbeat_s=request.heartbeat_s if request.heartbeat_s is not None else DEFAULT_HEARTBEAT_S,
        hold_s=request.hold_s,
    )
    after = _checked(system.replace_cluster(cluster))
    servers = tuple(ServerPlan(item.server, original_address(system, item.server), joining_steps(item, cluster, key))
                    for item in cluster.lims)
    standby_plan = ServerPlan(standby.name, str(standby.address.ip), standby_joining_steps(cluster, key))
    lims = ", ".join(str(item.lim) for item in cluster.lims)
    return Plan(action="cluster create",
                title=f"create cluster {cluster.name}: LIM {lims} with standby {standby.name}",
                before=system, after=after, servers=servers + (standby_plan,),
                checks=("every server answers over SSH with its pinned host key",),
                disk_check=_disk_check(cluster), media_check=_media_check(cluster.lims),
                system_change=f"cluster {cluster.name} added (generation 1)",
                secrets={cluster.name: key})


# --- change, preload, lock, unlock: a new generation of cluster.yaml on every member -----------------

def _new_generation_plan(system: System, before: Cluster, after_cluster: Cluster, action: str, title: str,
                         prune: bool) -> Plan:
    enforce(preload_kept(before, after_cluster))
    after = _checked(system.replace_cluster(after_cluster))
    steps: tuple[Step, ...] = (config_file(after_cluster),) + ((PruneXdata(),) if prune else ())
    return Plan(action=action, title=title, before=system, after=after,
                servers=_plan_for_members(system, after_cluster, steps),
                system_change=f"cluster {after_cluster.name} now generation {after_cluster.generation}")


def plan_change(system: System, request: ChangeCluster) -> Plan:
    cluster = find_cluster(system, request.name)
    if request.fallback is None and not request.priorities and request.detect_s is None and request.hold_s is None:
        raise refusal("nothing-to-change", "nothing to change: give --fallback, --priority, --detect-s or --hold-s")
    changed = cluster
    what = []
    if request.fallback is not None and request.fallback != cluster.fallback:
        changed = replace(changed, fallback=request.fallback)
        what.append(f"fallback {request.fallback}")
    for lim, priority in request.priorities:
        if cluster.lim(lim) is None:
            raise refusal("lim-not-in-cluster", f"LIM {lim} is not in cluster {cluster.name}")
        changed = changed.with_lim(lim, priority=priority)
        what.append(f"LIM {lim} priority {priority}")
    if request.detect_s is not None:
        changed = replace(changed, detect_s=request.detect_s)
        what.append(f"detect_s {request.detect_s:g}")
    if request.hold_s is not None:
        changed = replace(changed, hold_s=request.hold_s)
        what.append(f"hold_s {request.hold_s:g}")
    if changed == cluster:
        raise refusal("nothing-to-change", f"nothing to change: cluster {cluster.name} already has these settings")
    changed = changed.next_generation()
    return _new_generation_plan(system, cluster, changed, "cluster change",
                                f"change cluster {cluster.name}: {', '.join(what)}", prune=True)


def plan_preload(system: System, request: PreloadCluster) -> Plan:
    cluster = find_cluster(system, request.name)
    if cluster.failover == "preloaded":
        raise refusal("already-preloaded", f"cluster {cluster.name} is already preloaded")
    detect = cluster.detect_s
    if detect == DEFAULT_DETECT_S["normal"]:  # the normal default becomes the preloaded default, but never
        detect = max(DEFAULT_DETECT_S["preloaded"], 3 * cluster.heartbeat_s)  # below three heartbeats
    changed = cluster.next_generation(failover="preloaded", detect_s=detect)
    return _new_generation_plan(system, cluster, changed, "cluster preload",
                                f"make cluster {cluster.name} preloaded (the standby runs LIM "
                                f"{cluster.lims[0].lim} with the alias blocked)", prune=True)


def plan_lock(system: System, request: LockLim) -> Plan:
    if request.to not in ("regular", "standby"):
        raise refusal("bad-lock", f"a LIM is locked to regular or standby (got {request.to!r})")
    cluster = find_cluster_of_lim(system, request.lim)
    if cluster.lim(request.lim).lock == request.to:
        raise refusal("already-locked", f"LIM {request.lim} is already locked to the {request.to} server")
    changed = cluster.with_lim(request.lim, lock=request.to).next_generation()
    return _new_generation_plan(system, cluster, changed, "cluster lock",
                                f"lock LIM {request.lim} to the {request.to} server", prune=False)


def plan_unlock(system: System, request: UnlockLim) -> Plan:
    cluster = find_cluster_of_lim(system, request.lim)
    if cluster.lim(request.lim).lock is None:
        raise refusal("not-locked", f"LIM {request.lim} is not locked")
    changed = cluster.with_lim(request.lim, lock=None).next_generation()
    return _new_generation_plan(system, cluster, changed, "cluster unlock",
                                f"unlock LIM {request.lim} (fallback {cluster.fallback})", prune=False)


# --- add and remove LIMs, delete ---------------------------------------------------------------------

def plan_add_lim(system: System, request: AddLim, key: bytes) -> Plan:
    cluster = find_cluster(system, request.name)
    if cluster.lim(request.lim.lim) is not None:
        raise refusal("lim-in-cluster", f"LIM {request.lim.lim} is already in cluster {cluster.name}")
    item = _cluster_lim(system, request.lim, cluster.name)
    changed = cluster.next_generation(lims=cluster.lims + (item,))
    after = _checked(system.replace_cluster(changed))
    servers = _plan_for_members(system, cluster, staying_steps(changed, key))
    joining = ServerPlan(item.server, original_address(system, item.server), joining_steps(item, changed, key))
    return Plan(action="cluster add-lim", title=f"add LIM {item.lim} ({item.server}) to cluster {cluster.name}",
                before=system, after=after, servers=servers + (joining,),
                checks=(f"{item.server} answers over SSH with its pinned host key",),
                disk_check=_disk_check(changed), media_check=_media_check((item,)),
                system_change=f"cluster {cluster.name} now generation {changed.generation}")


def _refuse_if_on_standby(cluster: Cluster, lims: list[int], facts: RuntimeFacts, doing: str) -> tuple[str, ...]:
    if not facts.known:
        return (f"no LIM of cluster {cluster.name} runs on the standby (asked from the agents)",)
    enforce(nothing_on_standby(cluster, lims, facts.on_standby, doing))
    return ()


def leaving_steps(item: ClusterLim, cluster: Cluster) -> tuple[Step, ...]:
    return leaving_steps_on(item, cluster.interface)


def leaving_steps_on(item: ClusterLim, interface: str) -> tuple[Step, ...]:
    return (*leaving_files(), PruneXdata(),
            SetBootAddress(interface, old=item.base, new=item.alias, required=False),
            RemoveAddress(item.base, interface))


def plan_remove_lim(system: System, request: RemoveLim, facts: RuntimeFacts) -> Plan:
    cluster = find_cluster(system, request.name)
    item = cluster.lim(request.lim)
    if item is None:
        raise refusal("lim-not-in-cluster", f"LIM {request.lim} is not in cluster {cluster.name}")
    if len(cluster.lims) == 1:
        plan = plan_delete(system, DeleteCluster(cluster.name), facts)
        return replace(plan, action="cluster remove-lim",
                       title=f"remove LIM {request.lim}, the last LIM of cluster {cluster.name}: "
                             f"this deletes the cluster")
    # SCENARIOS row 22: refused while any LIM of the cluster runs on the standby, not only this one; the
    # one exception: this LIM, when its regular is dead (--allow-down): it stops on the standby
    stops = facts.known and request.lim in facts.on_standby and item.server in request.allow_down
    others = [i.lim for i in cluster.lims if not (stops and i.lim == request.lim)]
    checks = _refuse_if_on_standby(cluster, others, facts, f"remove LIM {request.lim}")
    changed = cluster.next_generation(lims=tuple(i for i in cluster.lims if i.lim != request.lim))
    after = _checked(system.replace_cluster(changed))
    staying = _plan_for_members(system, changed, staying_steps(changed))
    leaving = ServerPlan(item.server, original_address(system, item.server), leaving_steps(item, cluster),
                         must_be_down=stops)
    title = f"remove LIM {item.lim} ({item.server}) from cluster {cluster.name}"
    if stops:
        title += f"; LIM {item.lim} STOPS: it runs on the standby {cluster.standby.server} and {item.server} is down"
        checks += (f"{item.server} does not answer (its part waits for `cluster finish` when it is back)",)
    return Plan(action="cluster remove-lim", title=title, before=system, after=after, servers=staying + (leaving,),
                checks=checks, system_change=f"cluster {cluster.name} now generation {changed.generation}")


def plan_delete(system: System, request: DeleteCluster, facts: RuntimeFacts) -> Plan:
    cluster = find_cluster(system, request.name)
    checks = _refuse_if_on_standby(cluster, [i.lim for i in cluster.lims], facts, f"delete cluster {cluster.name}")
    servers = tuple(ServerPlan(item.server, original_address(system, item.server), leaving_steps(item, cluster))
                    for item in cluster.lims)
    standby = ServerPlan(cluster.standby.server, str(cluster.standby.base.ip), standby_leaving_steps())
    return Plan(action="cluster delete", title=f"delete cluster {cluster.name}; each LIM keeps running on its server",
                before=system, after=system.without_cluster(cluster.name), servers=servers + (standby,),
                checks=checks, system_change=f"cluster {cluster.name} removed")


# --- orders to the agents --------------------------------------------------------------------------

def _media_check(lims) -> MediaServerCheck:
    return MediaServerCheck(tuple((item.server, item.lim, str(item.alias.ip)) for item in lims))


def plan_fallback(system: System, lim: int, facts: RuntimeFacts) -> Plan:
    cluster = find_cluster_of_lim(system, lim)
    if facts.known and lim not in facts.on_standby:
        raise refusal("not-on-standby", f"LIM {lim} does not run on the standby server; nothing to move back")
    regular = cluster.lim(lim).server
    order = OrderAgent(("fallback", str(lim)), note=f"order fallback of LIM {lim} to {regular}")
    # the order concerns the standby that hands the LIM back and the regular that takes it, no one else
    concerned = (cluster.standby.server, regular)
    return Plan(action="cluster fallback", title=f"move LIM {lim} from the standby back to {regular}",
                before=system, after=system,
                servers=tuple(ServerPlan(name, address_of(system, name), (order,)) for name in concerned))


def plan_sync(system: System, name: str) -> Plan:
    cluster = find_cluster(system, name)
    order = OrderAgent(("sync",), note="order an exchange-data sync")
    return Plan(action="cluster sync", title=f"sync exchange data within cluster {cluster.name}",
                before=system, after=system,
                servers=(ServerPlan(cluster.standby.server, address_of(system, cluster.standby.server), (order,)),))
