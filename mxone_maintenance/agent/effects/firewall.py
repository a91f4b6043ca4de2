"""The preloaded passive side's block (nftables): it keeps the alias, but the kernel must neither answer
for it nor talk with it. Tables ``arp mxone_block`` and ``inet mxone_block``, one set of blocked aliases
each; the kernel's sets are the state, so an agent that restarts sees what is still blocked."""
from __future__ import annotations

import json
from ipaddress import IPv4Address

from mxone_maintenance.agent.commands import NotRun, one_line, run
from mxone_maintenance.agent.effects.interfaces import EffectError

NFT = "nft"
NFT_TABLE = "mxone_block"
NFT_SET = "aliases"
NFT_TIMEOUT_S = 10.0


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
        sets = self._sets()
        return set().union(*sets.values()) if sets else set()

    def fully_blocked(self) -> set[IPv4Address]:
        sets = self._sets()
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

    def _sets(self) -> dict[str, set[IPv4Address]]:
        return parse_blocked(self._run(["-j", "list", "sets"]))

    def _apply(self, aliases: set[IPv4Address]) -> None:
        self._run(["-f", "-"], stdin=nft_script(aliases))

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        what = f"{self.nft} {' '.join(args)}"
        try:
            done = run([self.nft, *args], input=stdin, timeout=NFT_TIMEOUT_S)
        except NotRun as exc:
            raise EffectError(f"{what}: {exc}") from exc.cause
        if not done.ok:
            raise EffectError(f"{what}: {one_line(done.stderr)}")
        return done.stdout
