"""The SSH layer against a real OpenSSH sshd on loopback: host keys, auth, commands, files."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import sshd_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.utility.remote.errors import (
    AuthFailed,
    CommandFailed,
    HostKeyChanged,
    HostKeyUnknown,
    RemoteError,
    Unreachable,
)
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd_server.Servers]:
    with sshd_server.running(tmp_path_factory.mktemp("sshd"), count=1) as s:
        yield s


@pytest.fixture(scope="module")
def known_hosts(servers: sshd_server.Servers, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return servers.known_hosts(tmp_path_factory.mktemp("kh") / "known_hosts")


def host(server: sshd_server.Sshd, name: str = "lim1") -> Host:
    return Host(name, "127.0.0.1", server.port)


def make_settings(servers: sshd_server.Servers, known_hosts: Path, **kw: object) -> SshSettings:
    return SshSettings(key_file=servers.client_key, known_hosts=known_hosts, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def conn(servers: sshd_server.Servers, known_hosts: Path) -> Iterator[Connection]:
    with Connection(host(servers[0]), make_settings(servers, known_hosts)) as c:
        yield c


# --- settings and errors (no server needed) --------------------------------------------------------


def test_settings_from_env_defaults_and_overrides() -> None:
    s = SshSettings.from_env({"HOME": "/home/adm"})
    assert s.key_file == Path("/home/adm/.ssh/id_ed25519")
    assert s.known_hosts == Path("/home/adm/.ssh/known_hosts")
    assert s.user == "root" and not s.accept_new_host_keys
    s = SshSettings.from_env({"HOME": "/x", "MXONE_SSH_KEY": "/k", "MXONE_KNOWN_HOSTS": "/kh",
                              "MXONE_SSH_USER": "admin"})
    assert (s.key_file, s.known_hosts, s.user) == (Path("/k"), Path("/kh"), "admin")


def test_remote_error_is_one_line_naming_the_host() -> None:
    e = RemoteError(Host("lim2", "10.77.0.12"), "connection timed out\nafter 5 s")
    assert str(e) == "lim2 (10.77.0.12): connection timed out after 5 s"
    assert e.host == "lim2"
    assert str(RemoteError(Host("sb1", "10.0.0.1", 2222), "x")) == "sb1 (10.0.0.1:2222): x"
    assert str(RemoteError("lim3", "refused")) == "lim3: refused"
    failed = CommandFailed("lim1", ["ip", "addr", "add", "a b"], 2, "warning\nRTNETLINK answers: File exists\n")
    assert str(failed) == "lim1: `ip addr add 'a b'` exited with status 2: RTNETLINK answers: File exists"
    assert (failed.exit_status, failed.argv) == (2, ("ip", "addr", "add", "a b"))


def test_connection_opens_lazily(tmp_path: Path) -> None:
    settings = SshSettings(key_file=tmp_path / "none", known_hosts=tmp_path / "kh")
    c = Connection(Host("lim9", "127.0.0.1", 1), settings)  # nothing listens there: no error yet
    assert not c.is_open
    c.close()


# --- authentication and host keys ------------------------------------------------------------------


def test_key_auth_and_run(conn: Connection) -> None:
    result = conn.run(["id", "-u"])
    assert (result.exit_status, result.stdout, result.stderr) == (0, "0\n", "")
    assert conn.is_open


def test_unknown_host_key_refused_with_fingerprint(servers: sshd_server.Servers, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    with pytest.raises(HostKeyUnknown) as info, \
            Connection(host(servers[0]), make_settings(servers, kh)) as c:
        c.open()
    fp = servers[0].host_fingerprint
    assert info.value.fingerprint == fp
    message = str(info.value)
    assert message.startswith(f"lim1 (127.0.0.1:{servers[0].port}): unknown host key ssh-ed25519 {fp}")
    assert "--accept-new-host-key" in message and "\n" not in message
    assert not kh.exists()


def test_accept_new_records_key_and_pins_it(servers: sshd_server.Servers, tmp_path: Path) -> None:
    kh = tmp_path / "ssh" / "known_hosts"  # folder made too
    with Connection(host(servers[0]), make_settings(servers, kh, accept_new_host_keys=True)) as c:
        assert c.run(["true"]).exit_status == 0
    typ, b64 = servers[0].host_pub.read_text().split()[:2]
    assert kh.read_text() == f"lim1,[127.0.0.1]:{servers[0].port} {typ} {b64}\n"
    assert kh.stat().st_mode & 0o777 == 0o600
    with Connection(host(servers[0]), make_settings(servers, kh)) as c:  # now known without accepting
        c.open()


def test_accept_new_appends_after_a_line_without_newline(servers: sshd_server.Servers, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text("other,10.1.1.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk8eiLq7JCMSD/X1RrZ9JpVn9s0vq1AUQGs6Zc5l1dw")
    with Connection(host(servers[0]), make_settings(servers, kh, accept_new_host_keys=True)) as c:
        c.open()
    lines = kh.read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("lim1,")


def test_host_key_found_by_name_under_a_new_address(servers: sshd_server.Servers, tmp_path: Path) -> None:
    """The cluster gives a server a new base address: its pin under its name still holds."""
    kh = tmp_path / "known_hosts"
    kh.write_text(servers[0].known_hosts_line("lim1", "10.77.0.11"))
    with Connection(host(servers[0], "lim1"), make_settings(servers, kh)) as c:
        c.open()


def test_host_key_found_by_address_and_port(servers: sshd_server.Servers, known_hosts: Path) -> None:
    with Connection(host(servers[0], "not-in-file"), make_settings(servers, known_hosts)) as c:
        c.open()


def test_name_pin_wins_over_address_pin(servers: sshd_server.Servers, tmp_path: Path) -> None:
    """The address may now belong to another server; the name's own pin decides."""
    other = sshd_server.keygen(tmp_path / "other_host_key")
    typ, b64 = other.with_suffix(".pub").read_text().split()[:2]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"lim1 {typ} {b64}\n" + servers[0].known_hosts_line())
    with pytest.raises(HostKeyChanged), \
            Connection(host(servers[0], "lim1"), make_settings(servers, kh, accept_new_host_keys=True)) as c:
        c.open()


def test_changed_host_key_refused_even_when_accepting_new(tmp_path: Path) -> None:
    with sshd_server.running(tmp_path / "srv") as servers:
        kh = servers.known_hosts(tmp_path / "known_hosts")
        before = kh.read_text()
        old_fp = servers[0].host_fingerprint
        servers[0].restart(new_host_key=True)
        new_fp = servers[0].host_fingerprint
        settings = make_settings(servers, kh, accept_new_host_keys=True)
        with pytest.raises(HostKeyChanged) as info, Connection(host(servers[0]), settings) as c:
            c.open()
    message = str(info.value)
    assert old_fp in message and new_fp in message and "\n" not in message
    assert (info.value.expected, info.value.presented) == (f"ssh-ed25519 {old_fp}", f"ssh-ed25519 {new_fp}")
    assert kh.read_text() == before


def test_wrong_key_is_auth_failure(servers: sshd_server.Servers, known_hosts: Path) -> None:
    settings = SshSettings(key_file=servers.other_key, known_hosts=known_hosts)
    started = time.monotonic()
    with pytest.raises(AuthFailed) as info, Connection(host(servers[0]), settings) as c:
        c.open()
    assert time.monotonic() - started < 2
    assert "refused key" in str(info.value) and str(info.value).startswith("lim1 (127.0.0.1:")


def test_missing_key_file_is_auth_failure(servers: sshd_server.Servers, known_hosts: Path,
                                          tmp_path: Path) -> None:
    settings = SshSettings(key_file=tmp_path / "nope", known_hosts=known_hosts)
    with pytest.raises(AuthFailed, match="cannot load SSH key"), Connection(host(servers[0]), settings) as c:
        c.open()


def test_closed_port_is_unreachable_quickly(servers: sshd_server.Servers, known_hosts: Path) -> None:
    target = Host("lim4", "127.0.0.1", sshd_server.free_port())
    started = time.monotonic()
    with pytest.raises(Unreachable) as info, Connection(target, make_settings(servers, known_hosts)) as c:
        c.run(["true"])
    elapsed = time.monotonic() - started
    assert 0.35 <= elapsed < 1.5  # two retries with back-off, then give up
    assert str(info.value) == f"lim4 (127.0.0.1:{target.port}): connection refused (after 3 attempts)"


def test_silent_server_is_unreachable_within_timeout(servers: sshd_server.Servers, known_hosts: Path) -> None:
    """Something accepts TCP but never speaks SSH (a hung server): give up after connect_timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        target = Host("lim5", "127.0.0.1", listener.getsockname()[1])
        settings = make_settings(servers, known_hosts, connect_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(Unreachable, match="no SSH handshake"), Connection(target, settings) as c:
            c.open()
        assert time.monotonic() - started < 1.5


# --- commands ---------------------------------------------------------------------------------------


NASTY = ["a b", "it's", '"quoted"', "$(touch /tmp/pwned)", "`id`", "; rm -rf /", "a\nb", "*", "~", "$HOME",
         "", "-n", "\\", "ünïcödé ✓", "'", "a'b\"c"]


@pytest.mark.parametrize("arg", NASTY)
def test_arguments_arrive_verbatim(conn: Connection, arg: str) -> None:
    assert conn.run(["printf", "%s", arg]).stdout == arg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
                min_size=1, max_size=4))
def test_random_arguments_arrive_verbatim(conn: Connection, args: list[str]) -> None:
    out = conn.run(["printf", "%s\\0", *args]).stdout
    assert out.split("\0")[:-1] == args


def test_string_argv_is_refused(conn: Connection) -> None:
    with pytest.raises(TypeError):
        conn.run("echo hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        conn.run([])


def test_nonzero_exit(conn: Connection) -> None:
    result = conn.run(["sh", "-c", "echo out; echo oops >&2; exit 3"], check=False)
    assert (result.exit_status, result.stdout, result.stderr) == (3, "out\n", "oops\n")
    with pytest.raises(CommandFailed) as info:
        conn.run(["sh", "-c", "echo oops >&2; exit 3"])
    assert (info.value.exit_status, info.value.stderr) == (3, "oops\n")
    assert str(info.value).endswith("exited with status 3: oops")


def test_command_timeout(conn: Connection) -> None:
    started = time.monotonic()
    with pytest.raises(CommandFailed) as info:
        conn.run(["sleep", "5"], timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert info.value.exit_status == -1 and "timed out after 0.3 s" in str(info.value)
    assert conn.run(["echo", "still usable"]).stdout == "still usable\n"


def test_command_killed_by_signal(conn: Connection) -> None:
    with pytest.raises(CommandFailed, match="ended without an exit status") as info:
        conn.run(["sh", "-c", "kill -9 $$"])
    assert info.value.exit_status == -1
    assert conn.run(["sh", "-c", "kill -9 $$"], check=False).exit_status == -1


def test_lost_connection_is_reported_then_reopened(conn: Connection) -> None:
    with pytest.raises(RemoteError, match="connection lost") as info:
        conn.run(["sh", "-c", "kill -9 $PPID; sleep 5"])  # kills this session's sshd process
    assert not isinstance(info.value, CommandFailed)
    assert conn.run(["echo", "back"]).stdout == "back\n"


def test_stdin_and_big_output_do_not_deadlock(conn: Connection) -> None:
    data = os.urandom(1 << 20)
    assert conn.run(["wc", "-c"], stdin=data).stdout.strip() == str(len(data))
    assert len(conn.run(["head", "-c", "2000000", "/dev/zero"]).stdout) == 2_000_000
    both = conn.run(["sh", "-c", "head -c 500000 /dev/zero; head -c 500000 /dev/zero >&2"])
    assert (len(both.stdout), len(both.stderr)) == (500_000, 500_000)


def test_command_without_stdin_sees_eof(conn: Connection) -> None:
    assert conn.run(["cat"], timeout=5).stdout == ""


def test_close_then_reuse_reconnects(servers: sshd_server.Servers, known_hosts: Path) -> None:
    c = Connection(host(servers[0]), make_settings(servers, known_hosts))
    with c:
        c.read_file("/etc/hostname")
        assert c.is_open
    assert not c.is_open and c._sftp is None
    assert c.run(["true"]).exit_status == 0
    c.close()
    c.close()


# --- files ------------------------------------------------------------------------------------------


def test_a_secret_is_never_readable_by_others_while_it_is_written(conn: Connection, tmp_path: Path) -> None:
    """A watcher stats the staged name as fast as it can while secrets are written 20 times: it must
    never see the file with group or other bits (issue: SFTP created it 0644 until the chmod)."""
    import threading

    target = tmp_path / ".cluster.key.mxone-new-test"
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.add(target.stat().st_mode & 0o777)
            except FileNotFoundError:
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(20):
            conn.write_file(str(target), b"k" * 4096, mode=0o600)
            conn.remove(str(target))
    finally:
        stop.set()
        watcher.join()
    assert seen and seen <= {0o600}, sorted(oct(m) for m in seen)


def test_read_write_exists_listdir_remove(conn: Connection, tmp_path: Path) -> None:
    target = str(tmp_path / "cluster.yaml")
    assert conn.read_file(target) is None and not conn.exists(target)
    conn.write_file(target, b"generation: 1\n", mode=0o600)
    assert conn.read_file(target) == b"generation: 1\n"
    assert (tmp_path / "cluster.yaml").stat().st_mode & 0o777 == 0o600
    assert conn.exists(target) and conn.listdir(str(tmp_path)) == ["cluster.yaml"]
    conn.remove(target)
    conn.remove(target)  # already gone: fine
    assert not conn.exists(target) and conn.listdir(str(tmp_path)) == []
