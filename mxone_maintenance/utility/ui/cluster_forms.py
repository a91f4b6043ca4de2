"""The Cluster handling forms: choices from lists, typed values checked by the command line's parsers,
and the plan from ops/cluster.py. What needs the servers (a cluster key, what runs on the standby)
is fetched only after Apply, in the worker (`Proposal.final`, ops/proposals.py)."""
from __future__ import annotations

import time

import urwid

from mxone_maintenance.core.model import DEFAULT_PRIORITY, Cluster, Server
from mxone_maintenance.utility.ops import cluster as ops
from mxone_maintenance.utility.ops import proposals
from mxone_maintenance.utility.ops.cluster_keys import new_cluster_key
from mxone_maintenance.utility.ops.proposals import Proposal
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
    UnlockLim,
    parse_name,
)
from mxone_maintenance.utility.ui.availability import free_lim_servers, free_standbys, preloadable
from mxone_maintenance.utility.ui.choices import (
    base_parser,
    cluster_label,
    clustered_lim_options,
    next_cluster_name,
    priority_parser,
    seconds_parser,
    server_label,
)
from mxone_maintenance.utility.ui.fields import ChoiceField, Invalid, Message, TextField
from mxone_maintenance.utility.ui.forms import ActionEnv, Form


class _ClusterChoice(Form):
    """A form that starts with the choice of a cluster (re-laid out when it changes)."""

    def cluster_names(self) -> list[str]:
        return [c.name for c in self.system.clusters]

    def choose_cluster(self) -> ChoiceField:
        if not hasattr(self, "_cluster_choice"):
            names = self.cluster_names()
            self._cluster_choice = ChoiceField("Cluster", [(n, cluster_label(self.system.cluster(n))) for n in names],
                                               on_change=lambda _v: self.relayout())
        return self._cluster_choice

    @property
    def cluster(self) -> Cluster:
        return self.system.cluster(self.choose_cluster().value)


class CreateClusterForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        system = env.system
        self.name = TextField("Cluster name:       ", next_cluster_name(system),
                              lambda t: parse_name(t, "cluster name"))
        self.standby = ChoiceField("Standby server", [(s.name, server_label(s)) for s in free_standbys(system)])
        self.servers: list[Server] = free_lim_servers(system)
        self.ticks = {s.lim: urwid.CheckBox(server_label(s)) for s in self.servers}
        for tick in self.ticks.values():
            urwid.connect_signal(tick, "postchange", lambda *_: self.relayout())
        self.bases = {s.lim: TextField("New base address: ", "", base_parser(s)) for s in self.servers}
        self.priorities = {s.lim: TextField("Priority:         ", str(DEFAULT_PRIORITY), priority_parser(s.lim))
                           for s in self.servers}
        self.lim_error = Message()
        self.fallback = ChoiceField("Fallback", [("automatic", "automatic (back to the regular server when it is up)"),
                                                 ("manual", "manual (only when ordered)")])
        self.detect = TextField("Detection time (s): ", "60", seconds_parser("detection time", 0.3, 3600))
        self.heartbeat = TextField("Heartbeat (s):      ", "1", seconds_parser("heartbeat interval", 0.1, 60))
        super().__init__("Create new cluster in system", env)

    def chosen(self) -> list[Server]:
        return [s for s in self.servers if self.ticks[s.lim].state]

    def fields(self) -> list[urwid.Widget]:
        rows: list[urwid.Widget] = [self.name, urwid.Divider(), self.standby, urwid.Divider(),
                                    urwid.Text(("label", "LIMs in the cluster (tick each; lower priority value = "
                                                         "first on the standby)"))]
        for server in self.servers:
            rows.append(urwid.Padding(urwid.AttrMap(self.ticks[server.lim], "choice", "choice focus"), left=2))
            if self.ticks[server.lim].state:
                rows += [urwid.Padding(self.bases[server.lim], left=6),
                         urwid.Padding(self.priorities[server.lim], left=6)]
        rows += [self.lim_error, urwid.Divider(), self.fallback, urwid.Divider(), self.detect, self.heartbeat]
        return rows

    def propose(self) -> Proposal:
        chosen = self.chosen()
        self.lim_error.show(None if chosen else "  ! Choose at least one LIM")
        typed = [f for s in chosen for f in (self.bases[s.lim], self.priorities[s.lim])]
        name, detect, heartbeat, *lim_values = self.values(self.name, self.detect, self.heartbeat, *typed)
        if not chosen:
            raise Invalid("choose at least one LIM")
        specs = tuple(LimSpec(s.lim, lim_values[2 * i], lim_values[2 * i + 1]) for i, s in enumerate(chosen))
        request = CreateCluster(name=name, standby=self.standby.value, lims=specs, fallback=self.fallback.value,
                                detect_s=detect, heartbeat_s=heartbeat)
        return Proposal(ops.plan_create(self.system, request, new_cluster_key()))


class ChangeClusterForm(_ClusterChoice):
    def __init__(self, env: ActionEnv) -> None:
        self._fallbacks: dict[str, ChoiceField] = {}
        self._priorities: dict[tuple[str, int], TextField] = {}
        self._detects: dict[str, TextField] = {}
        super().__init__("Change fallback type or priority", env)

    def _fields_of(self, cluster: Cluster) -> tuple[ChoiceField, list[TextField], TextField]:
        if cluster.name not in self._fallbacks:
            self._fallbacks[cluster.name] = ChoiceField("Fallback", [("automatic", "automatic"), ("manual", "manual")],
                                                        selected=cluster.fallback)
            self._detects[cluster.name] = TextField("Detection time (s): ", f"{cluster.detect_s:g}",
                                                    seconds_parser("detection time", 0.3, 3600))
            for item in cluster.lims:
                self._priorities[(cluster.name, item.lim)] = TextField(
                    f"Priority of LIM {item.lim} ({item.server}): ", str(item.priority), priority_parser(item.lim))
        priorities = [self._priorities[(cluster.name, item.lim)] for item in cluster.lims]
        return self._fallbacks[cluster.name], priorities, self._detects[cluster.name]

    def fields(self) -> list[urwid.Widget]:
        fallback, priorities, detect = self._fields_of(self.cluster)
        return [self.choose_cluster(), urwid.Divider(), fallback, urwid.Divider(), *priorities, urwid.Divider(),
                detect]

    def propose(self) -> Proposal:
        cluster = self.cluster
        fallback, priority_fields, detect_field = self._fields_of(cluster)
        detect, *priorities = self.values(detect_field, *priority_fields)
        changed = tuple((item.lim, p) for item, p in zip(cluster.lims, priorities, strict=True) if p != item.priority)
        request = ChangeCluster(name=cluster.name, fallback=fallback.value, priorities=changed,
                                detect_s=None if detect == cluster.detect_s else detect)
        return Proposal(ops.plan_change(self.system, request))


class PreloadForm(_ClusterChoice):
    def __init__(self, env: ActionEnv) -> None:
        super().__init__("Change failover behavior to preloaded", env)

    def cluster_names(self) -> list[str]:
        return preloadable(self.system)

    def fields(self) -> list[urwid.Widget]:
        return [self.choose_cluster(), urwid.Divider(),
                urwid.Text(("hint", "Preloaded: the standby runs the LIM too, with its alias blocked, and takes "
                                    "over faster. It is removed only by deleting the cluster."))]

    def propose(self) -> Proposal:
        return Proposal(ops.plan_preload(self.system, PreloadCluster(self.cluster.name)))


class AddLimForm(_ClusterChoice):
    def __init__(self, env: ActionEnv) -> None:
        self.servers = free_lim_servers(env.system)
        self.bases = {s.lim: TextField("New base address: ", "", base_parser(s)) for s in self.servers}
        self.priorities = {s.lim: TextField("Priority:         ", str(DEFAULT_PRIORITY), priority_parser(s.lim))
                           for s in self.servers}
        self.lim = ChoiceField("LIM to add", [(s.lim, server_label(s)) for s in self.servers],
                               on_change=lambda _v: self.relayout())
        super().__init__("Add a LIM to existing cluster", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.choose_cluster(), urwid.Divider(), self.lim, urwid.Divider(), self.bases[self.lim.value],
                self.priorities[self.lim.value]]

    def propose(self) -> Proposal:
        lim = self.lim.value
        base, priority = self.values(self.bases[lim], self.priorities[lim])
        return proposals.propose_add_lim(self.system, AddLim(self.cluster.name, LimSpec(lim, base, priority)))


class RemoveLimForm(_ClusterChoice):
    def __init__(self, env: ActionEnv) -> None:
        self._lims: dict[str, ChoiceField] = {}
        super().__init__("Remove a LIM from existing cluster", env)

    def lim_choice(self) -> ChoiceField:
        cluster = self.cluster
        if cluster.name not in self._lims:
            self._lims[cluster.name] = ChoiceField("LIM to remove", [
                (item.lim, f"LIM {item.lim} on {item.server}") for item in cluster.lims])
        return self._lims[cluster.name]

    def fields(self) -> list[urwid.Widget]:
        return [self.choose_cluster(), urwid.Divider(), self.lim_choice()]

    def propose(self) -> Proposal:
        return proposals.propose_remove_lim(self.system, RemoveLim(self.cluster.name, self.lim_choice().value))


class DeleteClusterForm(_ClusterChoice):
    def __init__(self, env: ActionEnv) -> None:
        super().__init__("Delete cluster in system", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.choose_cluster(), urwid.Divider(),
                urwid.Text(("hint", "Each LIM keeps running on its own server; the standby is freed."))]

    def propose(self) -> Proposal:
        return proposals.propose_delete(self.system, DeleteCluster(self.cluster.name))


class FallbackForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.lim = ChoiceField("LIM to move back to its regular server", clustered_lim_options(env.system))
        super().__init__("Move LIM from standby to regular server", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.lim]

    def propose(self) -> Proposal:
        return proposals.propose_fallback(self.system, self.lim.value)


class LockForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.lim = ChoiceField("LIM to lock", clustered_lim_options(env.system))
        self.to = ChoiceField("Lock to", [("regular", "regular server (never moves to the standby)"),
                                          ("standby", "standby server (runs on the standby)")])
        super().__init__("Lock LIM to server", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.lim, urwid.Divider(), self.to]

    def propose(self) -> Proposal:
        return Proposal(ops.plan_lock(self.system, LockLim(self.lim.value, self.to.value)))


class UnlockForm(Form):
    def __init__(self, env: ActionEnv) -> None:
        self.lim = ChoiceField("LIM to unlock", clustered_lim_options(env.system, only_locked=True))
        super().__init__("Unlock LIM from server", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.lim]

    def propose(self) -> Proposal:
        return Proposal(ops.plan_unlock(self.system, UnlockLim(self.lim.value)))


class SyncForm(_ClusterChoice):
    def __init__(self, env: ActionEnv) -> None:
        super().__init__("Sync exchange data within cluster", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.choose_cluster()]

    def propose(self) -> Proposal:
        return Proposal(ops.plan_sync(self.system, self.cluster.name))


def minutes_parser(text: str) -> float:
    """A number of minutes; its range is plan_pause's rule (ops/maintenance.py), checked on Show plan."""
    try:
        return float(text.strip())
    except ValueError:
        raise RequestError(f"minutes must be a number, e.g. 60 (got {text.strip()!r})") from None


class PauseForm(_ClusterChoice):
    """Maintenance mode: the plan is made again after Apply with what the agents say, and refused there
    while a LIM is on the move (proposals.propose_pause)."""

    def __init__(self, env: ActionEnv) -> None:
        self.minutes = TextField("Minutes: ", "60", minutes_parser)
        super().__init__("Pause cluster (maintenance mode)", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.choose_cluster(), urwid.Divider(), self.minutes, urwid.Divider(),
                urwid.Text(("hint", "Every agent keeps serving what it serves and takes no decision (no takeover, "
                                    "no fallback) until the minutes are over or the cluster is resumed."))]

    def propose(self) -> Proposal:
        (minutes,) = self.values(self.minutes)
        return proposals.propose_pause(self.system, self.cluster.name, minutes, time.time())


class ResumeForm(_ClusterChoice):
    def __init__(self, env: ActionEnv) -> None:
        super().__init__("Resume cluster", env)

    def fields(self) -> list[urwid.Widget]:
        return [self.choose_cluster(), urwid.Divider(),
                urwid.Text(("hint", "Every agent decides again by the cluster's rules (a pause ends early)."))]

    def propose(self) -> Proposal:
        from mxone_maintenance.utility.ops.maintenance import plan_resume
        return Proposal(plan_resume(self.system, self.cluster.name, time.time()))
