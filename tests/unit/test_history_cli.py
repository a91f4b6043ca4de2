"""History: the agent's `history` control request and `mxone-cluster-agent history`, and the utility's
`cluster history`, which reads every member's events file (and its .1) over SFTP from real OpenSSH
servers on the loopback, each with its own /var/opt/eri_sn (test_server_inventory's MountedSshd)."""
from __future__ import annotations

import json
import time
from ipaddress import IPv4Interface
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import sshd_server
from test_server_inventory import MountedSshd, write_system

from mxone_maintenance.agent import control
from mxone_maintenance.agent.events import EventLog
from mxone_maintenance.agent.main import main as agent_main
from mxone_maintenance.core.contracts.events import EventKind, event_line, new_event
from mxone_maintenance.core.model import Cluster, ClusterLim, Server, StandbyRef, System
from mxone_maintenance.core.paths import EVENTS_FILE, Paths
from mxone_maintenance.utility import cli
from mxone_maintenance.utility.ops import history as history_ops

NOW = time.time()


@pytest.fixture(autouse=True)
def _now():
    """NOW is each test's own start (relative --since words are read against the real clock)."""
    global NOW
    NOW = time.time()


def ev(server: str, ago: float, text: str, kind: EventKind = EventKind.TAKEOVER, lim: int | None = 1):
    return new_event(kind, server, text, lim=lim, cause="test", generation=3, at=NOW - ago)


# --- the agent ----------------------------------------------------------------------------------------

def test_the_history_request_answers_the_events_since_a_time(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    log = EventLog(paths.events_file)
    for ago, text in ((300, "old"), (60, "recent"), (10, "newest")):
        log.append(ev("sb1", ago, text))
    handlers = control.agent_handlers(SimpleNamespace(paths=paths))
    reply = control.handle_request(json.dumps({"cmd": "history", "since": NOW - 100}).encode(), handlers)
    assert reply["ok"] and [e["text"] for e in reply["events"]] == ["recent", "newest"] and not reply["truncated"]
    limited = control.handle_request(b'{"cmd": "history", "since": null, "limit": 1}', handlers)
    assert [e["text"] for e in limited["events"]] == ["newest"] and limited["truncated"]
    assert control.handle_request(b'{"cmd": "history", "since": "yesterday"}', handlers)["ok"] is False
    assert control.handle_request(b'{"cmd": "history", "limit": 0}', handlers)["ok"] is False


def test_the_agent_command_over_the_control_socket_and_with_the_agent_down(tmp_path: Path, capsys) -> None:
    paths = Paths(tmp_path)
    log = EventLog(paths.events_file)
    log.append(ev("sb1", 7200, "two hours ago"))
    log.append(ev("sb1", 30, "LIM 1 taken over from lim1"))
    server = control.ControlServer(paths.agent_socket, control.agent_handlers(SimpleNamespace(paths=paths)))
    try:
        assert agent_main(["--root", str(tmp_path), "history", "--since", "10m"]) == 0
        out, err = capsys.readouterr()
        assert err == "" and out.count("\n") == 1
        assert "sb1        LIM 1   takeover      LIM 1 taken over from lim1 (cause: test) [generation 3]" in out
        assert agent_main(["--root", str(tmp_path), "history", "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
        assert [e["text"] for e in document["events"]] == ["two hours ago", "LIM 1 taken over from lim1"]
        assert document["events"][1]["code"] == 4101
    finally:
        server.close()
    assert agent_main(["--root", str(tmp_path), "history", "--since", "1h"]) == 0     # agent down: the file
    out, err = capsys.readouterr()
    assert "LIM 1 taken over from lim1" in out and err.startswith("note: the agent is not running")
    assert agent_main(["--root", str(tmp_path), "history", "--since", "soon"]) == 2
    assert capsys.readouterr().err.startswith("error: --since must be a time such as 10m")


# --- the utility, over SSH ----------------------------------------------------------------------------

NAMES = ("lim1", "lim2", "sb1")


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory):
    sshd_server.require_sshd()
    import shutil
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    workdir = tmp_path_factory.mktemp("members")
    client = sshd_server.keygen(workdir / "client_key")
    servers = {name: MountedSshd(workdir / name, client.with_suffix(".pub"), name) for name in NAMES}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def clustered_system() -> System:
    def address(host: int) -> IPv4Interface:
        return IPv4Interface(f"10.77.0.{host}/24")
    servers = (Server("lim1", address(11), "lim", 1), Server("lim2", address(12), "lim", 2),
               Server("lim3", address(13), "lim", 3), Server("sb1", address(20), "standby"))
    cluster = Cluster("c1", StandbyRef("sb1", address(20)),
                      (ClusterLim(1, "lim1", address(111), address(11)), ClusterLim(2, "lim2", address(112), address(12)),
                       ClusterLim(3, "lim3", address(113), address(13))), generation=3)
    return System(servers=servers, clusters=(cluster,))


@pytest.fixture
def env(members, tmp_path: Path, monkeypatch) -> Path:
    for server in members.values():
        server.empty()
    ports = {name: server.port for name, server in members.items()}
    ports["lim3"] = sshd_server.free_port()                      # a member that does not answer
    host = history_ops.Host
    monkeypatch.setattr(history_ops, "Host", lambda name, address, port=22: host(name, "127.0.0.1", ports[name]))
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("".join(members[n].known_hosts_line(n) for n in NAMES))
    monkeypatch.setenv("MXONE_SSH_KEY", str(members["lim1"].dir.parent / "client_key"))
    monkeypatch.setenv("MXONE_KNOWN_HOSTS", str(known_hosts))
    write_system(tmp_path, clustered_system())
    return tmp_path


def events_file(server: MountedSshd) -> Path:
    path = server.path(str(EVENTS_FILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cluster_history_merges_every_member_in_time_order(capsys, env: Path, members) -> None:
    sb1 = EventLog(events_file(members["sb1"]))
    sb1.append(ev("sb1", 50, "LIM 1 taken over from lim1"))
    sb1.append(ev("sb1", 10, "LIM 1 released", EventKind.RELEASE))
    old = events_file(members["lim1"]).with_name("events.jsonl.1")          # rotated: the older file
    old.write_text(event_line(ev("lim1", 7200, "agent started", EventKind.AGENT_STARTED, None)) + "\n")
    events_file(members["lim1"]).write_bytes(event_line(ev("lim1", 20, "LIM 1 back on lim1",
                                                           EventKind.FALLBACK)).encode() + b"\n{damaged\n")
    code, out, err = run(capsys, env, "cluster", "history", "--name", "c1")
    lines = out.splitlines()
    assert (code, err) == (1, "")                                   # lim3 did not answer
    assert [line.split("  ", 2)[1].split()[0] for line in lines[:4]] == ["lim1", "sb1", "lim1", "sb1"]
    assert "agent started" in lines[0] and "LIM 1 taken over from lim1 (cause: test) [generation 3]" in lines[1]
    assert "fallback" in lines[2] and "release" in lines[3]
    assert lines[4].startswith("NOT ANSWERING: lim3: ") and len(lines) == 5

    code, out, err = run(capsys, env, "cluster", "history", "--since", "30m", "--json")
    document = json.loads(out)
    assert code == 1 and document["complete"] is False
    assert [e["text"] for e in document["events"]] == ["LIM 1 taken over from lim1", "LIM 1 back on lim1",
                                                       "LIM 1 released"]
    assert {s["server"]: (s["answered"], s["events"]) for s in document["servers"]} == {
        "lim1": (True, 1), "lim2": (True, 0), "sb1": (True, 2), "lim3": (False, 0)}


def test_all_answering_is_exit_0_and_bad_words_exit_2(capsys, env: Path, monkeypatch) -> None:
    one = clustered_system()
    cluster = one.clusters[0]
    trimmed = Cluster(cluster.name, cluster.standby, cluster.lims[:2], generation=3)
    write_system(env, System(servers=one.servers[:2] + one.servers[3:], clusters=(trimmed,)))
    code, out, err = run(capsys, env, "cluster", "history")
    assert (code, out, err) == (0, "No events.\n", "")
    code, out, err = run(capsys, env, "cluster", "history", "--since", "last tuesday")
    assert code == 2 and err.startswith("error: --since must be a time such as 10m, 2h, 1d")
    code, out, err = run(capsys, env, "cluster", "history", "--name", "c9")
    assert code == 2 and "no cluster named c9" in err
