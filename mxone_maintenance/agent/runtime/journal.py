"""decide()'s decisions in the log: the actions when they differ from the last cycle's (a SyncData
repeated every cycle is one line), and every LIM's state when one changed."""
from __future__ import annotations

import logging

from mxone_maintenance.agent import state as st

log = logging.getLogger("mxone-cluster-agent")


def describe(action: st.Action) -> str:
    fields = {k: v for k, v in vars(action).items() if v not in ("", True)}
    return type(action).__name__ + "(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"


class Journal:
    def __init__(self) -> None:
        self.last: st.Decision | None = None
        self._status: tuple[st.LimStatus, ...] = ()

    def note(self, decision: st.Decision) -> None:
        previous = self.last.actions if self.last is not None else ()
        if decision.actions and decision.actions != previous:
            log.info("decided: %s", "; ".join(describe(action) for action in decision.actions))
        if decision.status != self._status:
            for item in decision.status:
                log.info("LIM %d: %s", item.lim, item.state)
            self._status = decision.status
        self.last = decision
