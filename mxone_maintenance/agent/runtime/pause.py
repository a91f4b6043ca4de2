"""Maintenance mode: the cluster-wide pause order this agent follows. An order is (stamp, until) in
wall-clock seconds: `cluster pause` gives until = now + M minutes, `cluster resume` until 0; the newest
stamp wins, from the technician (control socket) or from a peer's heartbeat (`pause=` flag), so an agent
that joins or restarts during a pause learns it from its peers. Kept in the state folder across
restarts. A pause ends by itself at `until`, so it cannot be forgotten; while it lasts, an alarm says so."""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.agent.heartbeat_flags import parse_flags
from mxone_maintenance.agent.runtime.alarms import AlarmBook

log = logging.getLogger("mxone-cluster-agent")
FILE = "pause.json"


class Pause:
    def __init__(self, state_dir: Path, wall: Callable[[], float],
                 changed: Callable[[bool, str], None] = lambda _paused, _text: None) -> None:
        self.file, self.wall, self.changed = state_dir / FILE, wall, changed
        self.stamp, self.until = self._load()

    def _load(self) -> tuple[float, float]:
        try:
            data = json.loads(self.file.read_text())
            return float(data["stamp"]), float(data["until"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0, 0.0

    def _save(self) -> None:
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temp = self.file.with_suffix(".new")
            temp.write_text(json.dumps({"stamp": self.stamp, "until": self.until}))
            os.replace(temp, self.file)
        except OSError as exc:
            log.warning("cannot keep the pause order in %s: %s", self.file, exc)

    def adopt(self, stamp: float, until: float, source: str) -> bool:
        """Take an order newer than ours (and not from the future beyond a day); True if it changed."""
        if stamp <= self.stamp or stamp > self.wall() + 86400:
            return False
        was = self.paused
        self.stamp, self.until = stamp, until
        self._save()
        if self.paused != was or self.paused:
            text = f"maintenance mode {f'until {_clock(until)}' if self.paused else 'ended'} (order from {source})"
            log.warning("%s", text)
            self.changed(self.paused, text)
        return True

    def heard(self, peer: str, flags: tuple[str, ...]) -> None:
        order = parse_flags(tuple(flags)).pause
        if order is not None:
            self.adopt(order[0], order[1], peer)

    @property
    def paused(self) -> bool:
        return self.until > self.wall()

    def flag(self) -> tuple[float, float] | None:
        """What our heartbeats carry: the order we follow (a resume too, until it is a day old)."""
        if self.stamp <= 0 or self.wall() - max(self.until, self.stamp) > 86400:
            return None
        return self.stamp, self.until

    def keep_alarm(self, alarms: AlarmBook, cluster: str) -> None:
        if self.paused:
            alarms.raise_(alarm_keys.PAUSED, f"Cluster {cluster} is paused (maintenance mode) until "
                                             f"{_clock(self.until)}: no takeover, fallback or yield")
        else:
            alarms.clear(alarm_keys.PAUSED)

    def status(self) -> dict:
        return {"paused": self.paused, "until": self.until if self.paused else None}


def _clock(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))
