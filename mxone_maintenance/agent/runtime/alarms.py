"""The alarm book: active alarms and the recently cleared ones, with their wall-clock times, logged
when they change. decide() owns the failover alarms; the runtime's keys are in agent/alarm_keys.py."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mxone_maintenance.agent import alarm_keys
from mxone_maintenance.core.contracts import wire
from mxone_maintenance.core.contracts.agent_status import AlarmStatus

log = logging.getLogger("mxone-cluster-agent")

CLEARED_KEPT = 50
T = TypeVar("T")


@dataclass
class Alarm:
    key: str
    text: str
    raised: float                  # wall clock
    cleared: float | None = None


class AlarmBook:
    def __init__(self, wall: Callable[[], float]) -> None:
        self.wall = wall
        self.active: dict[str, Alarm] = {}
        self.cleared: list[Alarm] = []
        self.listener: Callable[[bool, str], None] = lambda _raised, _text: None   # the event history's

    def raise_(self, key: str, text: str) -> None:
        if key in self.active and self.active[key].text == text:
            return
        self.active[key] = Alarm(key, text, self.wall())
        log.warning("ALARM raised: %s", text)
        self.listener(True, text)

    def clear(self, key: str) -> None:
        alarm = self.active.pop(key, None)
        if alarm is None:
            return
        alarm.cleared = self.wall()
        self.cleared = (self.cleared + [alarm])[-CLEARED_KEPT:]
        log.warning("ALARM cleared: %s", alarm.text)
        self.listener(False, alarm.text)

    def attempt(self, effect: Callable[[], T], key: str, what: str) -> T | bool:
        """Run an effect; a failure is alarmed under `key` ("Cannot <what>: ...") and returns False, a
        success clears that alarm and returns the effect's result."""
        try:
            result = effect()
        except Exception as exc:  # noqa: BLE001 - the loop must survive any effect failure
            self.raise_(key, f"Cannot {what}: {exc}")
            return False
        self.clear(key)
        return result

    def keys_owned_by_decide(self) -> frozenset[str]:
        return frozenset(k for k in self.active if not alarm_keys.owned_by_runtime(k))

    def as_status(self) -> tuple[AlarmStatus, ...]:
        """Active ones first, then the cleared ones, newest first."""
        items = list(self.active.values()) + list(reversed(self.cleared))
        return tuple(AlarmStatus(a.key, a.text, a.raised, a.cleared) for a in items)

    def as_list(self) -> list[dict]:
        """The same as status's JSON objects ({"key", "text", "raised", "cleared", "active"})."""
        return [wire.encode(alarm) for alarm in self.as_status()]
