"""The pytest side of the lab: one lab per session, and what a test does when it cannot be built."""
from __future__ import annotations

import os
import subprocess

import pytest
from labtools import Lab, LabUnavailable


def unavailable(reason: str):
    """Fail under CI (CI=true), else skip: a lab test must never pass silently unrun in CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"lab unavailable: {reason}", pytrace=False)
    pytest.skip(f"lab unavailable: {reason}")


class LabSession:
    """One lab per pytest session: brought up on first use, at the size asked for; down at the end."""

    def __init__(self):
        self.lab: Lab | None = None

    def up(self, lims: int = 2) -> Lab:
        if os.geteuid() != 0:
            unavailable("needs root")
        try:
            if self.lab is None:
                self.lab = Lab(lims)
            return self.lab.up(lims)
        except (LabUnavailable, OSError, subprocess.SubprocessError) as error:
            unavailable(str(error) or type(error).__name__)

    def close(self) -> None:
        if self.lab is not None and os.environ.get("MXONE_LAB_KEEP") != "1":
            self.lab.down()
