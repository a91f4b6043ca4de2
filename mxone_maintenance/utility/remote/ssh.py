"""One SSH connection to one server: connect with timeouts and quick retries, host-key check
(host_keys.py) before public-key authentication, commands (channel.py), SFTP file operations.

The modules of this package are the only ones that import paramiko (this one, host_keys.py and
channel.py), so the SSH policy lives in one place. Commands are argv lists quoted with ``shlex.quote``:
values such as names and addresses never get a chance to be read as shell syntax. Writes here are in
place; the transaction (transaction.py) makes them atomic by renaming staged temp files.
"""

from __future__ import annotations

import errno
import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import paramiko

from mxone_maintenance.utility.remote import host_keys
from mxone_maintenance.utility.remote.channel import CommandResult, collect, command_line
from mxone_maintenance.utility.remote.errors import AuthFailed, CommandFailed, RemoteError, Unreachable, short
from mxone_maintenance.utility.remote.settings import Host, SshSettings

# paramiko's transport thread logs a failed handshake with its traceback; with no handler anywhere,
# Python would print that to the technician's terminal. The failure reaches them as one line
# (RemoteError) instead; paramiko's records still go to whatever handler a program sets up.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

T = TypeVar("T")

KEEPALIVE_S = 15
"""Keep-alive interval: notices a dead server on an idle connection and keeps NAT/firewalls open."""

DEAD_PEER_S = 10
"""A server whose kernel acknowledges nothing for this long (what was sent, or TCP keep-alive probes on
an idle connection) is gone: power lost, cable out. The kernel then drops the connection
(TCP_USER_TIMEOUT), so a change notices in seconds, not at the command's timeout (60 s), that a server
died under it; a live server's kernel answers within milliseconds, however busy the server is."""
KEEPALIVE_IDLE_S = 2

CONNECT_RETRY_DELAYS = (0.1, 0.3)
"""Back-off before the second and third connect attempt (at most two retries, within the budget)."""


def reason(error: BaseException) -> str:
    """An error's own words for a one-line message: paramiko's "Server connection dropped: " without its
    dangling colon, an empty one by its type."""
    text = str(getattr(error, "strerror", None) or error).strip().rstrip(":").rstrip()
    return text or type(error).__name__


def watch_for_a_dead_peer(sock: socket.socket) -> None:
    """TCP options of every SSH connection: no Nagle, and a dead server noticed within DEAD_PEER_S."""
    # SSH sends small packets and waits for answers: Nagle plus delayed ACK would add ~40 ms
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_IDLE_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, DEAD_PEER_S * 1000)


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

    def presented_key(self) -> paramiko.PKey:
        """The host key the server presents in the key exchange (the pinned type preferred): nothing is
        verified, nothing sent beyond the handshake, no authentication. Raises Unreachable."""
        pinned = host_keys.pinned_keys(self.host, self.settings.host_key_policy)
        transport = paramiko.Transport(self._open_socket())
        try:
            self._handshake(transport, pinned)
            return transport.get_remote_server_key()
        finally:
            transport.close()

    def _connect(self) -> paramiko.Transport:
        policy = self.settings.host_key_policy
        pinned = host_keys.pinned_keys(self.host, policy)
        transport = paramiko.Transport(self._open_socket())
        try:
            self._handshake(transport, pinned)
            host_keys.verify(self.host, transport.get_remote_server_key(), pinned, policy)
            self._authenticate(transport)
        except BaseException:
            transport.close()
            raise
        transport.set_keepalive(KEEPALIVE_S)
        return transport

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
                watch_for_a_dead_peer(sock)
                return sock
            except TimeoutError:
                raise Unreachable(self.host, f"connection timed out after {budget:g} s") from None
            except OSError as e:
                delay = CONNECT_RETRY_DELAYS[attempts - 1] if attempts <= len(CONNECT_RETRY_DELAYS) else None
                if delay is None or time.monotonic() + delay >= deadline:
                    reason = (e.strerror or str(e)).lower()
                    raise Unreachable(self.host, f"{reason} (after {attempts} attempts)") from None
                time.sleep(delay)

    def _handshake(self, transport: paramiko.Transport, pinned: host_keys.Pinned | None) -> None:
        """SSH key exchange, preferring the pinned key type so a multi-key server shows the pinned one."""
        timeout = self.settings.connect_timeout
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        if pinned:
            options = transport.get_security_options()
            options.key_types = host_keys.preferred_first(pinned, options.key_types)
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise Unreachable(self.host, f"no SSH handshake: {e or type(e).__name__}") from None
        if not transport.initial_kex_done:  # start_client returns quietly when its timeout passes
            raise Unreachable(self.host, f"no SSH handshake within {timeout:g} s")

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
        command = command_line(argv)
        limit = self.settings.command_timeout if timeout is None else timeout
        channel = self._open_channel(command)
        try:
            status, out, err = collect(channel, stdin, time.monotonic() + limit)
        except TimeoutError:
            raise CommandFailed(self.host, argv, -1, "", f"`{short(command)}` timed out after {limit:g} s") from None
        except (paramiko.SSHException, EOFError, OSError) as e:
            self.close()
            raise RemoteError(self.host, f"connection lost while running `{short(command)}`: {e}") from None
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
            raise RemoteError(self.host, f"connection lost while running `{short(command)}`")
        if check:
            raise CommandFailed(self.host, argv, -1, stderr,
                                f"`{short(command)}` ended without an exit status (killed by a signal?)")

    def _open_channel(self, command: str) -> paramiko.Channel:
        transport = self._live_transport()
        try:
            channel = transport.open_session(timeout=self.settings.connect_timeout)
            channel.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError) as e:
            self.close()
            raise RemoteError(self.host, f"cannot start `{short(command)}`: {e}") from None
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
            if isinstance(e, TimeoutError) and not str(e):
                raise RemoteError(self.host, f"{what}: no answer within {self.settings.command_timeout:g} s") from None
            raise RemoteError(self.host, f"{what}: {reason(e)}") from None
        except (paramiko.SSHException, EOFError) as e:
            self.close()
            raise RemoteError(self.host, f"{what}: connection lost: {reason(e)}") from None

    def read_file(self, path: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""

        def op(sftp: paramiko.SFTPClient) -> bytes | None:
            try:
                with sftp.open(path, "rb") as f:
                    f.prefetch()
                    return f.read()
            except OSError as e:
                if isinstance(e, FileNotFoundError) or e.errno == errno.ENOENT:
                    return None
                raise

        return self._sftp_call(f"cannot read {path}", op)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write ``path`` in place (not atomic): for temp names that nobody else reads. A file only its
        owner may read (a key) is made empty with that mode first: SFTP creates with the server's
        umask, and a reader who opens it while it is wider keeps reading what is written later."""
        if mode & 0o077 == 0:
            self.run(["sh", "-c", 'umask 077 && rm -f -- "$1" && : > "$1"', "sh", path])

        def op(sftp: paramiko.SFTPClient) -> None:
            sftp.putfo(io.BytesIO(data), path, file_size=len(data), confirm=True)
            sftp.chmod(path, mode)

        self._sftp_call(f"cannot write {path}", op)

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
