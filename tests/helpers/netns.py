"""Two real network namespaces on one veth link, for the agent's network effects (needs root).

Code under test runs inside a namespace in a forked child (setns), so it is the very function the agent
calls, not a copy in a subprocess.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import re
import subprocess
from collections.abc import Iterator

import pytest

A_IP, B_IP = "10.99.0.1", "10.99.0.2"
CLONE_NEWNET = 0x40000000


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("network-namespace tests need root (CI=true)")
        pytest.skip("network-namespace tests need root")


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def in_netns(ns: str, fn, *args):
    """Run ``fn(*args)`` in a forked child that joined namespace ``ns``; return or raise its result."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        try:
            os.close(read_end)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
            outcome = (True, fn(*args))
        except BaseException as exc:  # noqa: B036 - everything goes back to the parent
            outcome = (False, exc)
        try:
            payload = pickle.dumps(outcome)
        except Exception:
            payload = pickle.dumps((False, RuntimeError(repr(outcome[1]))))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def remove_stale_namespaces() -> None:
    """Namespaces left by an earlier run that was killed (its pid is gone)."""
    for name in re.findall(r"^(mxtest-(\d+)-\S+)", sh("ip", "netns", "list"), re.M):
        try:
            os.kill(int(name[1]), 0)
        except ProcessLookupError:
            subprocess.run(["ip", "netns", "del", name[0]], check=False)


def two_namespaces(tag: str) -> Iterator[tuple[str, str]]:
    """Namespaces A (10.99.0.1) and B (10.99.0.2) on one veth link, each with eth0; removed afterwards."""
    require_root()
    remove_stale_namespaces()
    a, b = f"mxtest-{os.getpid()}-{tag}-a", f"mxtest-{os.getpid()}-{tag}-b"
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "link", "add", "eth0", "netns", a, "type", "veth", "peer", "name", "eth0", "netns", b)
        for ns, address in ((a, A_IP), (b, B_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def mac_of(ns: str) -> str:
    return re.search(r"link/ether (\S+)", sh("ip", "-n", ns, "link", "show", "eth0")).group(1)
