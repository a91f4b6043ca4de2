"""A server's addresses as remote changes: the base address on the interface now, and in the server's
own network configuration for its next boot.

Removing an address must never cut the connection: on Linux the first address of a subnet is primary
and removing it drops every secondary of that subnet (the alias the SSH session may use) unless
`promote_secondaries` is on, so it is turned on first. Every change is idempotent, so a rerun after an
interruption converges: an address already there is replaced, one already gone is not removed again,
a network file that already names the new address is left as it is.
"""
from __future__ import annotations

from ipaddress import IPv4Interface

from mxone_maintenance.core.config.network_file import (
    NetworkFile,
    NetworkFileError,
    candidates,
    configured_addresses,
    with_address,
)
from mxone_maintenance.utility.ops.plan import AddAddress, RemoveAddress, SetBootAddress
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.ssh import Connection
from mxone_maintenance.utility.remote.transaction import RunCommand
from mxone_maintenance.utility.remote.transaction import WriteFile as RemoteWriteFile


def _ip(verb: str, address: IPv4Interface, interface: str) -> tuple[str, ...]:
    return ("ip", "addr", verb, str(address), "dev", interface)


def _keep_secondaries(interface: str) -> RunCommand:
    # the slash form: an interface name may hold a dot (eth0.100), which the dotted form reads as a level
    return RunCommand(("sysctl", "-q", "-w", f"net/ipv4/conf/{interface}/promote_secondaries=1"),
                      describe=f"keep the other addresses of {interface} when one is removed")


def current_addresses(conn: Connection, interface: str) -> set[IPv4Interface]:
    out = conn.run(["ip", "-4", "-o", "addr", "show", "dev", interface]).stdout
    found = set()
    for line in out.splitlines():
        words = line.split()
        if "inet" in words and words.index("inet") + 1 < len(words):
            found.add(IPv4Interface(words[words.index("inet") + 1]))
    return found


def add_address(step: AddAddress) -> list[RunCommand]:
    return [RunCommand(_ip("replace", step.address, step.interface), undo=_ip("del", step.address, step.interface),
                       describe=step.describe())]


def remove_address(conn: Connection, step: RemoveAddress) -> list[RunCommand]:
    if step.address not in current_addresses(conn, step.interface):
        return []                     # already gone (an interrupted run before this one)
    return [_keep_secondaries(step.interface),
            RunCommand(_ip("del", step.address, step.interface), undo=_ip("replace", step.address, step.interface),
                       describe=step.describe())]


def find_network_file(conn: Connection, interface: str) -> tuple[NetworkFile, str] | None:
    """The first file that configures the interface's address at boot, and its text."""
    for candidate in candidates(interface):
        data = conn.read_file(candidate.path)
        if data is not None and configured_addresses(candidate.style, data.decode(errors="replace"), interface):
            return candidate, data.decode(errors="replace")
    return None


def boot_address(conn: Connection, step: SetBootAddress) -> list[RemoteWriteFile]:
    """The network file with the new address. Joining, a server without one is refused (a reboot would
    bring up the alias); leaving, there is nothing of ours to restore, so nothing changes."""
    found = find_network_file(conn, step.interface)
    if found is None:
        if not step.required:
            return []
        looked = ", ".join(c.path for c in candidates(step.interface))
        raise RemoteError(conn.host, f"no network configuration names an address for {step.interface} "
                                     f"(looked in {looked})")
    network_file, text = found
    try:
        changed = with_address(network_file.style, text, step.interface, step.old, step.new, network_file.path)
    except NetworkFileError as err:
        raise RemoteError(conn.host, str(err)) from None
    if changed == text:
        return []
    return [RemoteWriteFile(network_file.path, changed.encode(), _mode_of(conn, network_file.path))]


def _mode_of(conn: Connection, path: str) -> int:
    """The file keeps its mode (SUSE's ifcfg files are often 0600)."""
    return int(conn.run(["stat", "-c", "%a", "--", path]).stdout.strip(), 8)
