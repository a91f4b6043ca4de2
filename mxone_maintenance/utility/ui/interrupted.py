"""An interrupted change as the menus show it (its journal beside system.yaml, ops/journal.py).

While a journal exists, Cluster handling names the change in one line at its top and offers two more
items, Finish and Undo; every other item that changes configuration cannot be used until then (apply
would refuse it: ops/apply.py). What only reads (lists, status, history) and the orders (fallback,
sync, pause, resume) stay usable. A journal that cannot be read is that one line, and nothing that
changes configuration opens.
"""
from __future__ import annotations

from pathlib import Path

from mxone_maintenance.core.model import System
from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ops import recovery
from mxone_maintenance.utility.ops.access import SshSettings
from mxone_maintenance.utility.ops.cluster_keys import cluster_key
from mxone_maintenance.utility.ops.journal import Journal, JournalError, journal_path, read_journal
from mxone_maintenance.utility.ops.proposals import Proposal
from mxone_maintenance.utility.ui.menu_tree import Menu, MenuItem
from mxone_maintenance.utility.ui.screens import NoticeScreen, PlanScreen, Screen

JournalState = Journal | str | None      # the interrupted change, the line why its journal cannot be read, or none

FINISH = "finish_change"              # not in the menu data (menus/): added here while a journal exists
UNDO = "undo_change"
RECOVERY_MENU = "cluster_handling"
RECOVERY_ITEMS = (MenuItem("Finish the interrupted change", action=FINISH, available="system_loaded"),
                  MenuItem("Undo the interrupted change", action=UNDO, available="system_loaded"))
BLOCKED = "an interrupted change must be finished or undone first"
DAMAGED = "the change journal cannot be read: see the line at the top of Cluster handling"
# what changes no configuration (menus' action names): usable while a change is interrupted
CHANGES_NOTHING = frozenset({"list_clusters", "show_status", "fallback_lim", "sync_cluster", "list_servers",
                             "list_standby", "exit", FINISH, UNDO, "pause_cluster", "resume_cluster",
                             "cluster_history"})


class JournalSource:
    """Called, gives the journal state; the file is read again only when it changed on disk."""

    def __init__(self, system_file: Path) -> None:
        self.system_file = Path(system_file)
        self._key: object = object()
        self._value: JournalState = None

    def __call__(self) -> JournalState:
        try:
            stat = journal_path(self.system_file).stat()
            key: object = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError:
            key = None
        if key != self._key:
            try:
                self._value = read_journal(self.system_file)
            except JournalError as err:
                self._value = str(err)
            self._key = key
        return self._value


def notice(menu: Menu, state: JournalState) -> str:
    """The line at the top of MENU ("" for none)."""
    if menu.name != RECOVERY_MENU or state is None:
        return ""
    if isinstance(state, str):
        return state
    return f"Interrupted change: {state.headline()}. Finish it or undo it before any other change."


def items(menu: Menu, state: JournalState) -> tuple[MenuItem, ...]:
    """The menu's items, with Finish and Undo at the end of Cluster handling while a change is interrupted
    (at the end, so the other items keep their numbers)."""
    if menu.name == RECOVERY_MENU and isinstance(state, Journal):
        return menu.items + RECOVERY_ITEMS
    return menu.items


def blocked(item: MenuItem, state: JournalState) -> str | None:
    """Why ITEM cannot be used while a change is interrupted, or None."""
    if state is None or item.action is None or item.action in CHANGES_NOTHING:
        return None
    return DAMAGED if isinstance(state, str) else BLOCKED


def propose(action: str, journal: Journal) -> Proposal:
    """The plan that finishes or undoes the change. Shown without asking a server (a cluster key the
    journal does not hold is left out of the shown plan); made again with the keys after Apply."""
    planner = recovery.plan_finish if action == FINISH else recovery.plan_undo

    def with_keys(paths: Paths, settings: SshSettings):
        def key_for(name: str) -> bytes:
            system: System = journal.before if journal.before.cluster(name) else journal.after
            return cluster_key(paths, system, name, settings)
        return planner(journal, key_for)

    return Proposal(planner(journal, lambda _name: b""), with_keys)


def recovery_screen(item: MenuItem, state: JournalState) -> Screen:
    """What Finish or Undo opens: its plan at once (there is nothing to fill in), applied with the journal."""
    if not isinstance(state, Journal):
        return NoticeScreen(item.label, "There is no interrupted change any more: it was finished or undone meanwhile.")
    return PlanScreen(item.label, propose(item.action, state), recovering=state)
