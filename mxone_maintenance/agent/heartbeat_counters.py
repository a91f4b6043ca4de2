"""What happened to the heartbeats a channel received and sent: counted for status and alarms."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counters:
    """What happened to incoming (and outgoing) heartbeats, for status and alarms."""
    received: int = 0
    accepted: int = 0
    malformed: int = 0
    forged: int = 0
    replayed: int = 0
    wrong_cluster: int = 0
    stale: int = 0
    foreign: int = 0            # not from a member's base address (or not from the node it names)
    sent: int = 0
    send_errors: int = 0

    def count_bad(self, reason: str) -> None:
        attribute = reason.replace("-", "_")
        setattr(self, attribute, getattr(self, attribute) + 1)
