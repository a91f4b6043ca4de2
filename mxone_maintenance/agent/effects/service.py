"""A LIM's Service Node, started and stopped with the argv templates of agent.yaml, and the filling of
their placeholders (also used for the reload after a data sync)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv4Interface

from mxone_maintenance.agent.commands import NotRun, one_line, run
from mxone_maintenance.agent.effects.interfaces import EffectError

SERVICE_TIMEOUT_S = 30.0


def argv_alias(alias: IPv4Address | IPv4Interface) -> str:
    """The alias as a command argument: the address without prefix."""
    return str(alias.ip if isinstance(alias, IPv4Interface) else alias)


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


class MediaServerError(EffectError):
    """The co-located Media Server failed; the Service Node runs. Its own alarm names it."""


class CommandService:
    """Starts and stops a LIM's Service Node with the argv templates of agent.yaml.

    An empty template means "nothing to run" (a server without a configured Service Node still
    moves addresses). The command also gets MXONE_LIM, MXONE_ALIAS and MXONE_NODE in its
    environment. It runs to completion (at most ``timeout`` s): the caller decides whether to run
    it off the heartbeat loop.
    """

    def __init__(self, start: Sequence[str], stop: Sequence[str], node: str,
                 timeout: float = SERVICE_TIMEOUT_S, media_start: Sequence[str] = (),
                 media_stop: Sequence[str] = ()) -> None:
        self.templates = {"start": list(start), "stop": list(stop), "media-start": list(media_start),
                          "media-stop": list(media_stop)}
        self.node = node
        self.timeout = timeout

    @classmethod
    def from_settings(cls, service: Mapping[str, Sequence[str]] | None, node: str) -> CommandService:
        """From agent.yaml's ``service:`` mapping (keys start, stop; either may be missing)."""
        service = service or {}
        return cls(service.get("start") or [], service.get("stop") or [], node)

    def start(self, lim: int, alias: IPv4Address) -> None:
        """The Service Node, then a co-located Media Server on the same alias (seed: "both control and
        media interface must be set to the same address as the Service Node")."""
        self._run("start", lim, alias)
        try:
            self._run("media-start", lim, alias)
        except EffectError as exc:
            raise MediaServerError(f"Media Server of LIM {lim} did not start: {exc}") from exc

    def stop(self, lim: int, alias: IPv4Address) -> None:
        """The Media Server first (it depends on the Service Node), then the Service Node."""
        try:
            self._run("media-stop", lim, alias)
        finally:
            self._run("stop", lim, alias)

    def _run(self, action: str, lim: int, alias: IPv4Address) -> None:
        template = self.templates[action]
        if not template:
            return
        argv = expand(template, lim, alias, self.node)
        env = {"MXONE_LIM": str(lim), "MXONE_ALIAS": argv_alias(alias), "MXONE_NODE": self.node}
        try:
            done = run(argv, timeout=self.timeout, env=env, null_stdin=True)
        except NotRun as exc:
            if exc.timed_out:
                raise EffectError(f"{action} LIM {lim}: {argv[0]} timed out after {self.timeout:g} s") from exc.cause
            raise EffectError(f"{action} LIM {lim}: {argv[0]}: {exc.reason}") from exc.cause
        if not done.ok:
            detail = one_line(done.stderr) or f"exit status {done.returncode}"
            raise EffectError(f"{action} LIM {lim}: {argv[0]} failed: {detail}")
