"""ARP on the cluster interface as the daemon uses it (probe, gratuitous ARP, asking the peers), over
one raw socket kept open (arp.py): opening one costs ~25 ms."""
from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address
from typing import TypeVar

from mxone_maintenance.agent.effects import arp
from mxone_maintenance.agent.effects.interfaces import EffectError

T = TypeVar("T")


class RawArp:
    """ARP on one interface with raw frames (arp.py) over one socket kept open (opening one costs
    ~25 ms); a probe costs ``timeout`` when unanswered, well under a millisecond otherwise."""

    def __init__(self, ifname: str, timeout: float = 0.3, tries: int = 2) -> None:
        self.ifname = ifname
        self.timeout = timeout
        self.tries = tries
        self._socket: arp.ArpSocket | None = None

    def probe(self, ip: IPv4Address | str) -> str | None:
        return self._use(f"ARP probe for {ip}", lambda sock: sock.probe(ip, self.timeout, self.tries))

    def announce(self, ip: IPv4Address | str) -> None:
        self._use(f"gratuitous ARP for {ip}", lambda sock: sock.announce(ip))

    def ask(self, sender: IPv4Address | str, targets: list[IPv4Address | str]) -> None:
        self._use("ARP requests for the peers", lambda sock: sock.ask(sender, targets))

    def own_mac(self) -> str:
        return self._use("MAC", lambda sock: arp.mac_text(sock.mac))

    def _use(self, what: str, action: Callable[[arp.ArpSocket], T]) -> T:
        """Run ``action`` on the open socket; reopen once if it failed (the interface may have been
        recreated, which leaves the old socket bound to nothing)."""
        try:
            return action(self._open())
        except OSError:
            self.close()
        try:
            return action(self._open())
        except OSError as exc:
            self.close()
            raise EffectError(f"{what} on {self.ifname}: {exc}") from exc

    def _open(self) -> arp.ArpSocket:
        if self._socket is None:
            self._socket = arp.ArpSocket(self.ifname)
        return self._socket

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
