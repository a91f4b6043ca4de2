"""Action names used in the menu data -> the screen each one opens."""
from __future__ import annotations

from collections.abc import Callable

from mxone_maintenance.utility.ops.views import clusters_text, servers_text
from mxone_maintenance.utility.ui import cluster_forms, replace_form, system_forms
from mxone_maintenance.utility.ui.forms import ActionEnv
from mxone_maintenance.utility.ui.history_screen import HistoryScreen
from mxone_maintenance.utility.ui.recent_events import EventsMemo, gather, snapshot_rows
from mxone_maintenance.utility.ui.screens import Screen, TextScreen
from mxone_maintenance.utility.ui.status_screen import StatusScreen
from mxone_maintenance.utility.ui.worker import Runtime

Factory = Callable[[ActionEnv, Runtime], Screen]
EXIT = "exit"


def _status(env: ActionEnv, runtime: Runtime) -> Screen:
    memo = EventsMemo()                  # the recent events, read again at most every 30 s

    def collect():
        from mxone_maintenance.utility.ops.status import for_status  # paramiko loads only here, in the worker
        return gather(env.system, for_status(env.ssh_settings()), memo, env.local_agent)
    return StatusScreen(collect, runtime, rows=snapshot_rows)


def _history(env: ActionEnv, runtime: Runtime) -> Screen:
    def collect():
        from mxone_maintenance.utility.ops.history import collect_history  # paramiko loads only here
        from mxone_maintenance.utility.ops.status import for_status
        return collect_history(env.system, for_status(env.ssh_settings()))
    return HistoryScreen(collect, runtime)


def _form(cls) -> Factory:
    return lambda env, _runtime: cls(env)


ACTIONS: dict[str, Factory] = {
    "list_clusters": lambda env, _rt: TextScreen("List all clusters", clusters_text(env.system)),
    "show_status": _status,
    "create_cluster": _form(cluster_forms.CreateClusterForm),
    "change_cluster": _form(cluster_forms.ChangeClusterForm),
    "preload_cluster": _form(cluster_forms.PreloadForm),
    "add_lim": _form(cluster_forms.AddLimForm),
    "remove_lim": _form(cluster_forms.RemoveLimForm),
    "delete_cluster": _form(cluster_forms.DeleteClusterForm),
    "fallback_lim": _form(cluster_forms.FallbackForm),
    "lock_lim": _form(cluster_forms.LockForm),
    "unlock_lim": _form(cluster_forms.UnlockForm),
    "sync_cluster": _form(cluster_forms.SyncForm),
    "pause_cluster": _form(cluster_forms.PauseForm),
    "resume_cluster": _form(cluster_forms.ResumeForm),
    "cluster_history": _history,
    "list_servers": lambda env, _rt: TextScreen("List servers in system", servers_text(env.system)),
    "add_server": _form(system_forms.AddServerForm),
    "remove_server": _form(system_forms.RemoveServerForm),
    "replace_server": _form(replace_form.ReplaceServerForm),
    "list_standby": lambda env, _rt: TextScreen("List standby servers", servers_text(env.system, ("standby",))),
    "add_standby": _form(system_forms.AddStandbyForm),
    "remove_standby": _form(system_forms.RemoveStandbyForm),
}
