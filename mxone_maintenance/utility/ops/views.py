"""Plain-text views of the system for the command line and the menus (pure), in lines that fit 80."""
from __future__ import annotations

from collections.abc import Sequence

from mxone_maintenance.core import config
from mxone_maintenance.core.model import Cluster, ClusterLim, System

WIDTH = 78                      # what the menus' box shows unwrapped in an 80-column terminal
_GAP = "  "
_LIM_HEADINGS = ("LIM", "base", "alias", "priority", "lock")


def _wrap(parts: Sequence[str], sep: str, first: str = "", indent: str = "  ") -> list[str]:
    """PARTS joined by SEP, broken between parts (never inside one, so a name stays whole) into lines of at
    most WIDTH: the first starts with FIRST, the others with INDENT."""
    lines = [first + parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + len(sep) + len(part) <= WIDTH:
            lines[-1] += sep + part
        else:
            lines[-1] += sep.rstrip()
            lines.append(indent + part)
    return lines


def _lim_rows(lims: Sequence[ClusterLim]) -> list[str]:
    """A heading and one line per LIM, the server last; a server name too long for its line goes on the
    next line, where the base column starts (a 63-character name fits there)."""
    cells = [_LIM_HEADINGS] + [(str(item.lim), str(item.base), str(item.alias), str(item.priority),
                                item.lock or "-") for item in lims]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_LIM_HEADINGS))]
    fixed = [_GAP + _GAP.join(cell.ljust(w) for cell, w in zip(row, widths)) + _GAP for row in cells]
    lines = [fixed[0] + "server"]
    for row, item in zip(fixed[1:], lims):
        if len(row) + len(item.server) <= WIDTH:
            lines.append(row + item.server)
        else:
            lines += [row.rstrip(), " " * (len(_GAP) * 2 + widths[0]) + "server " + item.server]
    return lines


def _cluster_block(c: Cluster) -> list[str]:
    """Its name, its settings (one line unless names or values are long), then its LIMs."""
    settings = (f"standby {c.standby.server}", f"failover {c.failover}", f"fallback {c.fallback}",
                f"detect {c.detect_s:g} s", f"heartbeat {c.heartbeat_s:g} s")
    return (_wrap((f"Cluster {c.name}", f"(generation {c.generation})"), " ")
            + _wrap(settings, ", ", first=_GAP) + _lim_rows(c.lims))


def clusters_text(system: System) -> str:
    """List all clusters: a block for each, a blank line between them."""
    if not system.clusters:
        return "No clusters in the system."
    return "\n\n".join("\n".join(_cluster_block(c)) for c in system.clusters)


def clusters_data(system: System) -> dict:
    """List all clusters as JSON: each as in cluster.yaml."""
    return {"clusters": [config.cluster_to_data(c) for c in system.clusters]}


def servers_text(system: System, roles: tuple[str, ...] = ("lim", "standby", "free")) -> str:
    """List servers (of these roles), with the cluster each is in."""
    shown = [s for s in system.servers if s.role in roles]
    if not shown:
        return "No such servers in the system."
    lines = [f"{'server':<12}{'address':<20}{'role':<10}{'LIM':<5}cluster"]
    for s in shown:
        cluster = system.cluster_of_server(s.name)
        lim = str(s.lim) if s.lim is not None else "-"
        lines.append(f"{s.name:<12}{str(s.address):<20}{s.role:<10}{lim:<5}{cluster.name if cluster else '-'}")
    return "\n".join(lines)
