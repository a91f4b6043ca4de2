"""The notify command (agent/events/notify.py): the event in its environment, off the caller's thread,
killed after its timeout, every outcome logged, a full queue dropping and counting."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from mxone_maintenance.agent.events.notify import Notifier, run_once
from mxone_maintenance.core.contracts.events import EventKind, new_event

T0 = 1_796_000_000.0
EVENT = new_event(EventKind.TAKEOVER, "sb1", "LIM 2 taken over from lim2", lim=2, cause="lim2 silent",
                  generation=4, at=T0)


def wait_for(check, timeout: float = 5.0) -> None:
    until = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < until, "timed out"
        time.sleep(0.02)


def test_the_command_gets_the_event_in_its_environment(tmp_path: Path, caplog) -> None:
    out = tmp_path / "env"
    script = ("import os, sys; open(sys.argv[1], 'w').write(repr({k: v for k, v in os.environ.items() "
              "if k.startswith('MXONE_')}))")
    notifier = Notifier([sys.executable, "-c", script, str(out)])
    with caplog.at_level(logging.INFO, logger="mxone-cluster-agent"):
        assert notifier.send(EVENT)
        wait_for(lambda: notifier.outcomes.ok == 1)
    notifier.close()
    assert eval(out.read_text()) == {
        "MXONE_EVENT": "takeover", "MXONE_LIM": "2", "MXONE_SERVER": "sb1", "MXONE_SEVERITY": "3",
        "MXONE_CODE": "4101", "MXONE_TEXT": "LIM 2 taken over from lim2", "MXONE_CAUSE": "lim2 silent",
        "MXONE_TIME": f"{T0:.3f}", "MXONE_GENERATION": "4"}
    assert "notify command for takeover LIM 2: ok" in caplog.text


def test_outcomes_exit_timeout_and_cannot_run() -> None:
    assert run_once([sys.executable, "-c", "import sys; print('bad', file=sys.stderr); sys.exit(3)"], EVENT, 5) \
        == "exit 3: bad"
    started = time.monotonic()
    assert run_once(["sh", "-c", "sleep 30 & sleep 30"], EVENT, 0.3) == "timeout (killed after 0.3 s)"
    assert time.monotonic() - started < 3              # the whole group was killed, children too
    assert run_once(["/nonexistent/notify"], EVENT, 1).startswith("cannot run: No such file")


def test_a_slow_command_never_holds_the_caller_and_a_full_queue_drops(caplog) -> None:
    notifier = Notifier(["sleep", "5"], timeout_s=0.2, queue_size=2)
    started = time.monotonic()
    sent = [notifier.send(EVENT) for _ in range(10)]
    assert time.monotonic() - started < 0.1
    assert sent.count(False) == notifier.dropped >= 7
    assert "queue full" in caplog.text
    wait_for(lambda: notifier.outcomes.timed_out == sent.count(True))
    notifier.close()
    assert all("timeout" in line for line in notifier.outcomes.last)
