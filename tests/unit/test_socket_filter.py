"""The heartbeat socket's kernel filter: the program keeps exactly the members' source addresses (checked
with a small classic-BPF interpreter for any set of members), and the kernel runs it on a real socket."""
from __future__ import annotations

import socket
import time
from ipaddress import IPv4Address

from hypothesis import given
from hypothesis import strategies as st

from mxone_maintenance.agent.socket_filter import (
    JEQ_K, LD_W_ABS, RET_K, SKF_NET_OFF, attach_member_filter, enlarge_receive_buffer, member_program,
)

addresses = st.ip_addresses(v=4).map(str)


def run_program(program: list[tuple[int, int, int, int]], source: str) -> int:
    """What the kernel returns for a datagram from `source` (only the instructions member_program uses)."""
    pc, a = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == LD_W_ABS:
            assert k == (SKF_NET_OFF + 12) & 0xFFFFFFFF
            a = int(IPv4Address(source))
        elif code == JEQ_K:
            pc += jt if a == k else jf
        elif code == RET_K:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")
        pc += 1


@given(st.lists(addresses, max_size=12), addresses)
def test_the_program_keeps_a_datagram_exactly_when_its_source_is_a_member(members, source):
    kept = run_program(member_program(members), source) != 0
    assert kept == (source in members)
    for member in members:
        assert run_program(member_program(members), member) != 0


def test_the_kernel_runs_it_on_a_real_socket():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        assert enlarge_receive_buffer(receiver, 2 * 1024 * 1024) >= 2 * 1024 * 1024
        attach_member_filter(receiver, ["127.0.0.2", "127.0.0.5"])
        for source in ("127.0.0.2", "127.0.0.3", "127.0.0.5", "127.0.0.4"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.bind((source, 0))
                sender.sendto(source.encode(), receiver.getsockname())
        time.sleep(0.05)
        got = []
        while True:
            try:
                got.append(receiver.recv(64).decode())
            except BlockingIOError:
                break
        assert got == ["127.0.0.2", "127.0.0.5"]
