"""agent.yaml's keys for events and health checks (agent/settings.py): accepted as documented, and a bad
value is one line naming file, line, key and value."""
from __future__ import annotations

from pathlib import Path

import pytest

from mxone_maintenance.agent.settings import AgentSettings, SettingsError, parse_settings

FILE = Path("/etc/opt/eri_sn/agent.yaml")

FULL = """\
node: sb1
service:
  start: [sn, start, "{lim}", "{alias}"]
  check: [sn, check, "{lim}", "{alias}"]
  check_interval_s: 0.5
  check_timeout_s: 0.25
  check_failures: 5
notify: [/usr/local/bin/page-oncall, --quiet]
notify_timeout_s: 2.5
traps:
  receivers: [nms1, "nms2:1162", "[fd00::5]:10162", "fd00::6"]
  community: mxone
metrics: {textfile: /var/lib/prometheus/node-exporter/mxone.prom}
"""


def test_every_new_key_is_read() -> None:
    settings = parse_settings(FULL, FILE, "host")
    assert settings.check_argv == ("sn", "check", "{lim}", "{alias}") and settings.check_tcp_port is None
    assert (settings.check_interval_s, settings.check_timeout_s, settings.check_failures) == (0.5, 0.25, 5)
    assert settings.notify == ("/usr/local/bin/page-oncall", "--quiet") and settings.notify_timeout_s == 2.5
    assert settings.trap_receivers == (("nms1", 162), ("nms2", 1162), ("fd00::5", 10162), ("fd00::6", 162))
    assert settings.trap_community == "mxone"
    assert settings.metrics_textfile == Path("/var/lib/prometheus/node-exporter/mxone.prom")


def test_the_defaults() -> None:
    settings = parse_settings("service: {check: {tcp: 7001}}\n", FILE, "host")
    assert (settings.check_argv, settings.check_tcp_port) == ((), 7001)
    assert (settings.check_interval_s, settings.check_timeout_s, settings.check_failures) == (2.0, 1.0, 3)
    none = parse_settings("", FILE, "host")
    assert none == AgentSettings(node="host")
    assert (none.notify, none.notify_timeout_s, none.trap_receivers, none.trap_community, none.metrics_textfile,
            none.check_argv, none.check_tcp_port) == ((), 5.0, (), "public", None, (), None)


@pytest.mark.parametrize("text, said", [
    ("service:\n  check: {udp: 7001}\n", "2: service.check.udp: unknown key (allowed: expect, tcp)"),
    ("service:\n  check: {}\n", "2: service.check.tcp: missing"),
    ("service:\n  check: {tcp: 70000}\n", "2: service.check.tcp: must be from 1 to 65535 (got 70000)"),
    ("service:\n  check: {tcp: '7001'}\n", "2: service.check.tcp: must be a whole number (got '7001')"),
    ("service:\n  check: sn check\n", "2: service.check: must be a list of strings or {tcp: PORT} (got 'sn check')"),
    ("service:\n  check: []\n", "2: service.check: must be a list of strings, the first a program (got [])"),
    ("service:\n  check_interval_s: 0\n", "2: service.check_interval_s: must be from 0.1 to 3600 (got 0)"),
    ("service:\n  check_timeout_s: fast\n", "2: service.check_timeout_s: must be a number (got 'fast')"),
    ("service:\n  check_failures: 2.5\n", "2: service.check_failures: must be a whole number (got 2.5)"),
    ("notify: page-oncall\n", "1: notify: must be a list of strings (got 'page-oncall')"),
    ("notify: []\n", "1: notify: must be a list of strings, the first a program (got [])"),
    ("notify_timeout_s: 0\n", "1: notify_timeout_s: must be from 0.1 to 300 (got 0)"),
    ("notify_timeout_s: true\n", "1: notify_timeout_s: must be a number (got True)"),
    ("traps: [nms1]\n", "1: traps: must be a mapping (got ['nms1'])"),
    ("traps:\n  receiver: [nms1]\n", "2: traps.receiver: unknown key (allowed: community, receivers)"),
    ("traps:\n  receivers: nms1\n", "2: traps.receivers: must be a list of host or host:port (got 'nms1')"),
    ("traps:\n  receivers:\n    - nms1\n    - 'nms 2'\n",
     "4: traps.receivers[1]: must be host or host:port (got 'nms 2')"),
    ("traps:\n  receivers: ['nms:0']\n", "2: traps.receivers[0]: the port must be from 1 to 65535 (got 'nms:0')"),
    ("traps:\n  receivers: ['a:b:c']\n", "2: traps.receivers[0]: must be host or host:port (got 'a:b:c')"),
    ("traps:\n  receivers: ['[::1']\n", "2: traps.receivers[0]: must be host or host:port (got '[::1')"),
    ("traps:\n  community: ''\n",
     "2: traps.community: must be a community name (1 to 64 printable characters) (got '')"),
    ("metrics:\n  textfile: mxone.prom\n", "2: metrics.textfile: must be an absolute path ending in .prom "
                                          "(node-exporter reads only those) (got 'mxone.prom')"),
    ("metrics:\n  textfile: /var/lib/mxone.txt\n", "2: metrics.textfile: must be an absolute path ending in .prom "
                                                  "(node-exporter reads only those) (got '/var/lib/mxone.txt')"),
    ("metrics:\n  file: /a.prom\n", "2: metrics.file: unknown key (allowed: textfile)"),
])
def test_a_bad_value_is_one_line_naming_the_key_and_value(text: str, said: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(text, FILE, "host")
    assert str(raised.value) == f"{FILE}:{said}"
    assert "\n" not in str(raised.value)
