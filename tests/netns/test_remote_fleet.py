"""Fleet: per-host outcomes, parallel work, one reused connection per host (real sshds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import sshd_server

from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.fleet import Fleet, Outcome
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd_server.Servers]:
    with sshd_server.running(tmp_path_factory.mktemp("sshd"), count=4) as s:
        yield s


@pytest.fixture(scope="module")
def settings(servers: sshd_server.Servers, tmp_path_factory: pytest.TempPathFactory) -> SshSettings:
    kh = servers.known_hosts(tmp_path_factory.mktemp("kh") / "known_hosts")
    return SshSettings(key_file=servers.client_key, known_hosts=kh)


@pytest.fixture(scope="module")
def hosts(servers: sshd_server.Servers) -> list[Host]:
    return [Host(f"lim{i + 1}", "127.0.0.1", s.port) for i, s in enumerate(servers.sshds)]


def test_each_returns_outcome_per_host_with_one_failing(hosts: list[Host], settings: SshSettings) -> None:
    def whoami(conn: Connection) -> str:
        if conn.host.name == "lim3":
            conn.run(["sh", "-c", "echo disk full >&2; exit 1"])
        return conn.host.name + ":" + conn.run(["id", "-un"]).stdout.strip()

    with Fleet(hosts, settings) as fleet:
        outcomes = fleet.each(whoami)
    assert list(outcomes) == ["lim1", "lim2", "lim3", "lim4"]
    assert outcomes["lim1"] == Outcome("lim1", True, "lim1:root")
    assert outcomes["lim4"].value == "lim4:root"
    failed = outcomes["lim3"]
    assert not failed.ok and failed.value is None
    assert failed.error.startswith("lim3 (127.0.0.1:") and failed.error.endswith("exited with status 1: disk full")


def test_unreachable_host_is_an_outcome_not_an_exception(hosts: list[Host], settings: SshSettings) -> None:
    dead = Host("sb1", "127.0.0.1", sshd_server.free_port())
    with Fleet([*hosts, dead], replace(settings, connect_timeout=0.3)) as fleet:  # one retry only
        outcomes = fleet.each(lambda c: c.run(["true"]).exit_status)
    assert [o.ok for o in outcomes.values()] == [True, True, True, True, False]
    assert outcomes["sb1"].error.startswith(f"sb1 (127.0.0.1:{dead.port}): connection refused")


def test_unexpected_exception_names_host_and_type(hosts: list[Host], settings: SshSettings) -> None:
    def bug(conn: Connection) -> None:
        raise KeyError("oops")

    with Fleet(hosts[:1], settings) as fleet:
        outcome = fleet.each(bug)["lim1"]
    assert outcome.error == f"lim1 (127.0.0.1:{hosts[0].port}): KeyError: 'oops'"


def test_parallel_is_parallel_and_sequential_is_not(hosts: list[Host], settings: SshSettings) -> None:
    def nap(conn: Connection) -> None:
        conn.run(["sleep", "0.25"])

    with Fleet(hosts, settings) as fleet:
        fleet.each(lambda c: None)  # connect first: time only the work
        started = time.monotonic()
        fleet.each(nap)
        parallel = time.monotonic() - started
    with Fleet(hosts, settings, parallel=False) as fleet:
        fleet.each(lambda c: None)
        started = time.monotonic()
        fleet.each(nap)
        sequential = time.monotonic() - started
    assert parallel < 0.9 < 1.0 <= sequential


def test_one_connection_per_host_reused_and_closed(hosts: list[Host], settings: SshSettings) -> None:
    messages: list[tuple[str, str]] = []
    threads: set[str] = set()

    def progress(name: str, message: str) -> None:
        messages.append((name, message))
        threads.add(threading.current_thread().name)

    fleet = Fleet(hosts, settings, progress=progress)
    with fleet:
        first = fleet.each(lambda c: c)
        second = fleet.each(lambda c: c, names=["lim2", "lim1"])
        assert list(second) == ["lim2", "lim1"]
        assert second["lim1"].value is first["lim1"].value is fleet.connection("lim1")
        assert all(o.value is not None and o.value.is_open for o in first.values())
    assert sorted(messages) == [(h.name, "connecting") for h in hosts]  # connected once each
    assert not any(o.value is not None and o.value.is_open for o in first.values())


def test_progress_callback_errors_do_not_break_work(hosts: list[Host], settings: SshSettings) -> None:
    def broken(name: str, message: str) -> None:
        raise RuntimeError("display gone")

    with Fleet(hosts[:2], settings, progress=broken) as fleet:
        assert all(o.ok for o in fleet.each(lambda c: c.run(["true"])).values())


def test_unknown_and_duplicate_names_are_refused(hosts: list[Host], settings: SshSettings) -> None:
    with pytest.raises(ValueError, match="duplicate host names: lim1"):
        Fleet([hosts[0], hosts[0]], settings)
    with Fleet(hosts, settings) as fleet, pytest.raises(KeyError, match="unknown host 'lim9'"):
        fleet.each(lambda c: None, names=["lim1", "lim9"])


def test_remote_error_raised_by_caller_code_is_reported_as_is(hosts: list[Host], settings: SshSettings) -> None:
    def refuse(conn: Connection) -> None:
        raise RemoteError(conn.host, "not enough free disk for two backups")

    with Fleet(hosts[:1], settings) as fleet:
        assert fleet.each(refuse)["lim1"].error == (
            f"lim1 (127.0.0.1:{hosts[0].port}): not enough free disk for two backups")


def test_connect_run_put_on_four_hosts_in_both_modes(hosts: list[Host], settings: SshSettings, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Both modes do the work; prints what they cost (speed itself is asserted above)."""

    def work(conn: Connection) -> None:
        conn.run(["true"])
        conn.write_file(str(tmp_path / f"{conn.host.name}.yaml"), b"x" * 2000)

    times = {}
    for parallel in (False, True):
        started = time.monotonic()
        with Fleet(hosts, settings, parallel=parallel) as fleet:
            assert all(o.ok for o in fleet.each(work).values())
        times[parallel] = time.monotonic() - started
    with capsys.disabled():
        print(f"\n4 hosts connect+run+write_file: sequential {times[False]:.3f} s, parallel {times[True]:.3f} s")
