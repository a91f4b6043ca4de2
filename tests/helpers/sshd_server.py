"""Throwaway OpenSSH servers on 127.0.0.1 for tests of the remote layer.

The remote layer is tested against the real sshd the product talks to (host keys, SFTP's
posix-rename, the login shell's quoting), not against mocks. Each server gets its own host key,
config, PidFile and authorized_keys in a temp folder and listens on a free loopback port.

Use it from a test module::

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with sshd_server.running(tmp_path_factory.mktemp("sshd")) as s:
            yield s

or take the ready ``sshd`` fixture (``from helpers.sshd_server import sshd``). Without root (or without
/usr/sbin/sshd) the tests are skipped with the reason; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
START_TIMEOUT_S = 5.0


def require_sshd() -> None:
    """Skip (or, when CI=true, fail) unless we can run a real sshd: root and OpenSSH installed."""
    problem = None
    if os.geteuid() != 0:
        problem = "needs root to run a throwaway sshd that logs in as root"
    elif not os.access(SSHD, os.X_OK):
        problem = f"{SSHD} not installed (apt-get install openssh-server)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"sshd tests cannot run: {problem}")
        pytest.skip(problem)


def keygen(path: Path, key_type: str = "ed25519") -> Path:
    """Make an unencrypted key pair (``path`` and ``path.pub``) with OpenSSH's own ssh-keygen."""
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    return path


def fingerprint(pub: Path) -> str:
    """OpenSSH's SHA256 fingerprint of a public key file, to compare with what we report."""
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
                         check=True, capture_output=True, text=True).stdout
    return out.split()[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """One sshd process; ``restart(new_host_key=True)`` simulates a reinstalled server."""

    def __init__(self, workdir: Path, client_pub: Path, name: str = "srv"):
        self.name = name
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text(client_pub.read_text())
        self.host_key = keygen(self.dir / "host_key_1")
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host_pub(self) -> Path:
        return self.host_key.with_suffix(".pub")

    @property
    def host_fingerprint(self) -> str:
        return fingerprint(self.host_pub)

    def known_hosts_line(self, *names: str) -> str:
        """A known_hosts line pinning this server's key under ``names`` (default: ``[127.0.0.1]:port``)."""
        typ, b64 = self.host_pub.read_text().split()[:2]
        return f"{','.join(names or (f'[127.0.0.1]:{self.port}',))} {typ} {b64}\n"

    def _write_config(self) -> None:
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"PidFile {self.dir / 'sshd.pid'}\nAuthorizedKeysFile {self.authorized_keys}\n"
            "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "Subsystem sftp internal-sftp\nMaxStartups 50\nLogLevel ERROR\n"
            # bash sources ~/.bashrc for commands sent over SSH unless SHLVL shows it is nested; this
            # machine's root .bashrc (pyenv init) costs ~0.1 s per command, which tests need not pay.
            "SetEnv SHLVL=1\n")

    def start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self._write_config()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.01)
        raise RuntimeError(f"sshd did not listen on port {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        """Kill and reap (a killed sshd otherwise lingers defunct for seconds)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, new_host_key: bool = False) -> None:
        self.stop()
        if new_host_key:
            n = int(self.host_key.name.rsplit("_", 1)[1]) + 1
            self.host_key = keygen(self.dir / f"host_key_{n}")
        self.start()


class Servers:
    """A client key pair plus ``count`` running sshds that accept it."""

    def __init__(self, workdir: Path, count: int):
        self.dir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.client_key = keygen(workdir / "client_key")
        self.other_key = keygen(workdir / "other_key")  # not authorized anywhere
        self.sshds = [Sshd(workdir / f"s{i}", self.client_key.with_suffix(".pub"), name=f"s{i}")
                      for i in range(count)]

    def __getitem__(self, i: int) -> Sshd:
        return self.sshds[i]

    def __len__(self) -> int:
        return len(self.sshds)

    def known_hosts(self, path: Path) -> Path:
        """Write a known_hosts file pinning every server under its loopback address and port."""
        path.write_text("".join(s.known_hosts_line() for s in self.sshds))
        path.chmod(0o600)
        return path


@contextlib.contextmanager
def running(workdir: Path, count: int = 1) -> Iterator[Servers]:
    """Start ``count`` sshds (skipping the test when that is impossible) and stop them afterwards."""
    require_sshd()
    servers = Servers(workdir, count)
    try:
        for s in servers.sshds:
            s.start()
        yield servers
    finally:
        for s in servers.sshds:
            s.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """One running sshd (``sshd[0]``), killed after the module."""
    with running(tmp_path_factory.mktemp("sshd")) as servers:
        yield servers
