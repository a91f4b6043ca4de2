"""`mxone_maintenance server replace` on the command line (cli/replace_flow.py), run in-process with
`cli.main([...])` on a test tree, against a real OpenSSH sshd on the loopback playing the rebuilt lim1
(tests/helpers/sshd_server.py): what the technician reads, the exit code, and that known_hosts and the
tree stay as they were unless the key was accepted and the change made.

The system's servers are at 10.77.0.x; the one test seam routes the command's connections to the
loopback sshd (its port is not 22). The agent is the MXONE_AGENT_COMMAND script on this machine (the
sshd runs it). Replacing lim1 (in cluster c1) the apply is faked, since the sshd would have it write
this machine's /etc: those tests see the plan apply is given. Replacing spare1 (in no cluster) the real
apply runs: its plan's only step pins the key here (PinHostKey), so it changes nothing on the server,
and the tests see apply check the agent and pin the key only once the change is made."""
from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import sshd_server
from helpers.strategies import sample_with_cluster

from mxone_maintenance.core import config as files
from mxone_maintenance.core.version import product_version
from mxone_maintenance.utility import cli
from mxone_maintenance.utility.cli import replace_flow
from mxone_maintenance.utility.ops import apply as apply_ops
from mxone_maintenance.utility.ops import host_key_pins
from mxone_maintenance.utility.ops.plan import AgentCheck, PinHostKey
from mxone_maintenance.utility.remote import host_key_scan
from mxone_maintenance.utility.remote.settings import Host

CONSOLE = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"
REAL_APPLY = apply_ops.apply_plan
AUDIT_LOG = "var/log/mxone_maintenance.log"
LOCK = "etc/opt/eri_sn/system.yaml.lock"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with sshd_server.running(tmp_path_factory.mktemp("sshd")) as running:
        yield running


@pytest.fixture(scope="module")
def other_host_key(tmp_path_factory) -> str:
    pub = sshd_server.keygen(tmp_path_factory.mktemp("other") / "lim2_host").with_suffix(".pub")
    return " ".join(pub.read_text().split()[:2])


class Setup:
    def __init__(self, root: Path, known_hosts: Path, server: sshd_server.Sshd, old_pub: Path, agent: Path):
        self.root, self.known_hosts, self.server, self.agent = root, known_hosts, server, agent
        self.old_pub = old_pub
        self.old_fingerprint = sshd_server.fingerprint(old_pub)
        self.fingerprint = server.host_fingerprint
        self.blob = server.host_pub.read_text().split()[1]
        self.address = f"[127.0.0.1]:{server.port}"

    def agent_says(self, script: str) -> None:
        self.agent.write_text(f"#!/bin/sh\n{script}\n")
        self.agent.chmod(0o755)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch, servers, other_host_key) -> Setup:
    """A tree with cluster c1 (LIM 1, 2, sb1) and its key kept here; known_hosts pins the OLD key for lim1
    (under its name and the loopback address it is reached at) and lim2's key; the agent answers with this
    utility's version. Temporary folders go to tmp_path/tmp, to see the private known_hosts copy go."""
    server = servers[0]
    root = tmp_path / "root"
    system = root / "etc/opt/eri_sn/system.yaml"
    system.parent.mkdir(parents=True)
    system.write_text(files.dump_system(sample_with_cluster(members=(1, 2))))
    (root / "etc/opt/eri_sn/keys").mkdir()
    (root / "etc/opt/eri_sn/keys/c1.key").write_bytes(b"0123456789abcdef0123456789abcdef\n")
    old_pub = servers.other_key.with_suffix(".pub")                  # the key the old hardware had
    known = tmp_path / "ssh" / "known_hosts"
    known.parent.mkdir()
    known.write_text(f"# pinned by hand\nlim2,10.77.0.102 {other_host_key}\n"
                     f"lim1,[127.0.0.1]:{server.port} {' '.join(old_pub.read_text().split()[:2])}\n")
    known.chmod(0o600)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MXONE_KNOWN_HOSTS", str(known))
    monkeypatch.setenv("MXONE_SSH_KEY", str(servers.client_key))
    monkeypatch.delenv("MXONE_SSH_USER", raising=False)
    monkeypatch.delenv("MXONE_SYSTEM", raising=False)
    agent = tmp_path / "agent"
    monkeypatch.setenv("MXONE_AGENT_COMMAND", str(agent))
    monkeypatch.setattr(replace_flow, "Host", lambda name, address: Host(name, "127.0.0.1", server.port))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))                # no terminal
    made = Setup(root, known, server, old_pub, agent)
    made.agent_says(f"echo 'mxone-cluster-agent {product_version()}'")
    return made


def no_apply(*args, **kwargs):
    pytest.fail("the plan was applied")


def really_apply(monkeypatch, setup: Setup) -> None:
    """The real apply_plan, its connections routed to the loopback sshd; refused unless all the plan does
    is pin host keys here (anything else would change this machine)."""
    def loopback(name: str, address: str, port: int = 22) -> Host:
        return Host(name, "127.0.0.1", setup.server.port)

    def guarded(plan, *args, **kwargs):
        steps = [step for s in plan.servers for step in s.steps]
        assert steps and all(isinstance(step, PinHostKey) for step in steps), plan.text()
        return REAL_APPLY(plan, *args, **kwargs)

    for module in (apply_ops, host_key_pins):
        monkeypatch.setattr(module, "Host", loopback)
    monkeypatch.setattr(apply_ops, "apply_plan", guarded)


def spare1_had_the_old_key(setup: Setup) -> str:
    """known_hosts pinning the old hardware's key for spare1 (lim1 pins nothing); returns the text."""
    old = " ".join(setup.old_pub.read_text().split()[:2])
    text = "".join(setup.known_hosts.read_text().splitlines(keepends=True)[:2]) + f"spare1,{setup.address} {old}\n"
    setup.known_hosts.write_text(text)
    return text


@pytest.fixture(autouse=True)
def never_applied(monkeypatch):
    monkeypatch.setattr(apply_ops, "apply_plan", no_apply)


def run(capsys, setup: Setup, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--root", str(setup.root), "server", "replace", *args])
    out, err = capsys.readouterr()
    return code, out, err


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def snapshot(setup: Setup) -> tuple:
    return tree(setup.root), tree(setup.known_hosts.parent), os.stat(setup.known_hosts).st_mtime_ns


def one_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def nothing_left_behind(setup: Setup, before: tuple) -> None:
    assert snapshot(setup) == before
    assert os.listdir(Path(tempfile.gettempdir())) == [], "the private known_hosts copy is gone"


def settings_tree(setup: Setup) -> dict[str, bytes]:
    """The tree but what any apply leaves: its audit line and the change lock."""
    return {path: data for path, data in tree(setup.root).items() if path not in (AUDIT_LOG, LOCK)}


def audited(setup: Setup) -> list[str]:
    return (setup.root / AUDIT_LOG).read_text().splitlines()


def asked_agent(setup: Setup, script: str) -> Path:
    """The agent runs `script`, leaving a file that says it was asked; returns that file."""
    marker = setup.agent.with_name("agent-asked")
    setup.agent_says(f"touch {marker}\n{script}")
    return marker


def shown_keys(setup: Setup) -> list[str]:
    return [f"lim1 at 127.0.0.1:{setup.server.port} presents host key ssh-ed25519 {setup.fingerprint}",
            f"  pinned in {setup.known_hosts}: ssh-ed25519 {setup.old_fingerprint}"]


# --- refusals: nothing changes ------------------------------------------------------------------------

def test_a_host_key_that_differs_is_refused_naming_the_presented_one(capsys, setup: Setup) -> None:
    before = snapshot(setup)
    wrong = "SHA256:" + "A" * 43
    code, out, err = run(capsys, setup, "--name", "lim1", "--host-key", wrong, "--yes")
    assert code == 1
    assert out.splitlines() == shown_keys(setup)
    assert one_error(err) == (f"error: lim1 presents ssh-ed25519 {setup.fingerprint}, not the '{wrong}' read on "
                              "its console; nothing was changed")
    nothing_left_behind(setup, before)


@pytest.mark.parametrize("given", ["old", "full line", "empty"])
def test_other_things_given_as_host_key_are_refused_too(capsys, setup: Setup, given: str) -> None:
    before = snapshot(setup)
    value = {"old": setup.old_fingerprint, "full line": f"256 {setup.fingerprint} root@lim1 (ED25519)",
             "empty": ""}[given]
    code, _, err = run(capsys, setup, "--name", "lim1", "--host-key", value, "--yes")
    assert code == 1
    assert one_error(err) == (f"error: lim1 presents ssh-ed25519 {setup.fingerprint}, not the {value!r} read on "
                              "its console; nothing was changed")
    nothing_left_behind(setup, before)


@pytest.mark.parametrize("pinned", ["changed", "new"])
def test_without_a_terminal_a_changed_or_new_key_needs_host_key(capsys, setup: Setup, pinned: str) -> None:
    if pinned == "new":
        setup.known_hosts.write_text("# nothing for lim1\n")
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "lim1", "--yes")
    assert code == 1
    assert out.splitlines()[1] == f"  pinned in {setup.known_hosts}: " + \
        ("none" if pinned == "new" else f"ssh-ed25519 {setup.old_fingerprint}")
    assert one_error(err) == (f"error: the host key of lim1 is {pinned}: compare {setup.fingerprint} with what "
                              f"`{CONSOLE}` shows on the new server's console and give it with --host-key; "
                              "nothing was changed")
    nothing_left_behind(setup, before)


def test_on_a_terminal_the_technician_is_asked_and_no_is_nothing_changed(capsys, setup: Setup, monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(sys, "stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})(""))
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "lim1", "--yes")
    assert code == 1 and err == ""
    assert asked == [f"Is {setup.fingerprint} what `{CONSOLE}` shows on lim1's console? [y/N] "]
    assert out.splitlines() == [*shown_keys(setup), "Not replaced: the host key was not accepted; nothing was changed."]
    nothing_left_behind(setup, before)


def test_an_unknown_server_is_one_line_naming_it(capsys, setup: Setup, monkeypatch) -> None:
    monkeypatch.setattr(host_key_scan, "presented_key", lambda *a: pytest.fail("a server was asked"))
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "ghost", "--host-key", setup.fingerprint, "--yes")
    assert code == 2 and out == ""
    assert one_error(err) == "error: no server named ghost in the system (servers: lim1, lim2, lim3, sb1, spare1)"
    nothing_left_behind(setup, before)


def test_a_server_that_does_not_answer_is_one_line(capsys, setup: Setup, monkeypatch) -> None:
    port = sshd_server.free_port()
    monkeypatch.setattr(replace_flow, "Host", lambda name, address: Host(name, "127.0.0.1", port))
    monkeypatch.setattr(host_key_scan, "presented_key", lambda host, settings, real=host_key_scan.presented_key:
                        real(host, replace_settings(settings)))
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "lim1", "--host-key", setup.fingerprint, "--yes")
    assert code == 1 and out == ""
    line = one_error(err)
    assert line.startswith("error: ") and "lim1" in line and line.endswith("; nothing was changed")
    nothing_left_behind(setup, before)


def replace_settings(settings):
    """A short connect timeout: connection refused is retried twice within it."""
    from dataclasses import replace
    return replace(settings, connect_timeout=0.2)


@pytest.mark.parametrize("agent, expected", [
    ("exit 127", "has no cluster agent ({agent} does not answer --version); install it there first "
                 "(scripts/install-agent); nothing was changed"),
    ("echo 'mxone-cluster-agent 0.0.1'", "runs cluster agent '0.0.1', this utility is '{ours}'; install the same "
                                         "version there first (scripts/install-agent); nothing was changed"),
])
def test_the_right_key_without_the_right_agent_is_refused_by_apply_and_changes_nothing(
        capsys, setup: Setup, monkeypatch, agent: str, expected: str) -> None:
    """Apply asks the agent over SSH through the private known_hosts copy that trusts only the new key:
    the connection itself must succeed for this answer (known_hosts pins the old key, which is refused)."""
    really_apply(monkeypatch, setup)
    pinned = spare1_had_the_old_key(setup)
    setup.agent_says(agent)
    before = settings_tree(setup)
    code, out, err = run(capsys, setup, "--name", "spare1", "--host-key", setup.fingerprint, "--yes")
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[:2] == [f"spare1 at 127.0.0.1:{setup.server.port} presents host key ssh-ed25519 {setup.fingerprint}",
                         f"  pinned in {setup.known_hosts}: ssh-ed25519 {setup.old_fingerprint}"]
    assert f"    - spare1 has the cluster agent installed, the same version as this utility ({product_version()})" \
        in lines
    assert "  spare1: checking the cluster agent" in lines
    assert lines[-1] == "FAILED: spare1 " + expected.format(agent=setup.agent, ours=product_version())
    assert setup.known_hosts.read_text() == pinned, "the new key is not pinned: the change was not made"
    assert settings_tree(setup) == before
    assert len(audited(setup)) == 1 and "action='server replace'" in audited(setup)[0] and \
        "result=FAILED" in audited(setup)[0]
    assert os.listdir(Path(tempfile.gettempdir())) == [], "the private known_hosts copy is gone"


def test_the_accepted_key_is_pinned_by_apply_once_the_change_is_made(capsys, setup: Setup, monkeypatch) -> None:
    really_apply(monkeypatch, setup)
    pinned = spare1_had_the_old_key(setup)
    before = settings_tree(setup)
    code, out, err = run(capsys, setup, "--name", "spare1", "--host-key", setup.fingerprint, "--yes")
    assert code == 0 and err == "", out + err
    title = (f"replace spare1 (in no cluster): host key ssh-ed25519 {setup.fingerprint} "
             f"accepted (was ssh-ed25519 {setup.old_fingerprint})")
    assert out.splitlines()[-2:] == [f"Done: {title}",
                                     f"  spare1: unchanged; host key ssh-ed25519 {setup.fingerprint} pinned"]
    kept = pinned.splitlines(keepends=True)[:2]
    assert setup.known_hosts.read_text() == "".join(kept) + f"spare1,{setup.address} ssh-ed25519 {setup.blob}\n", \
        "the old key replaced, every other line kept"
    assert oct(os.stat(setup.known_hosts).st_mode & 0o777) == "0o600"
    assert settings_tree(setup) == before, "system.yaml unchanged"
    assert len(audited(setup)) == 1 and f"what={title!r} result=ok" in audited(setup)[0]
    assert os.listdir(Path(tempfile.gettempdir())) == [], "the private known_hosts copy is gone"


def test_dry_run_shows_the_plan_and_changes_nothing(capsys, setup: Setup) -> None:
    asked = asked_agent(setup, "exit 127")
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "lim1", "--dry-run")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[:3] == [*shown_keys(setup),
                         f"Plan: replace lim1 (LIM 1 of cluster c1, generation 1): host key ssh-ed25519 "
                         f"{setup.fingerprint} accepted (was ssh-ed25519 {setup.old_fingerprint})"]
    assert "  lim1 (10.77.0.101):" in lines and "  lim2 (10.77.0.102):" in lines and "  sb1 (10.77.0.20):" in lines
    own = lines[lines.index("  lim1 (10.77.0.101):") + 1:lines.index("  lim2 (10.77.0.102):")]
    assert own[1] == f"    - pin its host key ssh-ed25519 {setup.fingerprint} in this utility's known_hosts"
    assert lines[-4:] == [
        "  Checked before anything changes:",
        f"    - lim1 answers at 10.77.0.101 with host key ssh-ed25519 {setup.fingerprint}",
        f"    - lim1 has the cluster agent installed, the same version as this utility ({product_version()})",
        "Dry run: nothing was changed."]
    assert not asked.exists(), "a dry run asks no agent"
    nothing_left_behind(setup, before)


def test_dry_run_with_a_wrong_host_key_is_refused_all_the_same(capsys, setup: Setup) -> None:
    before = snapshot(setup)
    code, _, err = run(capsys, setup, "--name", "lim1", "--host-key", "SHA256:nope", "--dry-run")
    assert code == 1 and "nothing was changed" in one_error(err)
    nothing_left_behind(setup, before)


def test_without_yes_and_without_a_terminal_the_plan_is_not_applied(capsys, setup: Setup) -> None:
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "lim1", "--host-key", setup.fingerprint)
    assert code == 1
    assert "Plan: replace lim1 (LIM 1 of cluster c1, generation 1)" in out
    assert one_error(err) == ("error: not applied: no terminal to confirm on; run again with --yes (or --dry-run "
                              "to only look)")
    nothing_left_behind(setup, before)


# --- accepted: apply is given the key to pin, known_hosts waits for the change -----------------------------

@pytest.mark.parametrize("form", ["SHA256:", "bare", "terminal"])
def test_the_accepted_key_goes_to_apply_in_the_plan_and_known_hosts_waits(capsys, setup: Setup, monkeypatch,
                                                                          form: str) -> None:
    applied = []

    def fake_apply(plan, paths, system_file, settings, progress, **kwargs):
        applied.append((plan, settings.known_hosts.read_text()))
        return apply_ops.ApplyResult(True, plan.title)

    monkeypatch.setattr(apply_ops, "apply_plan", fake_apply)
    asked = asked_agent(setup, "exit 127")              # the command leaves the agent to apply
    args = ["--name", "lim1", "--yes"]
    if form == "terminal":
        monkeypatch.setattr(sys, "stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})(""))
        monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    else:
        args += ["--host-key", setup.fingerprint if form == "SHA256:" else setup.fingerprint.removeprefix("SHA256:")]
    system_before, known_before = tree(setup.root), setup.known_hosts.read_text()
    code, out, err = run(capsys, setup, *args)
    assert code == 0, out + err
    title = (f"replace lim1 (LIM 1 of cluster c1, generation 1): host key ssh-ed25519 {setup.fingerprint} "
             f"accepted (was ssh-ed25519 {setup.old_fingerprint})")
    [(plan, known_at_start)] = applied
    assert plan.title == title
    pins = {s.server: [step for step in s.steps if isinstance(step, PinHostKey)] for s in plan.servers}
    assert pins == {"lim1": [PinHostKey("ssh-ed25519", setup.blob, setup.fingerprint)], "lim2": [], "sb1": []}
    assert plan.agent_check == AgentCheck(("lim1",))
    assert known_at_start == known_before, "nothing pinned before the apply"
    assert setup.known_hosts.read_text() == known_before, "the command pins nothing itself"
    assert not asked.exists(), "the command asks no agent itself"
    assert out.splitlines()[-1] == f"Done: {title}"
    assert tree(setup.root) == system_before, "system.yaml unchanged"
    assert os.listdir(Path(tempfile.gettempdir())) == []


def test_an_unchanged_key_is_accepted_without_asking(capsys, setup: Setup) -> None:
    setup.known_hosts.write_text(setup.server.known_hosts_line("lim1", setup.address))
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "lim1", "--dry-run")
    assert code == 0 and err == ""
    assert f"  pinned in {setup.known_hosts}: ssh-ed25519 {setup.fingerprint}" in out.splitlines()
    assert f"host key ssh-ed25519 {setup.fingerprint} accepted (unchanged)" in out
    nothing_left_behind(setup, before)


def test_a_broken_line_in_known_hosts_is_one_error_line(capsys, setup: Setup) -> None:
    setup.known_hosts.write_text(setup.known_hosts.read_text() + "spare1 ssh-ed25519 AAAAnot-base64!\n")
    code, _, err = run(capsys, setup, "--name", "lim1", "--host-key", setup.fingerprint, "--dry-run")
    assert code == 1 and f"cannot read {setup.known_hosts}" in one_error(err)


def test_a_server_in_no_cluster_with_nothing_pinned_is_a_plan_that_only_pins_its_key(capsys, setup: Setup) -> None:
    setup.known_hosts.write_text("".join(setup.known_hosts.read_text().splitlines(keepends=True)[:2]))   # not lim1
    before = snapshot(setup)
    code, out, err = run(capsys, setup, "--name", "spare1", "--dry-run")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"spare1 at 127.0.0.1:{setup.server.port} presents host key ssh-ed25519 {setup.fingerprint}",
        f"  pinned in {setup.known_hosts}: none",
        f"Plan: replace spare1 (in no cluster): host key ssh-ed25519 {setup.fingerprint} accepted (was none)",
        "  spare1 (10.77.0.30):",
        f"    - pin its host key ssh-ed25519 {setup.fingerprint} in this utility's known_hosts",
        "  Checked before anything changes:",
        f"    - spare1 answers at 10.77.0.30 with host key ssh-ed25519 {setup.fingerprint}",
        f"    - spare1 has the cluster agent installed, the same version as this utility ({product_version()})",
        "Dry run: nothing was changed."]
    nothing_left_behind(setup, before)
