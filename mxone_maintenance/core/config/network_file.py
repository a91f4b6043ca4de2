"""A server's own network configuration: the file its boot reads to bring up its base address.

After create / add-lim the interface's configured address is the *new* base; after delete / remove-lim
the old one again. A reboot brings up only what this file says; the alias is the agent's alone
(DESIGN §3). Three styles, as servers run them: SUSE's `/etc/sysconfig/network/ifcfg-<if>` (MX-ONE
servers), Debian's ifupdown (`/etc/network/interfaces` or a file in `interfaces.d/`), systemd-networkd
(a `.network` file whose [Match] names the interface). Pure: text in, text out; the utility reads and
stages the file over SSH like every other cluster file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Interface


class Style(Enum):
    SUSE = "suse"
    IFUPDOWN = "ifupdown"
    NETWORKD = "networkd"


class NetworkFileError(ValueError):
    """The file does not say what we must change (one line, names the file and what was looked for)."""


@dataclass(frozen=True)
class NetworkFile:
    style: Style
    path: str                   # on the server

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def candidates(interface: str) -> list[NetworkFile]:
    """Where each style keeps an interface's address, in the order they are looked for."""
    return [NetworkFile(Style.SUSE, f"/etc/sysconfig/network/ifcfg-{interface}"),
            NetworkFile(Style.IFUPDOWN, f"/etc/network/interfaces.d/{interface}"),
            NetworkFile(Style.IFUPDOWN, "/etc/network/interfaces"),
            NetworkFile(Style.NETWORKD, f"/etc/systemd/network/10-{interface}.network")]


def configured_addresses(style: Style, text: str, interface: str) -> list[IPv4Interface]:
    """Every IPv4 address the file brings up on the interface at boot (with its prefix)."""
    return [address for _, address in _address_slots(style, text, interface)]


def with_address(style: Style, text: str, interface: str, old: IPv4Interface, new: IPv4Interface,
                 file_name: str = "") -> str:
    """The text with the configured address `old` replaced by `new`, every other byte kept.

    Already `new` (a rerun after an interruption): the text unchanged. Neither there: NetworkFileError.
    """
    slots = _address_slots(style, text, interface)
    if any(address == new for _, address in slots):
        return text
    for span, address in slots:
        if address == old:
            start, end = span
            return text[:start] + _render(style, text[start:end], new) + text[end:]
    found = ", ".join(str(a) for _, a in slots) or "none"
    raise NetworkFileError(f"{file_name or style.value}: no address {old} for {interface} to change "
                           f"(it configures: {found})")


# --- the styles -------------------------------------------------------------------------------------

_SUSE_LINE = re.compile(r"^[ \t]*(IPADDR(?:_\w+)?)[ \t]*=[ \t]*(['\"]?)([^'\"\s#]*)\2[ \t]*(?:#.*)?$", re.M)
_SUSE_PREFIX = re.compile(r"^[ \t]*(?:PREFIXLEN|NETMASK)(_\w+)?[ \t]*=[ \t]*['\"]?([\d.]+)['\"]?", re.M)
_IFUPDOWN_IFACE = re.compile(r"^[ \t]*iface[ \t]+(\S+)[ \t]+inet[ \t]+static\b.*$", re.M)
_IFUPDOWN_STANZA_END = re.compile(r"^[ \t]*(iface|auto|allow-\S+|mapping|source\S*)\b", re.M)
_IFUPDOWN_ADDRESS = re.compile(r"^[ \t]*address[ \t]+(\S+)", re.M)
_IFUPDOWN_NETMASK = re.compile(r"^[ \t]*netmask[ \t]+(\S+)", re.M)
_NETWORKD_NAME = re.compile(r"^[ \t]*Name[ \t]*=[ \t]*(.+?)[ \t]*$", re.M)
_NETWORKD_ADDRESS = re.compile(r"^[ \t]*Address[ \t]*=[ \t]*(\S+)", re.M)

Slot = tuple[tuple[int, int], IPv4Interface]     # (start, end) of the address text, its value


def _address_slots(style: Style, text: str, interface: str) -> list[Slot]:
    if style is Style.SUSE:
        return _suse_slots(text)
    if style is Style.IFUPDOWN:
        return _ifupdown_slots(text, interface)
    return _networkd_slots(text, interface)


def _parse(value: str, prefix: str | None) -> IPv4Interface | None:
    try:
        return IPv4Interface(value if "/" in value or prefix is None else f"{value}/{prefix}")
    except ValueError:
        return None


def _suse_slots(text: str) -> list[Slot]:
    prefixes = {suffix or "": length for suffix, length in _SUSE_PREFIX.findall(text)}
    slots = []
    for match in _SUSE_LINE.finditer(text):
        suffix = match.group(1)[len("IPADDR"):]
        address = _parse(match.group(3), prefixes.get(suffix))
        if address is not None and match.group(3):
            slots.append((match.span(3), address))
    return slots


def _ifupdown_slots(text: str, interface: str) -> list[Slot]:
    slots = []
    for iface in _IFUPDOWN_IFACE.finditer(text):
        if iface.group(1) != interface:
            continue
        end_match = _IFUPDOWN_STANZA_END.search(text, iface.end())
        stanza_end = end_match.start() if end_match else len(text)
        stanza = text[iface.end():stanza_end]
        netmask = _IFUPDOWN_NETMASK.search(stanza)
        for match in _IFUPDOWN_ADDRESS.finditer(stanza):
            address = _parse(match.group(1), netmask.group(1) if netmask else None)
            if address is not None:
                start = iface.end() + match.start(1)
                slots.append(((start, start + len(match.group(1))), address))
    return slots


def _networkd_slots(text: str, interface: str) -> list[Slot]:
    names = " ".join(_NETWORKD_NAME.findall(text)).split()
    if interface not in names:
        return []
    slots = []
    for match in _NETWORKD_ADDRESS.finditer(text):
        address = _parse(match.group(1), None)
        if address is not None:
            slots.append((match.span(1), address))
    return slots


def _render(style: Style, written: str, new: IPv4Interface) -> str:
    """The new address in the form the old one was written (with or without its prefix)."""
    return str(new.with_prefixlen) if "/" in written or style is Style.NETWORKD else str(new.ip)


def suse_file(address: IPv4Interface, interface: str = "eth0") -> str:
    """A minimal SUSE ifcfg file that brings up one static address (what a fresh server has)."""
    return (f"# {interface}: static, brought up at boot\nBOOTPROTO='static'\nSTARTMODE='auto'\n"
            f"IPADDR='{address.with_prefixlen}'\n")
