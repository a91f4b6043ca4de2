"""The agent's effects on the world behind small interfaces, so ``decide()`` and the daemon loop
are tested with the Fake* classes and no root; the real classes are tested in network namespaces.

- Addresses: the alias addresses on the cluster interface (netlink via pyroute2).
- Neighbours: ARP probe and gratuitous ARP (raw AF_PACKET, see arp.py).
- Firewall: a preloaded passive side keeps the alias but the kernel must not answer for it
  (nftables tables ``arp mxone_block`` and ``inet mxone_block``, one set of blocked aliases each).
- Service: start and stop a LIM's Service Node (argv templates from agent.yaml).

The real classes read the kernel's state on every query instead of caching it, so an agent that
restarts finds what its previous run left (an alias still held, an alias still blocked).
"""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from typing import Protocol

from mxone_maintenance.agent import arp

NFT = "nft"
NFT_TABLE = "mxone_block"
NFT_SET = "aliases"
NFT_TIMEOUT_S = 10.0
SERVICE_TIMEOUT_S = 30.0
EEXIST = 17
EADDRNOTAVAIL = 99


class EffectError(Exception):
    """An effect could not be carried out; the message says what and why (one line where possible)."""


# ---------------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------------

class Addresses(Protocol):
    def has(self, addr: IPv4Interface) -> bool: ...
    def add(self, addr: IPv4Interface) -> None: ...
    def remove(self, addr: IPv4Interface) -> None: ...
    def list(self) -> list[IPv4Interface]: ...
    def carrier(self) -> bool: ...


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


@dataclass
class FakeAddresses:
    """Addresses in memory; ``calls`` records ("add"|"remove", addr) in order."""
    addresses: set[IPv4Interface] = field(default_factory=set)
    calls: list[tuple[str, IPv4Interface]] = field(default_factory=list)
    cable_in: bool = True

    def carrier(self) -> bool:
        return self.cable_in

    def has(self, addr: IPv4Interface) -> bool:
        return IPv4Interface(addr) in self.addresses

    def add(self, addr: IPv4Interface) -> None:
        self.calls.append(("add", IPv4Interface(addr)))
        self.addresses.add(IPv4Interface(addr))

    def remove(self, addr: IPv4Interface) -> None:
        self.calls.append(("remove", IPv4Interface(addr)))
        self.addresses.discard(IPv4Interface(addr))

    def list(self) -> list[IPv4Interface]:
        return sorted(self.addresses)


# ---------------------------------------------------------------------------------------------
# Neighbours (ARP)
# ---------------------------------------------------------------------------------------------

class Neighbours(Protocol):
    def probe(self, ip: IPv4Address | str) -> str | None: ...
    def announce(self, ip: IPv4Address | str) -> None: ...
    def ask(self, sender: IPv4Address | str, targets: list[IPv4Address | str]) -> None: ...
    def own_mac(self) -> str: ...


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

    def _use(self, what: str, action):
        """Run ``action`` on the open socket; reopen once if it failed (the interface may have been
        recreated, which leaves the old socket bound to nothing)."""
        for attempt in (1, 2):
            try:
                if self._socket is None:
                    self._socket = arp.ArpSocket(self.ifname)
                return action(self._socket)
            except OSError as exc:
                self.close()
                if attempt == 2:
                    raise EffectError(f"{what} on {self.ifname}: {exc}") from exc

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


@dataclass
class FakeNeighbours:
    """``answers`` maps an IP (text) to the MAC that answers a probe for it; the rest are free."""
    answers: dict[str, str] = field(default_factory=dict)
    mac: str = "02:00:00:00:00:aa"
    probes: list[str] = field(default_factory=list)
    announces: list[str] = field(default_factory=list)
    asked: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def probe(self, ip: IPv4Address | str) -> str | None:
        self.probes.append(str(ip))
        return self.answers.get(str(ip))

    def announce(self, ip: IPv4Address | str) -> None:
        self.announces.append(str(ip))

    def ask(self, sender: IPv4Address | str, targets: list[IPv4Address | str]) -> None:
        self.asked.append((str(sender), tuple(str(t) for t in targets)))

    def own_mac(self) -> str:
        return self.mac


# ---------------------------------------------------------------------------------------------
# Firewall (preloaded passive side)
# ---------------------------------------------------------------------------------------------

class Firewall(Protocol):
    def block(self, alias: IPv4Address) -> None: ...
    def unblock(self, alias: IPv4Address) -> None: ...
    def blocked(self) -> set[IPv4Address]: ...


def nft_script(aliases: set[IPv4Address]) -> str:
    """One nft transaction that replaces both mxone tables with rules for ``aliases`` (or removes
    them when empty). Recreating instead of editing keeps block/unblock idempotent and repairs
    tables someone changed by hand; the transaction is atomic, so there is no unprotected moment.

    arp table: drop ARP requests asking for a blocked alias (input) and any ARP with it as sender
    (output), so the passive side neither answers for the alias nor advertises it. inet table:
    drop IP to the alias arriving from outside and IP from the alias leaving, so the passive LIM
    neither serves nor talks on the network; loopback stays open for local tools.
    """
    lines = []
    for family in ("arp", "inet"):
        lines += [f"add table {family} {NFT_TABLE}", f"delete table {family} {NFT_TABLE}"]
    if not aliases:
        return "\n".join(lines) + "\n"
    elements = ", ".join(str(alias) for alias in sorted(aliases))
    the_set = f"set {NFT_SET} {{ type ipv4_addr; elements = {{ {elements} }}; }}"
    lines += [
        f"table arp {NFT_TABLE} {{",
        f"  {the_set}",
        "  chain input { type filter hook input priority 0; policy accept;",
        f"    arp operation request arp daddr ip @{NFT_SET} drop; }}",
        "  chain output { type filter hook output priority 0; policy accept;",
        f"    arp saddr ip @{NFT_SET} drop; }}",
        "}",
        f"table inet {NFT_TABLE} {{",
        f"  {the_set}",
        "  chain input { type filter hook input priority -10; policy accept;",
        f"    iifname != \"lo\" ip daddr @{NFT_SET} drop; }}",
        "  chain output { type filter hook output priority -10; policy accept;",
        f"    oifname != \"lo\" ip saddr @{NFT_SET} drop; }}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def parse_blocked(listing: str) -> dict[str, set[IPv4Address]]:
    """From ``nft -j list sets``: family -> aliases in our tables' sets (missing family: absent)."""
    found: dict[str, set[IPv4Address]] = {}
    for item in json.loads(listing).get("nftables", []):
        the_set = item.get("set")
        if not the_set or the_set.get("table") != NFT_TABLE or the_set.get("name") != NFT_SET:
            continue
        elements = the_set.get("elem", [])
        elements = elements if isinstance(elements, list) else [elements]
        found[the_set["family"]] = {IPv4Address(element) for element in elements
                                    if isinstance(element, str)}
    return found


class NftFirewall:
    """Blocks aliases with nftables via ``nft``. The kernel's sets are the state: ``blocked()``
    reads them, so an agent restart sees what is still blocked."""

    def __init__(self, nft: str = NFT) -> None:
        self.nft = nft

    def blocked(self) -> set[IPv4Address]:
        """Aliases blocked in either table (a half-blocked alias counts, so unblock cleans it)."""
        sets = parse_blocked(self._run(["-j", "list", "sets"]))
        return set().union(*sets.values()) if sets else set()

    def fully_blocked(self) -> set[IPv4Address]:
        sets = parse_blocked(self._run(["-j", "list", "sets"]))
        return sets.get("arp", set()) & sets.get("inet", set())

    def block(self, alias: IPv4Address) -> None:
        alias = IPv4Address(alias)
        current = self.fully_blocked()
        if alias not in current:
            self._apply(current | {alias})

    def unblock(self, alias: IPv4Address) -> None:
        alias = IPv4Address(alias)
        current = self.blocked()
        if alias in current:
            self._apply(current - {alias})

    def unblock_all(self) -> None:
        """Remove both tables (cluster deleted, or start-up cleanup)."""
        self._apply(set())

    def _apply(self, aliases: set[IPv4Address]) -> None:
        self._run(["-f", "-"], stdin=nft_script(aliases))

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        try:
            done = subprocess.run([self.nft, *args], input=stdin, capture_output=True, text=True,
                                  timeout=NFT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EffectError(f"{self.nft} {' '.join(args)}: {exc}") from exc
        if done.returncode != 0:
            raise EffectError(f"{self.nft} {' '.join(args)}: {_one_line(done.stderr)}")
        return done.stdout


@dataclass
class FakeFirewall:
    aliases: set[IPv4Address] = field(default_factory=set)
    calls: list[tuple[str, IPv4Address]] = field(default_factory=list)

    def block(self, alias: IPv4Address) -> None:
        self.calls.append(("block", IPv4Address(alias)))
        self.aliases.add(IPv4Address(alias))

    def unblock(self, alias: IPv4Address) -> None:
        self.calls.append(("unblock", IPv4Address(alias)))
        self.aliases.discard(IPv4Address(alias))

    def blocked(self) -> set[IPv4Address]:
        return set(self.aliases)


# ---------------------------------------------------------------------------------------------
# Service Node
# ---------------------------------------------------------------------------------------------

class Service(Protocol):
    def start(self, lim: int, alias: IPv4Address) -> None: ...
    def stop(self, lim: int, alias: IPv4Address) -> None: ...


def expand(template: Sequence[str], lim: int, alias: IPv4Address | IPv4Interface, node: str) -> list[str]:
    """Fill ``{lim}``, ``{alias}`` (address without prefix) and ``{node}`` into each argument.
    Plain replacement, not str.format: other braces in an argument stay as they are."""
    values = {"{lim}": str(lim), "{alias}": argv_alias(alias), "{node}": node}
    expanded = []
    for argument in template:
        for placeholder, value in values.items():
            argument = argument.replace(placeholder, value)
        expanded.append(argument)
    return expanded


class CommandService:
    """Starts and stops a LIM's Service Node with the argv templates of agent.yaml.

    An empty template means "nothing to run" (a server without a configured Service Node still
    moves addresses). The command also gets MXONE_LIM, MXONE_ALIAS and MXONE_NODE in its
    environment. It runs to completion (at most ``timeout`` s): the caller decides whether to run
    it off the heartbeat loop.
    """

    def __init__(self, start: Sequence[str], stop: Sequence[str], node: str,
                 timeout: float = SERVICE_TIMEOUT_S) -> None:
        self.templates = {"start": list(start), "stop": list(stop)}
        self.node = node
        self.timeout = timeout

    @classmethod
    def from_settings(cls, service: Mapping[str, Sequence[str]] | None, node: str) -> CommandService:
        """From agent.yaml's ``service:`` mapping (keys start, stop; either may be missing)."""
        service = service or {}
        return cls(service.get("start") or [], service.get("stop") or [], node)

    def start(self, lim: int, alias: IPv4Address) -> None:
        self._run("start", lim, alias)

    def stop(self, lim: int, alias: IPv4Address) -> None:
        self._run("stop", lim, alias)

    def _run(self, action: str, lim: int, alias: IPv4Address) -> None:
        template = self.templates[action]
        if not template:
            return
        argv = expand(template, lim, alias, self.node)
        env = dict(os.environ, MXONE_LIM=str(lim), MXONE_ALIAS=argv_alias(alias), MXONE_NODE=self.node)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  env=env, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            raise EffectError(f"{action} LIM {lim}: {argv[0]} timed out after {self.timeout:g} s") from exc
        except OSError as exc:
            raise EffectError(f"{action} LIM {lim}: {argv[0]}: {exc.strerror or exc}") from exc
        if done.returncode != 0:
            detail = _one_line(done.stderr) or f"exit status {done.returncode}"
            raise EffectError(f"{action} LIM {lim}: {argv[0]} failed: {detail}")


def argv_alias(alias: IPv4Address | IPv4Interface) -> str:
    """The alias as a command argument: the address without prefix."""
    return str(alias.ip if isinstance(alias, IPv4Interface) else alias)


@dataclass
class FakeService:
    """Records ("start"|"stop", lim, alias); ``failing`` LIMs raise EffectError on start."""
    running: set[int] = field(default_factory=set)
    failing: set[int] = field(default_factory=set)
    calls: list[tuple[str, int, IPv4Address]] = field(default_factory=list)

    def start(self, lim: int, alias: IPv4Address) -> None:
        self.calls.append(("start", lim, alias))
        if lim in self.failing:
            raise EffectError(f"start LIM {lim}: fake failure")
        self.running.add(lim)

    def stop(self, lim: int, alias: IPv4Address) -> None:
        self.calls.append(("stop", lim, alias))
        self.running.discard(lim)


def _one_line(text: str, limit: int = 400) -> str:
    """A command's stderr on one line (for logs and alarms), cut at ``limit`` characters."""
    joined = " | ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[:limit - 3] + "..."
