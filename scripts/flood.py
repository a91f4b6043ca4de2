#!/usr/bin/env python3
"""flood: forged heartbeat datagrams from the lab's client host, as fast as one process sends them.

Random 300-byte datagrams (no valid HMAC) to each TARGET (address:port) in turn, from the client's own
address (10.77.0.30, not a member). The failover benchmark's `--flood` runs one for the whole of every run
to show that a flood neither delays a takeover nor causes a false one (issue: socket buffer starvation).

    scripts/flood.py 10.77.0.20:7400 10.77.0.111:7400 --seconds 30      # inside the client namespace
    with Flood(["10.77.0.20:7400"], seconds=60) as flood: ...          # from the root namespace
    flood.sent                                                          # datagrams sent, after the with
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

CLIENT_NETNS = "mxlab-client"


def flood(targets: list[tuple[str, int]], seconds: float, stopped: list[int]) -> int:
    """Datagrams sent until `seconds` passed or `stopped` is not empty (SIGTERM)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = os.urandom(300)
    end, sent = time.monotonic() + seconds, 0
    while time.monotonic() < end and not stopped:
        for target in targets:
            try:
                sock.sendto(payload, target)
                sent += 1
            except OSError:         # the queue is full or the target's neighbour entry is not ready
                time.sleep(0.0005)
    return sent


class Flood:
    """A flood process in the client namespace for at most `seconds` (stopped when the with ends)."""

    def __init__(self, targets: list[str], seconds: float) -> None:
        self.argv = ["ip", "netns", "exec", CLIENT_NETNS, sys.executable, str(Path(__file__).resolve()),
                     *targets, "--seconds", f"{seconds:g}"]
        self.sent = 0
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Flood:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process is not None
        self.process.terminate()            # SIGTERM: the script prints what it sent and ends
        out, _ = self.process.communicate(timeout=10)
        self.sent = int(out.split()[-1]) if out.strip() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flood", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", metavar="ADDRESS:PORT")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    targets = [(address, int(port)) for address, port in (t.rsplit(":", 1) for t in args.targets)]
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopped.append(signum))
    print("sent", flood(targets, args.seconds, stopped), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
