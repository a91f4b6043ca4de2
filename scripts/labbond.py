"""The lab's two-link network redundancy (`scripts/lab up --bond`), Python 3 standard library only.

This kernel has no bonding driver (CONFIG_BONDING and CONFIG_NET_TEAM are not set, and no modules can be
loaded), so a lab host's bond is a stand-in built from what the kernel has, and behaves like an
active-backup bond seen from outside:

- `eth0` in the host is a bridge (ifalias "lab-bond:active-backup") with two ports, the veths `link1`
  and `link2`. Their peers are the ports `<host>-1` on br0 and `<host>-2` on br1 in the bridge
  namespace; br0 and br1 are the two switches of Figure 2.1, joined by an inter-switch link
  (veth isl0 on br0, isl1 on br1) as redundant switches are. The root namespace's veth stays on br0:
  the ISL reaches every host over either of its links.
- Only the active link carries frames: an nftables table `bridge lab_bond` in the host drops every
  frame in and out of the backup port (so the two switches never loop through a host). Both ports
  stay forwarding, so eth0 keeps its carrier while one link works and loses it when both are down,
  as a bond does.
- The host's "bonding driver" is `labbond.py monitor` (a host process, dies with the host as the
  kernel's would): it wakes on every link event (rtnetlink, RTMGRP_LINK) and at least every MII_S,
  reads the ports' carrier, and when the active link has none and the other has, makes the other
  active (one nft transaction) and sends a gratuitous ARP for every IPv4 address on eth0 so both
  switches learn where the host is now (bond's num_grat_arp). No primary: a link that comes back
  stays backup (no second switch-over), as active-backup without `primary`.
- The agent reads the redundancy as it would a bond's slaves: the interfaces whose master is eth0 and
  their operstate, by netlink (agent/effects/bond.py knows the ifalias).
"""
from __future__ import annotations

import array
import ctypes
import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time

BOND_ALIAS = "lab-bond:active-backup"   # eth0's ifalias: what agent/effects/bond.py recognises
SLAVES = ("link1", "link2")
SWITCHES = ("br0", "br1")
ISL = ("isl0", "isl1")
TABLE = "lab_bond"
MII_S = 0.05                  # the polling fallback (miimon 50); events come at once
RTMGRP_LINK = 1
STATE_FILE = "/run/lab-bond.active"   # in the host's own /run: which link is active


def port(host: str, link: int) -> str:
    """The bridge namespace's port of a host's link 1 or 2."""
    return f"{host}-{link}"


def switch_commands() -> list[str]:
    """`ip -batch` lines in the bridge namespace: br1 and the inter-switch link (br0 is made as today)."""
    return [f"link add {SWITCHES[1]} type bridge forward_delay 0 stp_state 0",
            f"link add {ISL[0]} type veth peer name {ISL[1]}",
            f"link set {ISL[0]} master {SWITCHES[0]} up", f"link set {ISL[1]} master {SWITCHES[1]} up",
            f"link set {SWITCHES[1]} up"]


def host_link_commands(host: str, netns: str, bridge_ns: str) -> list[str]:
    """`ip -batch` lines in the root namespace: a host's two veths, each to its own switch."""
    return [f"link add {SLAVES[i]} netns {netns} type veth peer name {port(host, i + 1)} netns {bridge_ns}"
            for i in range(2)]


def port_commands(host: str) -> list[str]:
    """In the bridge namespace: the host's ports on their switches."""
    return [f"link set {port(host, i + 1)} master {SWITCHES[i]} up" for i in range(2)]


def bond_commands() -> list[str]:
    """In the host: eth0 as the bond stand-in over link1 and link2 (ports down until power on). eth0 gets a
    MAC of its own: a bridge would take its lowest port's, and then a frame a port sends by itself (its
    IPv6 link-local traffic, which no bridge hook sees) would teach the backup switch the host's MAC."""
    mac = "02:" + ":".join(f"{b:02x}" for b in os.urandom(5))
    return ["link add eth0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0",
            f"link set eth0 address {mac}", f"link set eth0 alias {BOND_ALIAS}"] + \
        [f"link set {slave} master eth0" for slave in SLAVES]


def quiet_slaves(netns: str) -> None:
    """No IPv6 on the links themselves: a port of a bridge sends its own ND/MLD frames past nftables."""
    subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw"]
                   + [f"net.ipv6.conf.{slave}.disable_ipv6=1" for slave in SLAVES], check=True,
                   capture_output=True)


def nft_script(active: str) -> str:
    backup = SLAVES[1] if active == SLAVES[0] else SLAVES[0]
    return (f"add table bridge {TABLE}\nflush table bridge {TABLE}\n"
            f"add chain bridge {TABLE} in {{ type filter hook prerouting priority -300; }}\n"
            f"add chain bridge {TABLE} out {{ type filter hook postrouting priority 300; }}\n"
            f"add rule bridge {TABLE} in iifname \"{backup}\" drop\n"
            f"add rule bridge {TABLE} out oifname \"{backup}\" drop\n")


def set_active(active: str, nsenter: list[str] | None = None) -> None:
    """Only `active` carries frames (one nft transaction). nsenter: the argv prefix into the host."""
    result = subprocess.run((nsenter or []) + ["nft", "-f", "-"], input=nft_script(active), text=True,
                            capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"nft: {result.stderr.strip()}")


# ---------------------------------------------------------------- the monitor (runs inside a host)

class Nft:
    """nftables in this process through libnftables (ctypes): a switch-over in ~1 ms instead of the
    ~15 ms of starting `nft`; the nft command where the library is missing."""

    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL("libnftables.so.1")
            self.lib.nft_ctx_new.restype = ctypes.c_void_p
            self.lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            self.ctx = self.lib.nft_ctx_new(0)
        except OSError:
            self.lib = None

    def set_active(self, active: str) -> None:
        if self.lib is None or self.lib.nft_run_cmd_from_buffer(self.ctx, nft_script(active).encode()) != 0:
            set_active(active)


def carrier(ifname: str) -> bool:
    try:
        with open(f"/sys/class/net/{ifname}/carrier") as handle:
            return handle.read().strip() == "1"
    except OSError:           # EINVAL while the interface is down
        return False


def ipv4_addresses(ifname: str) -> list[str]:
    """Every IPv4 address on IFNAME (SIOCGIFCONF lists each one, secondaries too, by label)."""
    size = 40                                   # struct ifreq on 64-bit Linux
    buffer = array.array("B", bytes(size * 128))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("iL", len(buffer), buffer.buffer_info()[0])
        length, _ = struct.unpack("iL", fcntl.ioctl(sock.fileno(), 0x8912, request))
    data, found = buffer.tobytes(), []
    for offset in range(0, length, size):
        name = data[offset:offset + 16].split(b"\0", 1)[0].decode()
        if name == ifname or name.startswith(ifname + ":"):
            found.append(socket.inet_ntoa(data[offset + 20:offset + 24]))
    return found


def gratuitous_arp(ifname: str, addresses: list[str]) -> None:
    try:
        mac = bytes.fromhex(open(f"/sys/class/net/{ifname}/address").read().strip().replace(":", ""))
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
            sock.bind((ifname, 0))
            for address in addresses:
                ip = socket.inet_aton(address)
                arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip, b"\0" * 6, ip)
                sock.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
    except OSError as error:
        print(f"lab-bond: gratuitous ARP on {ifname}: {error}", file=sys.stderr, flush=True)


def write_active(active: str) -> None:
    with open(STATE_FILE + ".tmp", "w") as handle:
        handle.write(active + "\n")
    os.replace(STATE_FILE + ".tmp", STATE_FILE)


def monitor(bond: str = "eth0") -> None:
    events = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    events.bind((0, RTMGRP_LINK))
    nft = Nft()
    active = next((s for s in SLAVES if carrier(s)), SLAVES[0])
    nft.set_active(active)
    write_active(active)
    print(f"lab-bond: {bond} active-backup over {', '.join(SLAVES)}: {active} active", flush=True)
    while True:
        readable, _, _ = select.select([events], [], [], MII_S)
        if readable:
            with_data = True
            while with_data:
                try:
                    events.recv(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    with_data = False
        other = SLAVES[1] if active == SLAVES[0] else SLAVES[0]
        if not carrier(active) and carrier(other):
            started = time.monotonic()
            nft.set_active(other)
            gratuitous_arp(bond, ipv4_addresses(bond))
            active = other
            write_active(active)
            print(f"lab-bond: {other} active ({1000 * (time.monotonic() - started):.0f} ms)", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["monitor"]:
        monitor(*sys.argv[2:3])
    else:
        sys.exit("usage: labbond.py monitor [BOND]")
