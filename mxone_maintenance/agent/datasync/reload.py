"""After new data reached a preloaded passive side, its Service Node reloads it: agent.yaml's
`service: {reload: [...]}` for one LIM ({lim}, {alias}, {node} filled in as for start and stop)."""
from __future__ import annotations

from collections.abc import Sequence

from mxone_maintenance.agent.commands import NotRun, last_line, run
from mxone_maintenance.agent.effects.service import expand
from mxone_maintenance.core.model import Cluster

RELOAD_TIMEOUT_S = 60.0


class CommandReload:
    """agent.yaml's `service: {reload: [...]}` for one LIM ({lim}, {alias}, {node} filled in)."""

    def __init__(self, template: Sequence[str], config: Cluster, node: str,
                 timeout: float = RELOAD_TIMEOUT_S) -> None:
        self.template, self.config, self.node, self.timeout = list(template), config, node, timeout

    def __call__(self, lim: int) -> bool:
        """Reload; False when agent.yaml has no reload command (nothing ran)."""
        item = self.config.lim(lim)
        if not self.template or item is None:
            return False
        argv = expand(self.template, lim, item.alias, self.node)
        try:
            done = run(argv, timeout=self.timeout, null_stdin=True)
        except NotRun as exc:
            raise RuntimeError(f"reload LIM {lim}: {argv[0]}: {exc}") from exc.cause
        if not done.ok:
            raise RuntimeError(f"reload LIM {lim}: exit {done.returncode}: {last_line(done.stderr or done.stdout)}")
        return True
