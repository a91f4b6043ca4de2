"""The lab tests' rerun after a machine stall (helpers/stalls.py), run in an inner pytest: a stall is
this process stopped with SIGSTOP and woken by a child, as a descheduled virtual machine would be."""
from __future__ import annotations

import time
from pathlib import Path

from helpers.stalls import StallWatch

pytest_plugins = ["pytester"]

HELPERS = Path(__file__).resolve().parents[1]

CONFTEST = f"""
import sys
sys.path.insert(0, {str(HELPERS)!r})
from pathlib import Path
from helpers.stalls import StallRerun, StallWatch

def pytest_configure(config):
    config.addinivalue_line("markers", "lab: a lab test")
    # Only the stalls this test makes: the machine's real I/O waiting is not read.
    config.pluginmanager.register(StallRerun(StallWatch(pressure=Path("/nonexistent"))), "stall-rerun")
"""

TESTS = """
import os, signal, subprocess
from pathlib import Path
import pytest

def stall():
    subprocess.Popen(["sh", "-c", f"sleep 1.4; kill -CONT {os.getpid()}"])
    os.kill(os.getpid(), signal.SIGSTOP)

def attempt(name):
    count = Path(name)
    n = int(count.read_text()) if count.exists() else 0
    count.write_text(str(n + 1))
    return n

@pytest.fixture
def fresh():
    Path("fixture-setups").write_text(Path("fixture-setups").read_text() + "x"
                                      if Path("fixture-setups").exists() else "x")
    return True

@pytest.mark.lab
def test_stalled_once(fresh):
    if attempt("a") == 0:
        stall()
        assert False, "late after the stall"

@pytest.mark.lab
def test_fails_without_a_stall():
    attempt("b")
    assert False, "a real failure"

@pytest.mark.lab
def test_stalled_twice():
    attempt("c")
    stall()
    assert False, "late again"

def test_not_a_lab_test():
    attempt("d")
    stall()
    assert False, "unit"
"""


def test_only_a_lab_test_that_failed_in_a_stall_runs_again_and_its_first_failure_is_shown(pytester) -> None:
    """One inner session (each stall costs 1.4 s): a stalled lab test passes on its fresh second run; a
    failure without a stall, or outside the lab, is not retried; a second failure fails, with its stalls."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    path, text = pytester.path, result.stdout.str()

    result.assert_outcomes(passed=1, failed=3)
    assert (path / "a").read_text() == "2" and (path / "fixture-setups").read_text() == "xx"
    assert "lab tests run again after the machine stalled" in text
    assert "test_inner.py::test_stalled_once: the machine stalled (1." in text
    assert "first failure: AssertionError: late after the stall" in text

    assert (path / "b").read_text() == "1" and (path / "d").read_text() == "1"
    result.stdout.fnmatch_lines(["FAILED test_inner.py::test_fails_without_a_stall*",
                                 "FAILED test_inner.py::test_not_a_lab_test*"])

    assert (path / "c").read_text() == "2"
    result.stdout.fnmatch_lines(["*machine stalls*", "1.* s stopped at *", "*FAILED test_inner.py::test_stalled_twice*"])


def test_a_burst_of_the_whole_machine_waiting_on_io_is_a_stall_and_normal_waiting_is_not(tmp_path) -> None:
    """The kernel's I/O pressure, as a file the test writes: 0.2 s of waiting (normal lab work) is
    nothing; 2.1 s more within the window is a stall "waiting on I/O" of 2.3 s (all in the window)."""
    pressure = tmp_path / "io"
    def waited(seconds: float) -> None:
        pressure.write_text(f"some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
                            f"full avg10=0.00 avg60=0.00 avg300=0.00 total={int(seconds * 1e6)}\n")
    waited(100.0)
    watch = StallWatch(pressure=pressure)
    watch.start()
    try:
        start = time.monotonic()
        time.sleep(0.8)
        waited(100.2)
        time.sleep(0.8)
        assert watch.during(start, time.monotonic()) == []
        waited(102.3)
        time.sleep(0.8)
        found = watch.during(start, time.monotonic())
    finally:
        watch.stop()
    assert [(stall.kind, round(stall.late_s, 1)) for stall in found] == [("waiting on I/O", 2.3)]
    assert found[0].describe().startswith("2.3 s waiting on I/O at ")
