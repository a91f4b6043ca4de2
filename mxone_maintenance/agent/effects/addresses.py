"""The alias addresses on the cluster interface, via netlink (pyroute2), in the agent's own network
namespace. Read from the kernel on every query, so an agent that restarts finds an alias still held."""
from __future__ import annotations

from ipaddress import IPv4Interface

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
        from pyroute2 import IPRoute  # imported here: a unit test of the daemon never needs it

        self.ifname = ifname
        self._ipr = IPRoute()
        self._promoting = False

    def _index(self) -> int:
        """Looked up per call: the interface may be recreated (index changes) while we run."""
        found = self._ipr.link_lookup(ifname=self.ifname)
        if not found:
            raise EffectError(f"interface {self.ifname} not found")
        return found[0]

    def list(self) -> list[IPv4Interface]:
        messages = self._ipr.get_addr(index=self._index(), family=2)
        return [IPv4Interface(f"{m.get_attr('IFA_LOCAL') or m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}")
                for m in messages]

    def has(self, addr: IPv4Interface) -> bool:
        return IPv4Interface(addr) in self.list()

    def carrier(self) -> bool:
        """Whether the interface has a link (cable in, peer up): a server whose cable is out hears
        nobody, and its announcements reach nobody."""
        links = self._ipr.get_links(self._index())
        return bool(links) and links[0].get_attr("IFLA_CARRIER") == 1

    def add(self, addr: IPv4Interface) -> None:
        addr = IPv4Interface(addr)
        self._change("add", addr, ignore=EEXIST)

    def remove(self, addr: IPv4Interface) -> None:
        addr = IPv4Interface(addr)
        self._promote_secondaries()
        self._change("del", addr, ignore=EADDRNOTAVAIL)

    def _change(self, command: str, addr: IPv4Interface, ignore: int) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            self._ipr.addr(command, index=self._index(), address=str(addr.ip),
                           prefixlen=addr.network.prefixlen)
        except NetlinkError as exc:
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
        self._ipr.close()
