"""What people see of data sync: the status entries and lines, what a sync order will do, the alarm
text of a failed sync. The wording here is what technicians read; keep it stable."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.datasync.due import hold_reason
from mxone_maintenance.agent.datasync.values import LastSync, Pair, PairState


def order_outlook(states: Iterable[PairState]) -> dict:
    """What a sync order will do, from the last cycle's view: the pairs it syncs (a running sync runs
    again), and each pair that cannot sync now with why (its peer not heard, clocks apart)."""
    syncing, waiting = [], []
    for state in states:
        reason = hold_reason(state)
        if reason in (None, "running"):
            syncing.append({"lim": state.pair.lim, "peer": state.pair.peer})
        else:
            waiting.append({"lim": state.pair.lim, "peer": state.pair.peer, "why": reason})
    return {"syncing": syncing, "waiting": waiting}


def order_text(outlook: Mapping[str, Any]) -> str:
    """One line for the technician: `data sync ordered: LIM 1 with lim1; LIM 2 not now (waiting: ...)`."""
    syncing, waiting = outlook.get("syncing", ()), outlook.get("waiting", ())
    parts = [f"LIM {p['lim']} with {p['peer']}" for p in syncing]
    parts += [f"LIM {p['lim']} not now ({p['why']})" for p in waiting]
    if not parts:
        return "data sync ordered (the agent has not looked at its peers yet; see its status in a moment)"
    return ("data sync ordered: " if syncing else "data sync ordered, but nothing can sync now: ") + "; ".join(parts)


def sync_alarm_text(last: LastSync, pair: Pair) -> str:
    return f"{alarm_keys.SYNC_TEXT}: LIM {pair.lim} with {pair.peer}: {last.error or 'unknown error'}"


def status_entry(state: PairState, now: float, transfer: tuple[str, int] | None = None) -> dict:
    """One LIM's line in the agent's status JSON ("sync": [...]); `transfer`: the version being pulled
    and the bytes already here."""
    last = state.last
    entry: dict[str, Any] = {"lim": state.pair.lim, "peer": state.pair.peer,
                             "state": hold_reason(state) or "idle",
                             "last": None, "ok": None, "age_s": None, "direction": None, "version": None,
                             "reason": None, "transferred": False, "bytes": 0, "error": None,
                             "reloaded": None, "clock_skew_s": None}
    if state.peer_skew is not None:
        entry["clock_skew_s"] = round(state.peer_skew, 2)
    if state.busy and transfer is not None:
        entry["state"] = f"running: pulling {transfer[0]} from {state.pair.peer}, {transfer[1] / 2**20:.1f} MB so far"
    if last is not None:
        entry.update(last=round(last.wall, 3), ok=last.ok, age_s=round(max(0.0, now - last.at), 1),
                     direction=last.direction, version=last.version, reason=last.reason,
                     transferred=last.transferred, bytes=last.bytes, error=last.error, reloaded=last.reloaded)
    return entry


def status_lines(entries: Sequence[Mapping[str, Any]], when: Callable[[float], str]) -> list[str]:
    """The sync part of `mxone-cluster-agent status` as text."""
    lines = ["data sync:", "  LIM  peer       last sync            result  direction   version                 age"]
    for e in entries:
        result = "-" if e["ok"] is None else "ok" if e["ok"] else "FAILED"
        age = "-" if e["age_s"] is None else f"{e['age_s']:.0f} s"
        lines.append(f"  {e['lim']:<4} {e['peer']:<10} {when(e['last']) if e['last'] else 'never':<20} "
                     f"{result:<7} {e['direction'] or '-':<11} {e['version'] or '-':<23} {age}")
        if e["state"] != "idle":
            lines.append(f"       {e['state']}")
        if e["error"]:
            lines.append(f"       {e['error']}")
    if not entries:
        lines.append("  none")
    return lines
