"""Shared fixtures. The lab (scripts/lab, DESIGN §7) is one per session, brought down at its end
(set MXONE_LAB_KEEP=1 to leave it up for a look afterwards).

    def test_a(lab): ...                                  # lab with 2 LIMs
    @pytest.mark.parametrize("lab", [3], indirect=True)
    def test_b(lab): ...                                  # lab with 3 LIMs
    def test_c(lab_up): lab = lab_up(10)                  # any size, inside the test
    lab.reset(3)                                          # down + up: a fresh lab, no cluster

Asking for another size rebuilds the lab; the same size only repairs it (revives killed hosts, heals
cut ones, restarts dead agents) and keeps its files, so a test that needs a clean lab calls reset().
Not root, or the lab cannot be built: skipped, or failed when CI=true. Tests using these fixtures are
marked `lab` automatically; a lab test that fails while the whole machine stalled runs once more
(helpers/stalls.py), and the summary shows its first failure.
"""

from __future__ import annotations

import pytest
from helpers.labsession import LabSession
from helpers.stalls import StallRerun
from labtools import Lab


def pytest_configure(config):
    config.pluginmanager.register(StallRerun(), "stall-rerun")


@pytest.fixture(scope="session")
def lab_session():
    session = LabSession()
    yield session
    session.close()


@pytest.fixture(scope="session")
def lab_up(lab_session):
    """lab_up(n) -> Lab with n LIMs (1..10), the standby sb1 and the client."""
    return lab_session.up


@pytest.fixture
def lab(request, lab_up) -> Lab:
    """The session's lab at the size given by indirect parametrization (default 2 LIMs)."""
    return lab_up(getattr(request, "param", 2))


def pytest_collection_modifyitems(items):
    for item in items:
        if {"lab", "lab_up"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)
