"""The Service Node's health check: its three outcomes on real sockets and commands, and how the
runtime counts them (a check that cannot run is never a pass; the standby restarts once, then alarms)."""
from __future__ import annotations

import socket
import threading
from ipaddress import IPv4Address, IPv4Interface

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.effects.health_check import CheckOutcome, HealthCheck, Verdict, check_once
from mxone_maintenance.agent.runtime.alarms import AlarmBook
from mxone_maintenance.agent.runtime.health import HealthWatch
from mxone_maintenance.core.model import Cluster, ClusterLim, StandbyRef

LOOP = IPv4Address("127.0.0.1")


@pytest.fixture
def listener():
    """A listening socket nobody serves: the kernel accepts connections, nothing is said (a hung process)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def greeter(text: bytes) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.sendall(text)
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return sock


def test_a_hung_service_node_passes_a_bare_connect_but_not_the_greeting_check(listener):
    port = listener.getsockname()[1]
    assert check_once(HealthCheck(tcp_port=port, timeout_s=0.3), 1, LOOP, "lim1").verdict is Verdict.PASSED
    hung = check_once(HealthCheck(tcp_port=port, timeout_s=0.3, expect="LIM {lim} on"), 1, LOOP, "lim1")
    assert hung.verdict is Verdict.MISSED and "within 0.3 s" in hung.detail


def test_the_greeting_must_name_the_lim():
    sock = greeter(b"LIM 2 on lim2\n")
    try:
        port = sock.getsockname()[1]
        assert check_once(HealthCheck(tcp_port=port, expect="LIM {lim} on"), 2, LOOP, "lim2").verdict is Verdict.PASSED
        wrong = check_once(HealthCheck(tcp_port=port, expect="LIM {lim} on"), 1, LOOP, "lim1")
        assert wrong.verdict is Verdict.MISSED and "'LIM 2 on lim2'" in wrong.detail
    finally:
        sock.close()


def test_a_refused_connection_is_a_miss():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert check_once(HealthCheck(tcp_port=port, timeout_s=0.3), 1, LOOP, "lim1").verdict is Verdict.MISSED


def test_commands_pass_miss_time_out_or_cannot_run(tmp_path):
    assert check_once(HealthCheck(argv=("true",)), 1, LOOP, "n").verdict is Verdict.PASSED
    assert check_once(HealthCheck(argv=("false",)), 1, LOOP, "n").verdict is Verdict.MISSED
    assert check_once(HealthCheck(argv=("sleep", "5"), timeout_s=0.2), 1, LOOP, "n").verdict is Verdict.MISSED
    missing = check_once(HealthCheck(argv=(str(tmp_path / "nothing"),)), 1, LOOP, "n")
    assert missing.verdict is Verdict.CANNOT_RUN


CLUSTER = Cluster("c1", StandbyRef("sb1", IPv4Interface("10.77.0.20/24")),
                  (ClusterLim(1, "lim1", IPv4Interface("10.77.0.111/24"), IPv4Interface("10.77.0.11/24")),))


def watch_with(outcomes: list[CheckOutcome]) -> tuple[HealthWatch, list]:
    clock = [0.0]
    said: list = []
    watch = HealthWatch(HealthCheck(tcp_port=7001, interval_s=1, failures=3), lambda _l, _a: outcomes.pop(0),
                        lambda: clock[0], threaded=False, done=lambda: None,
                        verdict=lambda lim, text: said.append(text))
    watch.clock_cell = clock
    return watch, said


def run_checks(watch: HealthWatch, alarms: AlarmBook, n: int, standby: bool, restarts: list) -> None:
    if 1 not in watch.next_at:                     # it starts serving: the first check an interval later
        watch.tick(CLUSTER, {1}, watch.clock_cell[0], paused=False)
    for _ in range(n):
        watch.clock_cell[0] += 1
        watch.tick(CLUSTER, {1}, watch.clock_cell[0], paused=False)
        watch.collect(alarms, "sb1" if standby else "lim1", standby, restarts.append)


@given(st.lists(st.sampled_from(list(Verdict)), min_size=1, max_size=30))
def test_a_verdict_needs_failures_misses_in_a_row_and_cannot_run_never_counts(verdicts):
    watch, said = watch_with([CheckOutcome(v, "x") for v in verdicts])
    run_checks(watch, AlarmBook(lambda: 0.0), len(verdicts), False, [])
    run, expected = 0, False
    for verdict in verdicts:
        if verdict is Verdict.PASSED:
            run = 0
        elif verdict is Verdict.MISSED:
            run += 1
            if run == 3:
                expected, run = True, 0
    assert bool(said) == expected


def test_cannot_run_raises_its_own_alarm_and_is_not_a_pass():
    watch, said = watch_with([CheckOutcome(Verdict.MISSED, "a"), CheckOutcome(Verdict.CANNOT_RUN, "no such file"),
                              CheckOutcome(Verdict.MISSED, "b"), CheckOutcome(Verdict.MISSED, "c")])
    alarms = AlarmBook(lambda: 0.0)
    run_checks(watch, alarms, 2, False, [])
    assert [a.text for a in alarms.active.values()] == ["Service Node check of LIM 1 cannot run on lim1: no such file"]
    run_checks(watch, alarms, 2, False, [])
    assert said and watch.sick(watch.clock_cell[0], 3, {1}) == frozenset({1})
    assert not alarms.active


def test_the_standby_restarts_once_then_alarms():
    watch, said = watch_with([CheckOutcome(Verdict.MISSED, "refused")] * 6)
    alarms, restarts = AlarmBook(lambda: 0.0), []
    run_checks(watch, alarms, 3, True, restarts)
    assert restarts == [1] and not alarms.active
    run_checks(watch, alarms, 3, True, restarts)
    assert restarts == [1]
    assert [a.text for a in alarms.active.values()] == ["Service Node of LIM 1 does not answer on sb1 (refused)"]
