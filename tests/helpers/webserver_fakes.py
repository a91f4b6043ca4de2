"""Fake node sides for webserver_config's tests: each server answers `facts` from its state and records
every action asked of it, with the request exactly as it would go to the node's stdin; the actions that
change a server change its state as the node side would (setup writes the pair, remove drops it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

from mxone_maintenance.core.config.system_file import parse_system
from mxone_maintenance.webserver.shared.pair_file import Role, pair_text
from mxone_maintenance.webserver.tool.flow import Context
from mxone_maintenance.webserver.tool.node_client import NodeFailed
from mxone_maintenance.webserver.tool.pair import Pair, find_pair, settings_for

KNOWN_HOST = "10.77.0.20 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyForTests"


def server_facts(**changes: Any) -> dict[str, Any]:
    """What a server with SNM installed and no redundancy says (node/facts.py's answer)."""
    facts: dict[str, Any] = {"snm_version": "MX-ONE SNM 7.6", "pm_version": None, "can_install_snm": True,
                             "manager_user": True, "keepalived": False, "webserver": True,
                             "database": {"running": True, "role": "primary", "standbys": []}, "pair": None,
                             "holds_virtual_ip": False, "keepalived_state": None}
    facts.update(changes)
    return facts


def pair_set(system_text: str, role: Role, vip: str = "10.77.0.50/24", user: str = "replicator",
             generation: int = 1) -> str:
    """redundancy.yaml as setup writes it on ROLE's server of the system's pair."""
    pair = find_pair(parse_system(system_text))
    return pair_text(settings_for(pair, role, IPv4Interface(vip), user, generation))


@dataclass
class FakeNode:
    """One server's node side: `log` (shared by the pair) gets (server, action, request) in order."""
    name: str
    log: list[tuple[str, str, dict[str, Any]]]
    facts: dict[str, Any] = field(default_factory=server_facts)
    silent: str | None = None               # why it does not answer (every action fails so)
    closed: int = 0

    def ask(self, action: str, timeout: float = 300, **request: Any) -> dict[str, Any]:
        self.log.append((self.name, action, dict(request)))
        if self.silent:
            raise NodeFailed(f"{self.name}: {self.silent}")
        if action == "facts":
            return {"ok": True, **self.facts}
        return {"ok": True, **self._change(action, request)}

    def _change(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        if action == "login-key":
            return {"public_key": f"ssh-ed25519 AAAAFakeKeyOf{self.name} mxone_manager@{self.name}"}
        if action == "install-snm":
            self.facts["snm_version"] = "MX-ONE SNM 7.6"
        elif action in ("setup-master", "setup-standby"):
            self.facts.update(pair=request["pair"], keepalived=True, holds_virtual_ip=action == "setup-master")
        elif action == "remove":
            self.facts.update(pair=None, keepalived=False, holds_virtual_ip=False)
        return {}

    def close(self) -> None:
        self.closed += 1

    @property
    def actions(self) -> list[str]:
        return [action for name, action, _request in self.log if name == self.name and action != "facts"]


class FakeContext(Context):
    """The tool's context on a system file, with fake node sides instead of SSH and a pinned host key."""

    def __init__(self, system_file: Path, nodes: dict[str, FakeNode]) -> None:
        super().__init__(system_file, None)      # type: ignore[arg-type]  (no SSH in these tests)
        self.nodes = nodes

    def clients(self, pair: Pair) -> dict[str, FakeNode]:    # type: ignore[override]
        return {pair.master: self.nodes[pair.master], pair.standby: self.nodes[pair.standby]}

    def known_host(self, pair: Pair, role: Role) -> str:
        return KNOWN_HOST


def fake_pair(tmp_path: Path, system_text: str, **facts: dict[str, Any]) -> tuple[FakeContext, list]:
    """A context on SYSTEM_TEXT with fake lim1 and sb1 (FACTS: a server's changed facts, by name)."""
    system_file = tmp_path / "system.yaml"
    system_file.write_text(system_text)
    log: list[tuple[str, str, dict[str, Any]]] = []
    nodes = {name: FakeNode(name, log, server_facts(**facts.get(name, {}))) for name in ("lim1", "sb1")}
    return FakeContext(system_file, nodes), log
