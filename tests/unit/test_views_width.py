"""`cluster list` and the menus' "List all clusters" are one text (ops/views.clusters_text) whose lines fit an
80-column terminal and the menus' box in it (78), even for ten LIMs with the longest names the rules allow;
no name is cut short."""
from __future__ import annotations

import re
from dataclasses import replace
from ipaddress import IPv4Interface

from helpers import uitools
from helpers.strategies import (
    add_lim_server,
    clustered_systems,
    join,
    sample_cluster,
    sample_with_cluster,
    with_cluster,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mxone_maintenance.core import config
from mxone_maintenance.core.config.values import MAX_NAME, is_name
from mxone_maintenance.core.model import Cluster, ClusterLim, Server, StandbyRef, System
from mxone_maintenance.core.rules import system_errors
from mxone_maintenance.utility.ops.views import WIDTH, clusters_text

NAME_TAIL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=MAX_NAME, max_size=MAX_NAME)


def long_names(system: System, tail: str) -> System:
    """The system with every server and cluster name made MAX_NAME long (the old name, '.', then TAIL)."""
    def long(name: str) -> str:
        return (name + "." + tail)[:MAX_NAME]

    def cluster(c: Cluster) -> Cluster:
        return replace(c, name=long(c.name), standby=replace(c.standby, server=long(c.standby.server)),
                       lims=tuple(replace(item, server=long(item.server)) for item in c.lims))
    return System(servers=tuple(replace(s, name=long(s.name)) for s in system.servers),
                  clusters=tuple(cluster(c) for c in system.clusters))


@st.composite
def ten_lim_systems(draw) -> System:
    """A valid system whose first cluster has ten LIMs, with 63-character names."""
    system = draw(clustered_systems())
    cluster = replace(system.clusters[0], failover="normal")         # preloaded is for one LIM only
    system = with_cluster(system, system.clusters[0], cluster)
    while len(cluster.lims) < 10:
        system, server = add_lim_server(system)
        system, cluster = join(system, cluster, server)
    return long_names(system, draw(NAME_TAIL))


def widest() -> System:
    """Every value at its longest: 18-character addresses, two-digit LIMs, priority 999, locks, the highest
    generation, 63-character names."""
    net = "192.168.200"
    lims = [Server(f"lim{n}", IPv4Interface(f"{net}.{110 + n}/24"), "lim", 89 + n) for n in range(1, 11)]
    standby = Server("sb1", IPv4Interface(f"{net}.200/24"), "standby")
    cluster = Cluster("c1", StandbyRef("sb1", standby.address), tuple(
        ClusterLim(s.lim, s.name, IPv4Interface(f"{net}.{130 + i}/24"), s.address, 999,
                   "standby" if i == 0 else "regular") for i, s in enumerate(lims)),
        generation=2**53, detect_s=3599.99, heartbeat_s=59.9999)
    return long_names(System(servers=(*lims, standby), clusters=(cluster,)), "x" * MAX_NAME)


def shown_in_full(system: System, text: str) -> bool:
    words = set(re.split(r"[\s,]+", text))
    return all(name in words for name in [s.name for s in system.servers if system.cluster_of_server(s.name)]
               + [c.name for c in system.clusters])


@settings(max_examples=40, deadline=None)
@given(ten_lim_systems())
@example(widest())
def test_every_line_fits_and_every_name_is_whole(system: System) -> None:
    assert system_errors(system) == [] and all(is_name(s.name) and len(s.name) == MAX_NAME for s in system.servers)
    assert len(system.clusters[0].lims) == 10
    text = clusters_text(system)
    assert max(len(line) for line in text.splitlines()) <= WIDTH <= 80
    assert shown_in_full(system, text)


def test_short_names_keep_one_line_per_lim() -> None:
    system = sample_with_cluster(lims=10, members=tuple(range(1, 11)))
    lines = clusters_text(system).splitlines()
    assert len(lines) == 3 + 10 and lines[-1].split() == ["10", "10.77.0.110/24", "10.77.0.50/24", "5", "-", "lim10"]


def test_a_long_server_name_goes_on_its_own_line_under_its_lim() -> None:
    lines = clusters_text(widest()).splitlines()
    assert lines[0] == "Cluster c1." + "x" * (MAX_NAME - 3)
    assert lines[1] == "  (generation 9007199254740992)"
    assert lines[5] == "  90   192.168.200.130/24  192.168.200.111/24  999       standby"
    assert lines[6] == "       server lim1." + "x" * (MAX_NAME - 5)
    assert len(lines) == 5 + 2 * 10


def menu_rows(system: System, tmp_path) -> list[str]:
    """The 'List all clusters' box of the menus at 80 columns, tall enough for all of it, its trailing
    blanks and the Back button left off."""
    app = uitools.make_app(tmp_path, config.dump_system(system))
    uitools.press(app, "3", "1")
    assert app.top.title == "List all clusters"
    shown = [row.decode() for row in app.root.render((80, 80), focus=True).text]
    top = next(i for i, row in enumerate(shown) if " List all clusters " in row)
    inside = [row[1:-1].rstrip() for row in shown[top + 1:] if row.startswith("│")]
    back = next(i for i, row in enumerate(inside) if "< Back >" in row)
    while not inside[back - 1]:
        back -= 1
    return inside[:back]


def two_clusters() -> System:
    system = sample_with_cluster(lims=4, members=(1, 2)).with_server(Server("sb2", IPv4Interface("10.77.0.21/24"),
                                                                            "standby"))
    return system.replace_cluster(sample_cluster(system, (3, 4), name="c2", standby="sb2"))


def test_the_menus_show_the_same_text(tmp_path) -> None:
    for index, system in enumerate((two_clusters(), widest())):
        (tmp_path / str(index)).mkdir()
        assert menu_rows(system, tmp_path / str(index)) == clusters_text(system).splitlines()
