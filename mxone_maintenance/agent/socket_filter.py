"""The heartbeat socket's filter in the kernel: only datagrams from the members' base addresses are
queued on it, the rest are dropped before they take room in its buffer or any of the agent's time.

A flood of forged datagrams from a non-member fills a socket's receive buffer faster than any reader can
drain it, so genuine heartbeats are dropped by the kernel and a healthy peer looks failed (or a takeover
is heard late). A classic BPF program on the socket (SO_ATTACH_FILTER) compares the IPv4 source address
with each member's and keeps or drops the datagram; the socket owns it (no firewall table to leave
behind), and attaching a new one replaces the old atomically when the members change.

A forged datagram with a member's source address still passes (the HMAC and the replay window refuse
it); the larger receive buffer gives the genuine ones room beside such a flood.
"""
from __future__ import annotations

import socket
import struct
from array import array
from collections.abc import Iterable
from ipaddress import IPv4Address

SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RECEIVE_BUFFER = 4 * 1024 * 1024        # bytes asked for: ~10,000 heartbeats, seconds of a flood

# classic BPF (linux/filter.h)
LD_W_ABS = 0x20                         # A = 32-bit word at k
JEQ_K = 0x15                            # if A == k: skip jt, else skip jf
RET_K = 0x06                            # return k: bytes of the datagram to keep (0: drop)
SKF_NET_OFF = -0x100000                 # k relative to the IP header
IP_SOURCE = 12                          # the source address's offset in the IPv4 header
KEEP, DROP = 0xFFFFFFFF, 0


def member_program(addresses: Iterable[str]) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) instructions: keep a datagram whose source is one of `addresses`, drop the rest
    (no addresses: drop all)."""
    words = sorted({int(IPv4Address(address)) for address in addresses})
    program = [(LD_W_ABS, 0, 0, (SKF_NET_OFF + IP_SOURCE) & 0xFFFFFFFF)]
    for i, word in enumerate(words):
        program.append((JEQ_K, len(words) - i, 0, word))      # equal: jump over the rest and DROP to KEEP
    program += [(RET_K, 0, 0, DROP), (RET_K, 0, 0, KEEP)]
    return program


def attach_member_filter(sock: socket.socket, addresses: Iterable[str]) -> None:
    """Only `addresses` reach `sock` from now on. Raises OSError where the kernel has no socket filters."""
    program = member_program(addresses)
    # The program in an array, whose buffer address goes into struct sock_fprog: not ctypes, which the
    # daemon would load (~0.5 MB) for this one pointer. The array lives until setsockopt has copied it.
    code = array("B", b"".join(struct.pack("HBBI", *insn) for insn in program))
    fprog = struct.pack("HL", len(program), code.buffer_info()[0])   # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)     # the kernel copies the program


def enlarge_receive_buffer(sock: socket.socket, size: int = RECEIVE_BUFFER) -> int:
    """Ask for `size` bytes of receive buffer (beyond net.core.rmem_max as root); what the socket got."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
