"""What apply asks the servers before anything changes: who answers and which cluster.yaml each holds,
who may be left out (`--allow-down`), whether a joining server runs our cluster agent, and whether the
standby has disk for the data backups."""
from __future__ import annotations

import re
from dataclasses import dataclass

from mxone_maintenance.core import config
from mxone_maintenance.core import paths as product_paths
from mxone_maintenance.core.model import Cluster
from mxone_maintenance.utility.ops.agent_check import AgentMissing, require_agent
from mxone_maintenance.utility.ops.plan import (
    AgentCheck,
    CleanStaged,
    DiskCheck,
    MediaServerCheck,
    Plan,
    PruneXdata,
    WriteClusterHostKeys,
    WriteFile,
    catch_up_words,
)
from mxone_maintenance.utility.remote.fleet import Fleet
from mxone_maintenance.utility.remote.ssh import Connection

XDATA_DIR = str(product_paths.XDATA_DIR)
XDATA_NAME = re.compile(r"^xdata_(\d+)_(\d{14})$")
CLUSTER_FILE = str(product_paths.CLUSTER_FILE)


@dataclass(frozen=True)
class Refusal:
    """A check that failed before anything changed: which server, and the line to show."""
    server: str
    message: str
    can_wait: bool = False      # a server down whose part can wait: allowing it down would go on


@dataclass(frozen=True)
class Survey:
    """Each server that does not answer (with why), and what each that does holds as cluster.yaml
    (None: no file, or one it cannot use)."""
    down: dict[str, str]
    held: dict[str, Cluster | None]


def _held_cluster(conn: Connection) -> Cluster | None:
    data = conn.read_file(CLUSTER_FILE)
    if data is None:
        return None
    try:
        return config.parse_cluster(data.decode(errors="replace"), f"{conn.host.name}:{CLUSTER_FILE}")
    except config.FileError:
        return None             # an invalid file: the agent alarms; the change replaces it


def survey(fleet: Fleet) -> Survey:
    outcomes = fleet.each(_held_cluster)
    return Survey(down={o.host: o.error for o in outcomes.values() if not o.ok},
                  held={o.host: o.value for o in outcomes.values() if o.ok})


# --- members down -------------------------------------------------------------------------------------

def _catches_up(step) -> bool:
    """What an agent takes from its peers when it is back: cluster.yaml (their host keys and the xdata
    pruning can wait for the next change, and so can removing what an interrupted run left staged).
    Addresses, keys and network files cannot wait."""
    return (isinstance(step, WriteFile) and step.path == CLUSTER_FILE) or \
        isinstance(step, (WriteClusterHostKeys, PruneXdata, CleanStaged))


def skip_down(plan: Plan, down: dict[str, str], allow_down: frozenset[str]) -> tuple[dict, Refusal | None]:
    """The servers to leave out (allowed down, and their part can wait), or the refusal. A server whose
    LIM stops because it is down (ServerPlan.must_be_down) must not answer, and its part waits. One that
    leaves (ServerPlan.leaving) may be left out uncleaned: nothing of a cluster waits for it."""
    steps = {s.server: s.steps for s in plan.servers if s.steps and not s.leaving}
    dead = {s.server: s for s in plan.servers if s.must_be_down}
    for server in dead:
        if server not in down:
            return {}, Refusal(server, f"{server} answers: its LIM runs on the standby; move it back first "
                                       f"(cluster fallback), then remove it")
    for server, error in down.items():
        if server in dead and server in allow_down:
            continue
        waiting = [step.describe() for step in steps.get(server, ()) if not _catches_up(step)]
        if server not in allow_down:
            return {}, Refusal(server, error, can_wait=not waiting)
        if waiting:
            return {}, Refusal(server, f"{error}; its part of this change cannot wait for it: {waiting[0]}")
    return {server: ("not answering: its part waits for `cluster finish` when it is back" if server in dead
                     else f"not answering: {catch_up_words(plan, server)}") for server in down}, None


# --- the cluster agent -----------------------------------------------------------------------------------

def _agent_problem(conn: Connection) -> str | None:
    try:
        require_agent(conn)
    except AgentMissing as err:
        return str(err)
    return None


def check_agents(fleet: Fleet, check: AgentCheck) -> Refusal | None:
    for outcome in fleet.each(_agent_problem, list(check.servers)).values():
        if not outcome.ok or outcome.value:
            return Refusal(outcome.host, outcome.error or outcome.value)
    return None


# --- disk -----------------------------------------------------------------------------------------------

def versions_oldest_first(names: list[str]) -> list[str]:
    """xdata version folders sorted oldest first."""
    return sorted((n for n in names if XDATA_NAME.match(n)), key=lambda n: XDATA_NAME.match(n).group(2))


def listdir_or_empty(conn: Connection, path: str) -> list[str]:
    return conn.listdir(path) if conn.exists(path) else []


def _newest_xdata_size(conn: Connection) -> int:
    versions = versions_oldest_first(listdir_or_empty(conn, XDATA_DIR))
    if not versions:
        return 0
    out = conn.run(["du", "-sb", "--", f"{XDATA_DIR}/{versions[-1]}"]).stdout
    return int(out.split()[0])


def _free_bytes(conn: Connection) -> int:
    target = str(product_paths.VAR) if conn.exists(str(product_paths.VAR)) else "/"
    out = conn.run(["df", "-B1", "--output=avail", target]).stdout.split()
    return int(out[-1])


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e7 else f"{size / 1e6:.1f} MB"


def check_disk(fleet: Fleet, check: DiskCheck) -> Refusal | None:
    sizes = fleet.each(_newest_xdata_size, list(check.regulars))
    failed = [o for o in sizes.values() if not o.ok]
    if failed:
        return Refusal(failed[0].host, failed[0].error)
    need = 2 * sum(o.value for o in sizes.values())
    free = fleet.each(_free_bytes, [check.standby])[check.standby]
    if not free.ok:
        return Refusal(check.standby, free.error)
    if free.value < need:
        return Refusal(check.standby, f"{check.standby}: not enough free disk for two data backups of each "
                                      f"regular ({_gb(free.value)} free, {_gb(need)} needed)")
    return None


def _media_addresses(conn: Connection) -> dict | None:
    """What the server's agent reads of its MX-ONE configuration (`mxone-cluster-agent media-server`)."""
    import json
    from mxone_maintenance.utility.ops.agent_command import agent_command
    done = conn.run([agent_command(), "media-server", "--json"], check=False, timeout=20)
    try:
        return json.loads(done.stdout) if done.exit_status == 0 else None
    except ValueError:
        return None


def check_media_servers(fleet: Fleet, check: MediaServerCheck) -> Refusal | None:
    wanted = {server: (lim, alias) for server, lim, alias in check.lims}
    outcomes = fleet.each(_media_addresses, list(wanted))
    for server, outcome in outcomes.items():
        found = outcome.value if outcome.ok else None
        if not found or not found.get("configured"):
            continue                         # no co-located Media Server there
        lim, alias = wanted[server]
        control, media = found.get("control"), found.get("media")
        if control != alias or media != alias:
            return Refusal(server, f"the Media Server on {server} binds control {control} and media {media}, not "
                                   f"LIM {lim}'s alias {alias}: it would not move with the LIM; set both to "
                                   "the alias in its MX-ONE configuration first")
    return None
