"""The agent's alarm keys: one scheme, one place. A key names what is wrong and where (per LIM, per
server), so one fault raises one alarm and its repair clears exactly that one.

decide() owns the failover alarms it raises and clears each cycle; every key below belongs to the
runtime (config, key, effects, membership) or to data sync, and decide() leaves them alone.
"""
from __future__ import annotations

CONFIG = "config-invalid"
CLUSTER_KEY = "cluster-key"
NOT_MEMBER = "not-member"
EFFECT_PREFIX = "effect:"            # an effect that failed: "effect:<what>" or "effect:<lim>"
SYNC_PREFIX = "sync-failed:lim"      # a data sync of one LIM failed
CLOCK_PREFIX = "clock:"              # a peer's clock differs too much for mtimes to decide a direction
GENERATION_PREFIX = "generation:"    # a peer runs another generation of cluster.yaml for too long
HEARTBEAT_SOCKET = "heartbeat-socket"            # the heartbeat socket cannot be opened (retried every cycle)
HEARTBEAT_CLOCK_PREFIX = "heartbeat-clock:"      # a peer's heartbeats are refused: its clock is too far off
CHECK_PREFIX = "check:"              # the Service Node's health check of a LIM cannot run, or (standby) fails
PAUSED = "paused"                    # maintenance mode
NETWORK_REDUNDANCY = "network-redundancy"   # the cluster interface is a bond with fewer than two working links

SYNC_TEXT = "Standby cluster has failed to synchronize data"

RUNTIME_PREFIXES = (CONFIG, CLUSTER_KEY, NOT_MEMBER, EFFECT_PREFIX, SYNC_PREFIX, CLOCK_PREFIX, GENERATION_PREFIX,
                    HEARTBEAT_SOCKET, HEARTBEAT_CLOCK_PREFIX, CHECK_PREFIX, PAUSED, NETWORK_REDUNDANCY)


def sync(lim: int) -> str:
    return f"{SYNC_PREFIX}{lim}"


def clock(server: str) -> str:
    return f"{CLOCK_PREFIX}{server}"


def generation(server: str) -> str:
    return f"{GENERATION_PREFIX}{server}"


def heartbeat_clock(server: str) -> str:
    return f"{HEARTBEAT_CLOCK_PREFIX}{server}"


def effect(what: str | int) -> str:
    return f"{EFFECT_PREFIX}{what}"


def owned_by_runtime(key: str) -> bool:
    return key.startswith(RUNTIME_PREFIXES)


def check_cannot_run(lim: int) -> str:
    return f"{CHECK_PREFIX}run:{lim}"


def check_failing(lim: int) -> str:
    return f"{CHECK_PREFIX}failing:{lim}"
