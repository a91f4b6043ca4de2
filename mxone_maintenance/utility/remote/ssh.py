"""One SSH connection to one server: host-key pinning, commands, SFTP file transfer.

This is the only module that imports paramiko, so the SSH policy lives in one place:

- Host keys are checked against known_hosts *before* authenticating, looked up by the server's name
  first and its address second, so a server keeps its pinned key when the cluster moves it to a new
  base address. Unknown keys are refused unless the admin asked to accept new ones; a changed key is
  always refused (that is what an impostor on a taken-over alias address would look like).
- Errors are distinct types whose ``str()`` is one plain line naming the host, because the CLI and the
  menus print them as they are.
- Commands are argv lists quoted with ``shlex.quote``: values such as names and addresses never get
  a chance to be read as shell syntax.
- Files are replaced atomically (temp name in the same folder, then ``posix_rename``), so a reader
  (the cluster agent) sees the old content or the new one, never half a file.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import posixpath
import secrets
import select
import shlex
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paramiko

T = TypeVar("T")

KEEPALIVE_S = 15
"""Keep-alive interval: notices a dead server on an idle connection and keeps NAT/firewalls open."""

CONNECT_RETRY_DELAYS = (0.1, 0.3)
"""Back-off before the second and third connect attempt (at most two retries, within the budget)."""

_READ_CHUNK = 65536
_known_hosts_lock = threading.Lock()


@dataclass(frozen=True)
class Host:
    """A server as the utility addresses it: its name (the key-pinning identity) and where it is now."""

    name: str
    address: str  # without prefix length
    port: int = 22

    @property
    def where(self) -> str:
        """Address as shown in messages: ``10.77.0.12`` or ``10.77.0.12:2222``."""
        return self.address if self.port == 22 else f"{self.address}:{self.port}"

    @property
    def known_hosts_address(self) -> str:
        """Address as OpenSSH writes it in known_hosts (``[addr]:port`` for a non-standard port)."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


@dataclass(frozen=True)
class SshSettings:
    """How to reach servers; one instance is shared by every connection of a run."""

    key_file: Path
    known_hosts: Path
    user: str = "root"
    connect_timeout: float = 5.0
    command_timeout: float = 60.0
    accept_new_host_keys: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SshSettings:
        """Settings from ``MXONE_SSH_KEY``, ``MXONE_KNOWN_HOSTS``, ``MXONE_SSH_USER`` (docs/INTERFACES.md)."""
        home = Path(env.get("HOME") or Path.home())
        return cls(
            key_file=Path(env.get("MXONE_SSH_KEY") or home / ".ssh" / "id_ed25519"),
            known_hosts=Path(env.get("MXONE_KNOWN_HOSTS") or home / ".ssh" / "known_hosts"),
            user=env.get("MXONE_SSH_USER") or "root",
        )


# --- errors -------------------------------------------------------------------------------------------


class RemoteError(Exception):
    """Something failed on or on the way to one server. ``str()`` is one line naming the host.

    ``host`` is the server's name; other layers may raise it too (e.g. a precheck refusing a change):
    ``raise RemoteError(conn.host, "not enough free disk")``.
    """

    def __init__(self, host: Host | str, detail: str):
        self.host = host.name if isinstance(host, Host) else host
        self.where = host.where if isinstance(host, Host) else ""
        self.detail = _one_line(detail)
        label = f"{self.host} ({self.where})" if self.where else self.host
        super().__init__(f"{label}: {self.detail}")


class HostKeyUnknown(RemoteError):
    """The server's host key is not in known_hosts (and accepting new keys was not asked for)."""

    def __init__(self, host: Host, key_type: str, fingerprint: str, known_hosts: Path):
        self.key_type = key_type
        self.fingerprint = fingerprint
        super().__init__(
            host,
            f"unknown host key {key_type} {fingerprint}; compare it with the server's own "
            f"(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and accept it with --accept-new-host-key "
            f"(it will be recorded in {known_hosts})",
        )


class HostKeyChanged(RemoteError):
    """The server presented a key other than the pinned one: never accepted automatically."""

    def __init__(self, host: Host, expected: str, presented: str, pinned_as: str, known_hosts: Path):
        self.expected = expected
        self.presented = presented
        super().__init__(
            host,
            f"HOST KEY CHANGED: known_hosts pins {expected} for {pinned_as!r} but the server presented "
            f"{presented}; refusing to connect (if the server was reinstalled, remove the old line "
            f"for {pinned_as!r} from {known_hosts} and connect again)",
        )


class AuthFailed(RemoteError):
    """The server refused our key (or we could not load it). Never retried: retries cannot fix it."""


class Unreachable(RemoteError):
    """No SSH service answered: refused, timed out, no route, or no SSH handshake."""


class CommandFailed(RemoteError):
    """A command exited non-zero or timed out (``exit_status`` -1)."""

    def __init__(self, host: Host | str, argv: Sequence[str], exit_status: int, stderr: str,
                 detail: str | None = None):
        self.argv = tuple(argv)
        self.exit_status = exit_status
        self.stderr = stderr
        if detail is None:
            detail = f"`{_short(shlex.join(self.argv))}` exited with status {exit_status}"
            last = _last_line(stderr)
            if last:
                detail += f": {_short(last)}"
        super().__init__(host, detail)


def _one_line(text: str) -> str:
    """Collapse a message to one line: errors end up in one-line CLI output and logs."""
    return " ".join(text.split())


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- results --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str


# --- host keys -----------------------------------------------------------------------------------------


def _load_known_hosts(path: Path) -> paramiko.HostKeys:
    """Read known_hosts fresh on every connect: another run (or ssh-keygen -R) may have changed it."""
    keys = paramiko.HostKeys()
    if path.exists():
        keys.load(str(path))
    return keys


def _pinned_keys(known: paramiko.HostKeys, host: Host) -> tuple[str, Mapping[str, paramiko.PKey]] | None:
    """The pinned keys for ``host`` and the known_hosts name they were found under: name first."""
    for label in (host.name, host.known_hosts_address):
        entry = known.lookup(label)
        if entry:
            return label, entry
    return None


def _algorithms_for(key_types: Sequence[str]) -> list[str]:
    """Host-key algorithm names that let a server present a key of the given types (RSA has three)."""
    out: list[str] = []
    for key_type in key_types:
        out += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type]
    return out


def _known_hosts_line(host: Host, key: paramiko.PKey) -> str:
    return f"{host.name},{host.known_hosts_address} {key.get_name()} {key.get_base64()}\n"


def _append_known_host(path: Path, line: str) -> None:
    """Append one line to known_hosts (mode 0600), locked against parallel connects and processes."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _known_hosts_lock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.fchmod(fd, 0o600)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def _describe_key(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


# --- the connection -------------------------------------------------------------------------------------


class Connection:
    """One server. Opens lazily on first use, reconnects if the transport died, closes SFTP with it.

    Meant to be used by one thread at a time (the Fleet gives each host its own); the lock only makes
    opening and closing safe.
    """

    def __init__(self, host: Host, settings: SshSettings):
        self.host = host
        self.settings = settings
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.RLock()

    # context manager
    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Connection {self.settings.user}@{self.host.name} ({self.host.where}) {state}>"

    @property
    def is_open(self) -> bool:
        return self._transport is not None and self._transport.is_active()

    # opening ----------------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, check the host key, authenticate. No-op when already open."""
        with self._lock:
            if self.is_open:
                return
            self._drop()
            self._transport = self._connect()

    def _connect(self) -> paramiko.Transport:
        known = self._known_hosts()
        pinned = _pinned_keys(known, self.host)
        sock = self._open_socket()
        transport = paramiko.Transport(sock)
        try:
            self._handshake(transport, pinned)
            self._check_host_key(transport.get_remote_server_key(), pinned)
            self._authenticate(transport)
        except BaseException:
            transport.close()
            raise
        transport.set_keepalive(KEEPALIVE_S)
        return transport

    def _known_hosts(self) -> paramiko.HostKeys:
        try:
            return _load_known_hosts(self.settings.known_hosts)
        except (OSError, paramiko.SSHException, ValueError) as e:
            raise RemoteError(self.host, f"cannot read {self.settings.known_hosts}: {e}") from None

    def _open_socket(self) -> socket.socket:
        """TCP connect with at most two quick retries, all within ``connect_timeout``."""
        budget = self.settings.connect_timeout
        deadline = time.monotonic() + budget
        attempts = 0
        while True:
            attempts += 1
            try:
                sock = socket.create_connection(
                    (self.host.address, self.host.port), timeout=max(deadline - time.monotonic(), 0.01))
                # SSH sends small packets and waits for answers: Nagle plus delayed ACK would add ~40 ms
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except TimeoutError:
                raise Unreachable(self.host, f"connection timed out after {budget:g} s") from None
            except OSError as e:
                delay = CONNECT_RETRY_DELAYS[attempts - 1] if attempts <= len(CONNECT_RETRY_DELAYS) else None
                if delay is None or time.monotonic() + delay >= deadline:
                    reason = (e.strerror or str(e)).lower()
                    raise Unreachable(self.host, f"{reason} (after {attempts} attempts)") from None
                time.sleep(delay)

    def _handshake(self, transport: paramiko.Transport,
                   pinned: tuple[str, Mapping[str, paramiko.PKey]] | None) -> None:
        """SSH key exchange, preferring the pinned key type so a multi-key server shows the pinned one."""
        timeout = self.settings.connect_timeout
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        if pinned:
            options = transport.get_security_options()
            preferred = [a for a in _algorithms_for(list(pinned[1])) if a in options.key_types]
            options.key_types = preferred + [a for a in options.key_types if a not in preferred]
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise Unreachable(self.host, f"no SSH handshake: {e or type(e).__name__}") from None
        if not transport.initial_kex_done:  # start_client returns quietly when its timeout passes
            raise Unreachable(self.host, f"no SSH handshake within {timeout:g} s")

    def _check_host_key(self, key: paramiko.PKey,
                        pinned: tuple[str, Mapping[str, paramiko.PKey]] | None) -> None:
        known_hosts = self.settings.known_hosts
        if pinned is None:
            if not self.settings.accept_new_host_keys:
                raise HostKeyUnknown(self.host, key.get_name(), key.fingerprint, known_hosts)
            _append_known_host(known_hosts, _known_hosts_line(self.host, key))
            return
        label, keys = pinned
        if keys.get(key.get_name()) == key:
            return
        expected = ", ".join(_describe_key(k) for k in keys.values())
        raise HostKeyChanged(self.host, expected, _describe_key(key), label, known_hosts)

    def _authenticate(self, transport: paramiko.Transport) -> None:
        key = self._load_private_key()
        try:
            transport.auth_publickey(self.settings.user, key)
        except paramiko.AuthenticationException:
            raise AuthFailed(self.host, f"the server refused key {self.settings.key_file} "
                                        f"for user {self.settings.user!r}") from None
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise Unreachable(self.host, f"connection lost while authenticating: {e}") from None
        if not transport.is_authenticated():
            raise AuthFailed(self.host, "the server asks for more than public-key authentication")

    def _load_private_key(self) -> paramiko.PKey:
        path = self.settings.key_file
        try:
            return paramiko.PKey.from_path(path)
        except paramiko.PasswordRequiredException:
            raise AuthFailed(self.host, f"SSH key {path} is protected by a passphrase") from None
        except (OSError, paramiko.SSHException, ValueError) as e:
            raise AuthFailed(self.host, f"cannot load SSH key {path}: {e}") from None

    def _live_transport(self) -> paramiko.Transport:
        self.open()
        assert self._transport is not None
        return self._transport

    # closing ----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close SFTP and the transport. Safe to call twice; a later call reconnects."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        sftp, transport = self._sftp, self._transport
        self._sftp = self._transport = None
        for thing in (sftp, transport):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a broken connection must not hide the real error
                    pass

    # commands ---------------------------------------------------------------------------------------

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None,
            stdin: bytes | None = None) -> CommandResult:
        """Run ``argv`` (each item quoted with shlex.quote) and wait for it, reading stdout/stderr."""
        command = _command_line(argv)
        limit = self.settings.command_timeout if timeout is None else timeout
        channel = self._open_channel(command)
        try:
            status, out, err = _collect(channel, stdin, time.monotonic() + limit)
        except TimeoutError:
            raise CommandFailed(self.host, argv, -1, "",
                                f"`{_short(command)}` timed out after {limit:g} s") from None
        except (paramiko.SSHException, EOFError, OSError) as e:
            self.close()
            raise RemoteError(self.host, f"connection lost while running `{_short(command)}`: {e}") \
                from None
        finally:
            channel.close()
        result = CommandResult(-1 if status is None else status, out.decode(errors="replace"),
                               err.decode(errors="replace"))
        if status is None:
            self._no_exit_status(argv, command, result.stderr, check, channel.eof_received)
        if check and result.exit_status != 0:
            raise CommandFailed(self.host, argv, result.exit_status, result.stderr)
        return result

    def _no_exit_status(self, argv: Sequence[str], command: str, stderr: str, check: bool,
                        eof_received: bool) -> None:
        """The channel closed without an exit status: the connection died, or a signal killed the command.

        sshd sends EOF before closing a channel; a dying transport closes its channels without one (and
        only then marks itself inactive, so ``is_open`` alone would race).
        """
        if not eof_received or not self.is_open:
            self.close()
            raise RemoteError(self.host, f"connection lost while running `{_short(command)}`")
        if check:
            raise CommandFailed(self.host, argv, -1, stderr,
                                f"`{_short(command)}` ended without an exit status (killed by a signal?)")

    def _open_channel(self, command: str) -> paramiko.Channel:
        transport = self._live_transport()
        try:
            channel = transport.open_session(timeout=self.settings.connect_timeout)
            channel.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError) as e:
            self.close()
            raise RemoteError(self.host, f"cannot start `{_short(command)}`: {e}") from None
        return channel

    # files ------------------------------------------------------------------------------------------

    def _sftp_client(self) -> paramiko.SFTPClient:
        with self._lock:
            transport = self._live_transport()
            if self._sftp is None:
                self._sftp = paramiko.SFTPClient.from_transport(transport)
                self._sftp.get_channel().settimeout(self.settings.command_timeout)
            return self._sftp

    def _sftp_call(self, what: str, op: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run one SFTP operation, turning its errors into a one-line RemoteError for this host."""
        try:
            return op(self._sftp_client())
        except RemoteError:
            raise
        except OSError as e:
            if isinstance(e, (TimeoutError, ConnectionError)):  # the session is gone or stuck: start afresh
                self.close()
            raise RemoteError(self.host, f"{what}: {e.strerror or e or type(e).__name__}") from None
        except (paramiko.SSHException, EOFError) as e:
            self.close()
            raise RemoteError(self.host, f"{what}: connection lost: {e or type(e).__name__}") from None

    def read_file(self, path: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""

        def op(sftp: paramiko.SFTPClient) -> bytes | None:
            try:
                with sftp.open(path, "rb") as f:
                    f.prefetch()
                    return f.read()
            except FileNotFoundError:
                return None
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return None
                raise

        return self._sftp_call(f"cannot read {path}", op)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write ``path`` in place (not atomic): for temp names that nobody else reads."""

        def op(sftp: paramiko.SFTPClient) -> None:
            sftp.putfo(io.BytesIO(data), path, file_size=len(data), confirm=True)
            sftp.chmod(path, mode)

        self._sftp_call(f"cannot write {path}", op)

    def put_atomic(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Replace ``path`` so a reader sees the old or the new content, never a mix.

        Uploads to ``<dir>/.<name>.tmp-<random>`` in the same folder (same file system, so the rename
        is atomic), sets the mode, then ``posix_rename``s over the target. On failure the temp is removed.
        """
        temp = temp_name(path, "tmp")
        try:
            self.write_file(temp, data, mode)
            self.rename(temp, path)
        except BaseException:
            self._remove_quietly(temp)
            raise

    def rename(self, src: str, dst: str) -> None:
        """Atomically rename ``src`` to ``dst``, replacing ``dst`` (POSIX rename, not SFTP's refusing one)."""
        self._sftp_call(f"cannot rename {src} to {dst}", lambda sftp: sftp.posix_rename(src, dst))

    def remove(self, path: str) -> None:
        """Remove a file; an absent file is fine (the goal is that it is gone)."""

        def op(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.remove(path)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise

        self._sftp_call(f"cannot remove {path}", op)

    def _remove_quietly(self, path: str) -> None:
        try:
            self.remove(path)
        except RemoteError:
            pass

    def exists(self, path: str) -> bool:
        """True if ``path`` exists (a symlink counts even when dangling)."""

        def op(sftp: paramiko.SFTPClient) -> bool:
            try:
                sftp.lstat(path)
                return True
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return False
                raise

        return self._sftp_call(f"cannot check {path}", op)

    def listdir(self, path: str) -> list[str]:
        """Names in a folder, sorted (no ``.`` / ``..``)."""
        return sorted(self._sftp_call(f"cannot list {path}", lambda sftp: sftp.listdir(path)))


def temp_name(path: str, tag: str) -> str:
    """A hidden, unique name beside ``path``: ``<dir>/.<name>.<tag>-<random>``."""
    folder, name = posixpath.split(path)
    return posixpath.join(folder, f".{name}.{tag}-{secrets.token_hex(4)}")


def _command_line(argv: Sequence[str]) -> str:
    """Quote every argument: the remote shell must see data, never syntax."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a sequence of arguments, not a command string")
    if not argv:
        raise ValueError("argv is empty")
    return " ".join(shlex.quote(str(a)) for a in argv)


def _collect(channel: paramiko.Channel, stdin: bytes | None,
             deadline: float) -> tuple[int | None, bytes, bytes]:
    """Feed stdin and read stdout/stderr together until the command ends (no deadlock on full pipes)."""
    out, err = bytearray(), bytearray()
    pending = memoryview(stdin or b"")
    channel.settimeout(0.0)
    if not pending:
        channel.shutdown_write()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        while pending and channel.send_ready():
            pending = pending[_send_some(channel, pending):]
            if not pending:
                channel.shutdown_write()
        select.select([channel], [], [], min(remaining, 0.02) if pending else remaining)
        _drain(channel, out, err)
        if channel.closed or (channel.eof_received and channel.exit_status_ready()):
            _drain(channel, out, err)
            # paramiko reports -1 when the channel closed without an exit-status message (real ones are 0-255)
            status = channel.recv_exit_status() if channel.exit_status_ready() else -1
            return (None if status < 0 else status), bytes(out), bytes(err)


def _send_some(channel: paramiko.Channel, data: memoryview) -> int:
    try:
        return channel.send(bytes(data[:_READ_CHUNK]))
    except TimeoutError:
        return 0


def _drain(channel: paramiko.Channel, out: bytearray, err: bytearray) -> None:
    while channel.recv_ready():
        out += channel.recv(_READ_CHUNK)
    while channel.recv_stderr_ready():
        err += channel.recv_stderr(_READ_CHUNK)
