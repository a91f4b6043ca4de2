"""Server in system and Standby server in system, for real: `server add|remove` and `standby add|remove`
run in-process (`cli.main`) against real OpenSSH servers on the loopback.

Each server is an sshd in a private mount namespace whose /etc/opt/eri_sn, /var/opt/eri_sn and
/root/.ssh are bind mounts of its own folders here, so the product's real paths land in that server's
tree and the tests look at the files a technician would find on the server. The servers keep their
addresses in system.yaml (10.77.0.x); only where the utility connects is mapped to their loopback port.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
from helpers import sshd_server
from helpers.strategies import systems
from hypothesis import assume, given
from hypothesis import strategies as st

from mxone_maintenance.core import config as files
from mxone_maintenance.core.contracts.sync_keys import authorized_keys_line
from mxone_maintenance.core.model import Server, System
from mxone_maintenance.core.version import product_version
from mxone_maintenance.utility import cli
from mxone_maintenance.utility.ops import apply as apply_module
from mxone_maintenance.utility.ops import host_key_pins
from mxone_maintenance.utility.ops import servers as server_ops
from mxone_maintenance.utility.remote.settings import Host

MOUNTS = (("/etc/opt/eri_sn", "etc"), ("/var/opt/eri_sn", "var"), ("/root/.ssh", "ssh"))
AGENT = str(Path(sys.executable).with_name("mxone-cluster-agent"))     # the venv's agent: our version
NAMES = ("lim1", "lim9", "spare9", "sb9")


class MountedSshd(sshd_server.Sshd):
    """An sshd that sees its own product folders (a private mount namespace with bind mounts)."""

    def __init__(self, workdir: Path, client_pub: Path, name: str):
        super().__init__(workdir, client_pub, name)
        self.tree = {real: workdir / "tree" / label for real, label in MOUNTS}
        for folder in self.tree.values():
            folder.mkdir(parents=True)

    def start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self._write_config()
        binds = " && ".join(f"mount --bind {shlex.quote(str(src))} {real}" for real, src in self.tree.items())
        script = f"{binds} && exec {sshd_server.SSHD} -D -e -f {shlex.quote(str(self.config))}"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._wait_listening()

    def path(self, real: str) -> Path:
        """Where the server's `real` path is here."""
        top = next(r for r in self.tree if real == r or real.startswith(r + "/"))
        return self.tree[top] / os.path.relpath(real, top)

    def empty(self) -> None:
        for folder in self.tree.values():
            for entry in folder.iterdir():
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MountedSshd]]:
    sshd_server.require_sshd()
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    workdir = tmp_path_factory.mktemp("servers")
    client = sshd_server.keygen(workdir / "client_key")
    servers = {name: MountedSshd(workdir / name, client.with_suffix(".pub"), name) for name in NAMES}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def env(fleet, tmp_path: Path, monkeypatch) -> Path:
    """A test tree for the utility (system.yaml, known_hosts pinning lim1 and spare9) and the servers
    emptied; returns the tree."""
    for server in fleet.values():
        server.empty()
    ports = {name: server.port for name, server in fleet.items()}
    ports["lim8"] = sshd_server.free_port()             # a server that does not answer

    def loopback(name: str, address: str, port: int = 22) -> Host:
        return Host(name, "127.0.0.1", ports[name])

    for module in (apply_module, host_key_pins, server_ops):
        monkeypatch.setattr(module, "Host", loopback)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("".join(fleet[n].known_hosts_line(n) for n in ("lim1", "spare9", "sb9")))
    monkeypatch.setenv("MXONE_SSH_KEY", str(fleet["lim1"].dir.parent / "client_key"))
    monkeypatch.setenv("MXONE_KNOWN_HOSTS", str(known_hosts))
    monkeypatch.setenv("MXONE_AGENT_COMMAND", AGENT)
    write_system(tmp_path, start_system())
    return tmp_path


def start_system() -> System:
    """lim1 (LIM 1), spare9 (free), sb9 (standby), lim8 (free, never answers); no cluster."""
    def server(name: str, host: int, role: str, lim: int | None = None) -> Server:
        return Server(name, IPv4Interface(f"10.77.0.{host}/24"), role, lim)
    return System(servers=(server("lim1", 11, "lim", 1), server("spare9", 39, "free"), server("sb9", 29, "standby"),
                           server("lim8", 18, "free")))


def write_system(root: Path, system: System) -> None:
    path = root / "etc/opt/eri_sn/system.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(files.dump_system(system))


def system_of(root: Path) -> System:
    return files.load_system(root / "etc/opt/eri_sn/system.yaml")


def run(capsys, root: Path, *args: str) -> tuple[int, list[str], str]:
    code = cli.main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_server_add_shows_the_key_checks_the_agent_and_pins_the_key(capsys, env: Path, fleet) -> None:
    known = (env / "known_hosts").read_text()
    fingerprint = fleet["lim9"].host_fingerprint
    code, out, err = run(capsys, env, "server", "add", "--name", "lim9", "--address", "10.77.0.19/24", "--lim", "9",
                         "--accept-new-host-key", "--yes")
    assert (code, err) == (0, "")
    assert out[:8] == [
        "Plan: add server lim9 (10.77.0.19/24, LIM 9)",
        "  lim9 (10.77.0.19):",
        f"    - pin its host key ssh-ed25519 {fingerprint} in this utility's known_hosts",
        "  Checked before anything changes:",
        f"    - lim9 (10.77.0.19) presents ssh-ed25519 {fingerprint}: not pinned yet, compare it with the "
        "server's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub)",
        "    - lim9 answers over SSH with that host key",
        f"    - lim9 has the cluster agent installed, the same version as this utility ({product_version()})",
        "  System file: server lim9 added"]
    assert out[-2:] == ["Done: add server lim9 (10.77.0.19/24, LIM 9)",
                        f"  lim9: unchanged; host key ssh-ed25519 {fingerprint} pinned"]
    assert system_of(env).server("lim9") == Server("lim9", IPv4Interface("10.77.0.19/24"), "lim", 9)
    assert (env / "known_hosts").read_text() == known + fleet["lim9"].known_hosts_line(
        "lim9", f"[127.0.0.1]:{fleet['lim9'].port}")


def test_a_new_key_without_accept_new_host_key_is_shown_and_changes_nothing(capsys, env: Path, fleet) -> None:
    before = ((env / "known_hosts").read_text(), system_of(env))
    code, out, err = run(capsys, env, "server", "add", "--name", "lim9", "--address", "10.77.0.19/24", "--yes")
    assert (code, out) == (1, [])
    assert err.startswith(f"error: lim9 (127.0.0.1:{fleet['lim9'].port}): unknown host key ssh-ed25519 "
                          f"{fleet['lim9'].host_fingerprint}; compare it with the server's own")
    assert "accept it with --accept-new-host-key" in err and err.rstrip().endswith("; nothing was changed")
    assert ((env / "known_hosts").read_text(), system_of(env)) == before


def test_a_changed_key_is_never_accepted_by_add(capsys, env: Path, fleet) -> None:
    (env / "known_hosts").write_text(fleet["lim1"].known_hosts_line("spare9"))        # another server's key
    code, out, err = run(capsys, env, "standby", "add", "--server", "spare9", "--accept-new-host-key", "--yes")
    assert (code, out) == (1, [])
    assert f"presents ssh-ed25519 {fleet['spare9'].host_fingerprint}, but " in err
    assert "a changed host key is never accepted here (rebuilt hardware: `server replace --name spare9`)" in err
    assert system_of(env).server("spare9").role == "free"


def test_a_server_without_our_agent_is_not_added(capsys, env: Path, monkeypatch) -> None:
    monkeypatch.setenv("MXONE_AGENT_COMMAND", "/nonexistent/mxone-cluster-agent")
    known = (env / "known_hosts").read_text()
    code, out, err = run(capsys, env, "server", "add", "--name", "lim9", "--address", "10.77.0.19/24",
                         "--accept-new-host-key", "--yes")
    assert (code, err) == (1, "")
    assert out[-1] == ("FAILED: lim9 has no cluster agent (/nonexistent/mxone-cluster-agent does not answer "
                       "--version); install it there first (scripts/install-agent); nothing was changed")
    assert system_of(env).server("lim9") is None and (env / "known_hosts").read_text() == known


def test_a_server_off_the_cluster_subnet_is_refused_before_any_ssh(capsys, env: Path) -> None:
    code, out, err = run(capsys, env, "server", "add", "--name", "lim9", "--address", "10.77.1.19/24", "--yes")
    assert (code, out) == (2, [])
    assert err == ("error: server lim9 must be on the cluster subnet, the subnet of the other servers in the "
                   "system (10.77.1.19/24 is not on 10.77.0.0/24)\n")


def newest_xdata(fleet, size: int) -> None:
    """lim1's newest data backup, `size` bytes (sparse: du -sb counts what it says, the disk holds none)."""
    folder = fleet["lim1"].path("/var/opt/eri_sn/xdata/xdata_1_20260101120000")
    folder.mkdir(parents=True)
    with open(folder / "reload", "wb") as handle:
        handle.truncate(size)


def test_standby_add_checks_the_disk_and_prepares_the_folders(capsys, env: Path, fleet) -> None:
    newest_xdata(fleet, 4096)
    code, out, err = run(capsys, env, "standby", "add", "--server", "spare9", "--yes")
    assert (code, err) == (0, "")
    assert out[:5] == [
        "Plan: make spare9 a standby server", "  spare9 (10.77.0.39):",
        "    - create /var/opt/eri_sn/standby/ (mode 0755, the standby's copies of the regulars' data)",
        "    - create /var/opt/eri_sn/standby/lim1/ (mode 0755, copies of LIM 1)",
        "  Checked before anything changes:"]
    assert f"    - spare9 (10.77.0.39) presents ssh-ed25519 {fleet['spare9'].host_fingerprint}, the key pinned for it" \
        in out
    assert "    - spare9 has free disk for two data backups of each of lim1" in out
    assert out[-2:] == ["Done: make spare9 a standby server", "  spare9: committed"]
    for folder in ("/var/opt/eri_sn/standby", "/var/opt/eri_sn/standby/lim1"):
        assert oct(fleet["spare9"].path(folder).stat().st_mode & 0o777) == "0o755"
    assert system_of(env).server("spare9").role == "standby"


def test_standby_add_without_disk_for_two_backups_changes_nothing(capsys, env: Path, fleet) -> None:
    newest_xdata(fleet, 10**13)                         # 10 TB: two of them fit on no test disk
    code, out, err = run(capsys, env, "standby", "add", "--server", "spare9", "--yes")
    assert (code, err) == (1, "")
    assert out[-1].startswith("FAILED: spare9: not enough free disk for two data backups of each regular (")
    assert out[-1].endswith(" GB free, 20000.00 GB needed); nothing was changed")
    assert list(fleet["spare9"].tree["/var/opt/eri_sn"].iterdir()) == []
    assert system_of(env).server("spare9").role == "free"


def test_standby_add_gives_an_existing_folder_its_mode(capsys, env: Path, fleet) -> None:
    fleet["spare9"].path("/var/opt/eri_sn/standby").mkdir(mode=0o700)
    code, out, err = run(capsys, env, "standby", "add", "--server", "spare9", "--yes")
    assert (code, err, out[-2:]) == (0, "", ["Done: make spare9 a standby server", "  spare9: committed"])
    for folder in ("/var/opt/eri_sn/standby", "/var/opt/eri_sn/standby/lim1"):
        assert oct(fleet["spare9"].path(folder).stat().st_mode & 0o777) == "0o755"


def test_standby_add_where_a_file_is_in_the_way_changes_nothing(capsys, env: Path, fleet) -> None:
    standby = fleet["spare9"].path("/var/opt/eri_sn/standby")
    standby.mkdir(mode=0o700)
    (standby / "lim1").write_text("not a folder")
    code, out, err = run(capsys, env, "standby", "add", "--server", "spare9", "--yes")
    assert (code, err) == (1, "")
    assert out[-1] == (f"FAILED: spare9 (127.0.0.1:{fleet['spare9'].port}): /var/opt/eri_sn/standby/lim1 is there "
                       "but is not a folder (regular file); nothing was changed")
    assert oct(standby.stat().st_mode & 0o777) == "0o700" and (standby / "lim1").read_text() == "not a folder"
    assert system_of(env).server("spare9").role == "free"


def product_files(server: MountedSshd) -> str:
    """What the product writes on a cluster member, and root's own authorized key beside the sync key."""
    for name in ("cluster.yaml", "cluster.key", "sync.key", "cluster_known_hosts"):
        server.path(f"/etc/opt/eri_sn/{name}").write_text(f"{name}\n")
    (server.path("/etc/opt/eri_sn/agent.yaml")).write_text("kept: yes\n")
    own = server.host_pub.read_text()
    sync = authorized_keys_line(server.host_pub.read_text())
    server.path("/root/.ssh/authorized_keys").write_text(own + sync + "\n")
    return own


def test_server_remove_cleans_what_the_product_put_there(capsys, env: Path, fleet) -> None:
    write_system(env, start_system().with_server(Server("lim9", IPv4Interface("10.77.0.19/24"), "lim", 9)))
    (env / "known_hosts").write_text(fleet["lim9"].known_hosts_line("lim9"))
    own = product_files(fleet["lim9"])
    code, out, err = run(capsys, env, "server", "remove", "--name", "lim9", "--yes")
    assert (code, err) == (0, "")
    assert out[:10] == [
        "Plan: remove server lim9 from the system", "  lim9 (10.77.0.19):",
        "    - remove /etc/opt/eri_sn/cluster.yaml", "    - remove /etc/opt/eri_sn/cluster.key",
        "    - remove /etc/opt/eri_sn/sync.key", "    - remove /etc/opt/eri_sn/cluster_known_hosts",
        "    - remove the cluster's data-sync key from /root/.ssh/authorized_keys",
        "  Checked before anything changes:", "    - lim9 answers over SSH with its pinned host key",
        "  System file: server lim9 removed"]
    assert out[-2:] == ["Done: remove server lim9 from the system", "  lim9: committed"]
    assert sorted(p.name for p in fleet["lim9"].tree["/etc/opt/eri_sn"].iterdir()) == ["agent.yaml"]
    assert fleet["lim9"].path("/root/.ssh/authorized_keys").read_text() == own
    assert system_of(env).server("lim9") is None


def test_standby_remove_drops_its_copies(capsys, env: Path, fleet) -> None:
    copy = fleet["sb9"].path("/var/opt/eri_sn/standby/lim1/xdata_1_20260101120000")
    copy.mkdir(parents=True)
    (copy / "reload").write_text("data")
    fleet["sb9"].path("/var/opt/eri_sn/xdata").mkdir()
    code, out, err = run(capsys, env, "standby", "remove", "--server", "sb9", "--yes")
    assert (code, err) == (0, "")
    assert "    - remove /var/opt/eri_sn/standby/ (the standby's copies of the regulars' data)" in out
    assert out[-2:] == ["Done: make sb9 a free server again", "  sb9: committed"]
    assert [p.name for p in fleet["sb9"].tree["/var/opt/eri_sn"].iterdir()] == ["xdata"]
    assert system_of(env).server("sb9").role == "free"


def test_a_server_that_does_not_answer_is_removed_only_with_allow_down(capsys, env: Path) -> None:
    code, out, err = run(capsys, env, "server", "remove", "--name", "lim8", "--yes")
    assert (code, err) == (1, "")
    assert out[-2].startswith("FAILED: lim8 (127.0.0.1:") and out[-2].endswith("; nothing was changed")
    assert out[-1] == ("  lim8's part can wait: run again with --allow-down lim8 to leave it out; it is removed "
                       "from system.yaml anyway, with nothing on it cleaned.")
    assert system_of(env).server("lim8") is not None
    code, out, err = run(capsys, env, "server", "remove", "--name", "lim8", "--allow-down", "lim8", "--yes")
    assert (code, err) == (0, "")
    assert ("  If lim8 does not answer: it is left out and is removed from system.yaml anyway, with nothing on it "
            "cleaned (--allow-down lim8).") in out
    assert out[-2:] == ["Done: remove server lim8 from the system",
                        "  lim8: not answering: is removed from system.yaml anyway, with nothing on it cleaned"]
    assert system_of(env).server("lim8") is None


# --- the cluster subnet rule -------------------------------------------------------------------------------

@given(system=systems(max_clusters=1), host=st.integers(1, 254), other=st.integers(1, 255))
def test_a_new_server_is_on_the_subnet_of_the_others(system: System, host: int, other: int) -> None:
    assume(system.servers)
    network = system.servers[0].address.network
    same = IPv4Interface(f"{network.network_address + host}/{network.prefixlen}")
    assert server_ops.subnet_problem(system, "new", same) is None
    moved = IPv4Interface(f"{network.network_address + 256 * other + host}/{network.prefixlen}")
    assert server_ops.subnet_problem(system, "new", moved) == (
        f"server new must be on the cluster subnet, the subnet of the other servers in the system ({moved} is "
        f"not on {network})")
    wider = IPv4Interface(f"{same.ip}/{network.prefixlen - 1}")
    assert server_ops.subnet_problem(system, "new", wider) is not None, "the same address with another prefix"


@given(address=st.integers(0x0A000001, 0x0AFFFFFE), prefix=st.integers(8, 30))
def test_the_first_server_defines_the_subnet(address: int, prefix: int) -> None:
    interface = IPv4Interface((address, prefix))
    assert server_ops.subnet_problem(System(servers=()), "first", interface) is None
    alone = System(servers=(Server("first", interface, "free"),))
    assert server_ops.subnet_problem(alone, "first", interface) is None, "a server is not held against itself"
