"""The agent as a systemd service: the unit file agrees with the code, a bad agent.yaml exits with the
exit code the unit does not restart (one line naming FILE:LINE: KEY), and log lines carry their
syslog priority when stderr is the journal."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from mxone_maintenance.agent.effects.firewall import NFT_TIMEOUT_S
from mxone_maintenance.agent.logs import PriorityFormatter, is_journal, priority
from mxone_maintenance.agent.main import EXIT_CONFIG, parser
from mxone_maintenance.agent.runtime.loop import IDLE_TICK_S

REPO = Path(__file__).resolve().parents[2]
AGENT = Path(sys.executable).with_name("mxone-cluster-agent")


def unit(path: Path = REPO / "scripts/mxone-cluster-agent.service") -> dict[str, dict[str, list[str]]]:
    """Sections of key -> values (a key may repeat); comments and blank lines skipped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def seconds(value: str) -> float:
    return float(value[:-1]) if value.endswith("s") else float(value)


def test_the_unit_is_notify_with_a_watchdog_that_fits_the_cycle() -> None:
    service = unit()["Service"]
    assert service["Type"] == ["notify"] and service["NotifyAccess"] == ["main"]
    watchdog = seconds(service["WatchdogSec"][0])
    assert watchdog / 2 > NFT_TIMEOUT_S and watchdog / 2 > 10 * IDLE_TICK_S, \
        "pings come at WatchdogSec/2: a slow nft call or an idle tick must not look like a hang"
    assert watchdog < 60, "a hung agent is back before peers fail it with the default detect_s"
    assert service["ExecStart"] == ["/opt/mxone_install/bin/mxone-cluster-agent run"]
    assert service["KillMode"] == ["process"], "row 25: the Service Nodes survive an agent restart"


def test_the_unit_does_not_restart_a_config_error_and_limits_restarts() -> None:
    sections = unit()
    service = sections["Service"]
    assert service["Restart"][0] in ("always", "on-failure")
    assert str(EXIT_CONFIG) in service["RestartPreventExitStatus"][0].split()
    assert int(sections["Unit"]["StartLimitBurst"][0]) > 1 and sections["Unit"]["StartLimitIntervalSec"]


def test_the_unit_waits_for_the_network_and_the_clock() -> None:
    after = unit()["Unit"]["After"][0].split()
    wants = unit()["Unit"]["Wants"][0].split()
    assert {"network-online.target", "time-sync.target"} <= set(after) & set(wants)
    assert unit()["Unit"]["Documentation"] == ["man:mxone-cluster-agent(8)"]


def test_the_exit_code_is_in_the_help() -> None:
    assert f"{EXIT_CONFIG}  run: the configuration cannot be used" in parser().format_help()


def _run_agent(root: Path, env: dict[str, str], stderr) -> subprocess.CompletedProcess:
    return subprocess.run([str(AGENT), "--root", str(root), "run"], env=env, stderr=stderr,
                          stdout=subprocess.PIPE, text=True, timeout=60)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "MXONE_ROOT")}


def test_a_bad_agent_yaml_exits_78_with_one_line_naming_file_line_and_key(tmp_path) -> None:
    settings = tmp_path / "etc/opt/eri_sn/agent.yaml"
    settings.parent.mkdir(parents=True)
    settings.write_text("node: lim1\nservice: {start: [sn]}\nnodee: lim2\n")
    done = _run_agent(tmp_path, _env(), subprocess.PIPE)
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.splitlines() == [f"error: {settings}:3: nodee: unknown key "
                                        "(allowed: data_backup_hook, media_server, metrics, node, notify, "
                                        "notify_timeout_s, reboot, service, sync, traps)"]


def test_under_the_journal_the_config_error_is_an_error(tmp_path) -> None:
    settings = tmp_path / "etc/opt/eri_sn/agent.yaml"
    settings.parent.mkdir(parents=True)
    settings.write_bytes(b"node: lim1\nservice:\n  stop: \xff\n")
    journal = tmp_path / "journal"
    with journal.open("w") as stream:
        found = os.fstat(stream.fileno())
        env = {**_env(), "JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        assert _run_agent(tmp_path, env, stream).returncode == EXIT_CONFIG
    assert journal.read_text().splitlines() == [
        f"<3>error: {settings}:3: cannot read (not UTF-8 text: byte 0xff)"]


def test_log_lines_carry_their_priority_when_stderr_is_the_journal(tmp_path) -> None:
    script = ("import logging, sys\nfrom mxone_maintenance.agent.logs import log_to\nlog_to(sys.stderr)\n"
              "log = logging.getLogger('mxone-cluster-agent')\nlog.warning('ALARM raised: LIM 1 is running on "
              "standby server')\nlog.info('agent started')\nlog.error('two\\nlines')\n")
    journal = tmp_path / "journal"
    with journal.open("w") as stream:
        found = os.fstat(stream.fileno())
        env = {**_env(), "JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        subprocess.run([sys.executable, "-c", script], env=env, stderr=stream, check=True, timeout=60)
    assert journal.read_text().splitlines() == [
        "<4>WARNING ALARM raised: LIM 1 is running on standby server", "<6>INFO agent started",
        "<3>ERROR two", "<3>lines"]


def test_journal_stream_must_name_stderr_itself(tmp_path) -> None:
    other = tmp_path / "other"
    with other.open("w") as stream, (tmp_path / "journal").open("w") as journal:
        found = os.fstat(journal.fileno())
        env = {**_env(), "JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}     # inherited, not ours
        assert not is_journal(stream, env) and is_journal(journal, env)
        assert not is_journal(stream, {}) and not is_journal(stream, {"JOURNAL_STREAM": "junk"})


def test_the_formatter_prefixes_every_line_of_a_traceback() -> None:
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "cycle failed", None, sys.exc_info())
    lines = PriorityFormatter("%(message)s").format(record).splitlines()
    assert lines[0] == "<3>cycle failed" and len(lines) > 2 and all(line.startswith("<3>") for line in lines)
    assert [priority(level) for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                                          logging.CRITICAL, 25)] == [7, 6, 4, 3, 2, 4]
