"""The alias addresses on the cluster interface, via netlink (rtnl.py), in the agent's own network
namespace. Read from the kernel on every query, so an agent that restarts finds an alias still held."""
from __future__ import annotations

from ipaddress import IPv4Interface

from mxone_maintenance.agent.effects import rtnl
from mxone_maintenance.agent.effects.interfaces import EffectError

EEXIST = 17
EADDRNOTAVAIL = 99


class NetlinkAddresses:
    """IPv4 addresses of one interface in the agent's own network namespace, via netlink.

    ``add`` and ``remove`` are idempotent: the daemon repeats an action after a crash or a lost
    reply, and "already there" / "already gone" (EEXIST / EADDRNOTAVAIL) is then success.
    Before the first removal it turns on ``promote_secondaries`` for the interface: without it the
    kernel deletes every secondary address of a subnet with its primary, and on a server where the
    alias was configured before the new base address, removing the alias would take the base
    address (and the server's management access) with it.
    """

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self._promoting = False

    def _index(self) -> int:
        return rtnl.index_of(self.ifname)

    def list(self) -> list[IPv4Interface]:
        return rtnl.addresses(self._index())

    def has(self, addr: IPv4Interface) -> bool:
        return IPv4Interface(addr) in self.list()

    def carrier(self) -> bool:
        """Whether the interface has a link (cable in, peer up): a server whose cable is out hears
        nobody, and its announcements reach nobody."""
        return rtnl.link(self._index()).carrier

    def add(self, addr: IPv4Interface) -> None:
        addr = IPv4Interface(addr)
        self._change("add", addr, ignore=EEXIST)

    def remove(self, addr: IPv4Interface) -> None:
        addr = IPv4Interface(addr)
        self._promote_secondaries()
        self._change("del", addr, ignore=EADDRNOTAVAIL)

    def _change(self, command: str, addr: IPv4Interface, ignore: int) -> None:
        try:
            rtnl.change_address(command == "add", self._index(), addr)
        except rtnl.NetlinkError as exc:
            if exc.code != ignore:
                raise EffectError(f"ip address {command} {addr} dev {self.ifname}: {exc}") from exc

    def _promote_secondaries(self) -> None:
        if self._promoting:
            return
        path = f"/proc/sys/net/ipv4/conf/{self.ifname}/promote_secondaries"
        try:
            with open(path, "w") as handle:
                handle.write("1\n")
        except OSError as exc:
            raise EffectError(f"cannot set {path}: {exc}") from exc
        self._promoting = True

    def close(self) -> None:
        return None
