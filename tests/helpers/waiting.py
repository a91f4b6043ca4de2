"""Waiting for what a user would see, with the last value seen in the failure."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T], timeout: float, interval: float = 0.1, lab=None) -> T:
    """Poll `probe` until it returns something truthy; fail with `what`, the last value seen and, given a
    lab, the agents' last log lines."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what} (last seen: {value!r})"
                        + (f"\n{lab.agent_logs(25)}" if lab is not None else ""))
        time.sleep(interval)
