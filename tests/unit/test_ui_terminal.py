"""The terminal while the menus are open: stderr and logging go to the session log, errors on the UI
thread are a line on screen, Esc followed quickly by a key still works, leaving does not wait."""
from __future__ import annotations

import logging
import os
import sys
import threading
import time

import pytest

from mxone_maintenance.core.paths import Paths
from mxone_maintenance.utility.ui import terminal
from mxone_maintenance.utility.ui.keys import split_meta
from mxone_maintenance.utility.ui.status_table import when
from mxone_maintenance.utility.ui.worker import LoopRuntime


def test_esc_then_a_key_read_as_meta_is_esc_and_the_key():
    assert split_meta(["esc", "meta q"]) == ["esc", "esc", "q"]
    assert split_meta(["meta esc", "x"]) == ["esc", "esc", "x"]
    assert split_meta(["q", "f1", "meta"]) == ["q", "f1", "meta"]


def test_esc_esc_q_leaves_headless(tmp_path):
    from test_ui_menus import make_app, press
    app = make_app(tmp_path)
    press(app, "3", "1", "esc", "meta q")
    assert app.exited


def test_ui_log_is_under_the_admin_root(tmp_path):
    assert terminal.ui_log_path(Paths(tmp_path)) == tmp_path / "var/log/mxone_maintenance-ui.log"


def test_stderr_and_logging_go_to_the_log_and_come_back(tmp_path):
    log_file = tmp_path / "var/log/ui.log"
    before = os.fstat(2)
    root_handlers = list(logging.getLogger().handlers)
    with terminal.SessionLog(log_file) as session:
        os.write(2, b"raw write to fd 2\n")
        print("a stray print to stderr", file=sys.stderr)
        logging.getLogger("paramiko.transport").info("Connected (version 2.0)")
        thread = threading.Thread(target=lambda: 1 / 0)
        thread.start()
        thread.join()
        assert session.used == log_file
    after = os.fstat(2)
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
    assert logging.getLogger().handlers == root_handlers
    text = log_file.read_text()
    for expected in ("raw write to fd 2", "a stray print to stderr", "paramiko.transport: Connected",
                     "ZeroDivisionError", "menus opened", "menus closed"):
        assert expected in text


def test_an_unwritable_log_falls_back_to_devnull(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with terminal.SessionLog(blocker / "ui.log") as session:
        print("nowhere", file=sys.stderr)
    assert str(session.used) == os.devnull


class FakeLoop:
    def __init__(self) -> None:
        self.callback = None

    def watch_pipe(self, callback):
        self.callback = callback
        read, write = os.pipe()
        self.fds = (read, write)
        return write


def test_an_error_on_the_ui_thread_is_reported_not_raised():
    shown: list[BaseException] = []
    loop = FakeLoop()
    runtime = LoopRuntime(loop, on_error=shown.append)
    runtime.post(lambda: 1 / 0)
    runtime.post(lambda: shown.append(RuntimeError("next call still runs")))
    loop.callback(b"!!")
    assert isinstance(shown[0], ZeroDivisionError) and str(shown[1]) == "next call still runs"
    for fd in loop.fds:
        os.close(fd)


def test_an_error_in_a_worker_job_goes_to_failed():
    loop = FakeLoop()
    runtime = LoopRuntime(loop)
    failures: list[BaseException] = []
    runtime.submit(lambda: {}["missing"], lambda _v: None, failures.append)
    deadline = time.monotonic() + 5
    while not failures and time.monotonic() < deadline:
        loop.callback(b"")
        time.sleep(0.01)
    assert isinstance(failures[0], KeyError)
    for fd in loop.fds:
        os.close(fd)


def test_leave_process_returns_when_nothing_is_running():
    """In a process of its own: pytest's may hold threads other tests left running (leave_process would
    rightly end it with os._exit)."""
    import subprocess
    code = ("from mxone_maintenance.utility.ui.terminal import leave_process\n"
            "print('returned', leave_process(3, grace_s=0.01))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert (result.returncode, result.stdout.strip()) == (0, "returned 3")


def test_leave_process_does_not_wait_for_a_hung_thread():
    import subprocess
    code = ("import threading, time, concurrent.futures as cf\n"
            "from mxone_maintenance.utility.ui.terminal import leave_process\n"
            "pool = cf.ThreadPoolExecutor(1); pool.submit(time.sleep, 30)\n"
            "raise SystemExit(leave_process(4, grace_s=0.1))\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], timeout=20)
    assert result.returncode == 4 and time.monotonic() - started < 10


@pytest.mark.parametrize("raised, shown", [("now", "now"), ("12:00:00", "12:00:00")])
def test_alarm_times_that_are_not_numbers_stay(raised, shown):
    assert when(raised) == shown


def test_alarm_epoch_times_become_local_time():
    stamp = time.mktime((2026, 11, 25, 17, 16, 45, 0, 0, -1))
    assert when(str(stamp), now=stamp + 60) == "17:16:45"
    assert when(str(stamp), now=stamp + 3 * 86400) == "2026-11-25 17:16:45"
