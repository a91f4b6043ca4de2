"""A server that accepts TCP but never speaks SSH (a host half booted, a port taken by something else):
the technician sees one line, never paramiko's traceback from its transport thread."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading

PROGRAM = """
import sys
from pathlib import Path
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.settings import Host, SshSettings
from mxone_maintenance.utility.remote.ssh import Connection
settings = SshSettings(key_file=Path("/nonexistent"), known_hosts=Path("/nonexistent"), connect_timeout=2)
try:
    Connection(Host("lim1", "127.0.0.1", int(sys.argv[1])), settings).open()
except RemoteError as err:
    print(err)
"""


def test_no_banner_is_one_line_and_no_traceback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def accept_and_close() -> None:
        for _ in range(4):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"\\x00garbage\\r\\n" * 3)
            conn.close()
    threading.Thread(target=accept_and_close, daemon=True).start()
    try:
        done = subprocess.run([sys.executable, "-c", PROGRAM, str(server.getsockname()[1])], capture_output=True,
                              text=True, timeout=60)
    finally:
        server.close()
    assert "Traceback" not in done.stderr and "Exception (client)" not in done.stderr, done.stderr
    assert done.stdout.strip().startswith("lim1 (127.0.0.1:"), done.stdout
    assert len(done.stdout.strip().splitlines()) == 1
