"""Data sync between a cluster's standby and its regulars (DESIGN §6 "Data sync", row 23): when the agents
sync, and the sync itself, rsync over SSH, always pulled by the side that may receive.

When (the daemon's side):
  scheduler.py  DataSyncScheduler, called each cycle; runs syncs in threads
  due.py        which syncs start now, and why (pure)      values.py  what its parts pass each other
  clock.py      the peers' clocks against ours            flags.py   the heartbeat's `xdata=` flags
  words.py      status, order and alarm texts             reload.py  the passive Service Node's reload
The sync of one LIM:
  peers.py      who syncs with whom; ClusterSync, the daemon's DataSync
  lim_sync.py   one sync of one LIM: list, decide, pull into place, prune
  listing.py    the peer's versions     folders.py  our folders     transport.py  rsync over SSH
  records.py    a regular's memory: the standby ran the LIM, the versions it pulled
  outcome.py    SyncResult and the errors                 cli.py     the same by hand
The other end: agent/sync_serve.py, the sync key's forced command (outside this package, so an SSH login
starts only what it needs).
"""
from __future__ import annotations

from mxone_maintenance.agent.datasync.lim_sync import sync_lim
from mxone_maintenance.agent.datasync.outcome import NotYetSynced, SyncError, SyncResult
from mxone_maintenance.agent.datasync.peers import ClusterSync, pairs_of, regular_is_current, role_of
from mxone_maintenance.agent.datasync.reload import CommandReload
from mxone_maintenance.agent.datasync.scheduler import DataSyncScheduler
from mxone_maintenance.agent.datasync.transport import Peer, SyncSettings, io_timeout_for
from mxone_maintenance.agent.datasync.words import order_outlook, order_text, status_lines

__all__ = [
    "ClusterSync", "CommandReload", "DataSyncScheduler", "NotYetSynced", "Peer", "SyncError", "SyncResult",
    "SyncSettings", "io_timeout_for", "order_outlook", "order_text", "pairs_of", "regular_is_current",
    "role_of", "status_lines", "sync_lim",
]
