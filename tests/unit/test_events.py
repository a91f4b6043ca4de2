"""The agent's events: the line format (core/contracts/events.py), the history file with its rotation
(agent/events/history.py), the metrics textfile (metrics.py) and the sink that never raises (sink.py)."""
from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxone_maintenance.agent.events import EventLog, EventSink, LimMetric, MetricsSnapshot
from mxone_maintenance.agent.events.history import old_file
from mxone_maintenance.agent.events.metrics import MetricsWriter, render
from mxone_maintenance.agent.settings import AgentSettings
from mxone_maintenance.core.contracts.events import (
    ALARM_CODE,
    DEFAULT_SEVERITY,
    Event,
    EventKind,
    event_line,
    event_text,
    new_event,
    parse_event_line,
    parse_events,
    parse_since,
)
from mxone_maintenance.core.paths import Paths

T0 = 1_796_000_000.0

events = st.builds(Event, at=st.floats(0, 4e9, allow_nan=False), server=st.text(max_size=80),
                   kind=st.sampled_from(list(EventKind)), lim=st.none() | st.integers(1, 99),
                   severity=st.integers(0, 4), text=st.text(max_size=1200), cause=st.text(max_size=50),
                   generation=st.integers(0, 2**40))


def ev(at: float, text: str = "LIM 2 taken over", kind: EventKind = EventKind.TAKEOVER, server: str = "sb1",
       lim: int | None = 2) -> Event:
    return new_event(kind, server, text, lim=lim, cause="lim2 silent for 3.0 s", generation=4, at=at)


# --- the line -----------------------------------------------------------------------------------------

@settings(max_examples=300)
@given(events)
def test_a_line_is_one_ascii_line_and_reads_back_as_the_same_event(event: Event) -> None:
    line = event_line(event)
    assert "\n" not in line and "\r" not in line and line.isascii()
    assert parse_event_line(line) == event == parse_event_line(line.encode())
    shown = event_text(event)
    assert shown.isprintable() and event.text in shown


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_any_bytes_are_an_event_or_none_never_an_exception(raw: bytes) -> None:
    found = parse_event_line(raw)
    assert found is None or isinstance(found, Event)


@given(st.dictionaries(st.sampled_from(["at", "server", "kind", "lim", "severity", "text", "cause",
                                        "generation"]),
                       st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)))
def test_any_json_object_is_an_event_or_none(data: dict) -> None:
    found = parse_event_line(json.dumps(data))
    assert found is None or (0 <= found.severity <= 4 and math.isfinite(found.at))


@pytest.mark.parametrize("line", [
    b"", b"{", b"[]", b'{"at": 1}', b"\xff\xfe", b"[" * 100000,
    b'{"at":1,"server":"a","kind":"takeover","lim":null,"severity":5,"text":"t"}',
    b'{"at":1,"server":"a","kind":"reboot","lim":null,"severity":1,"text":"t"}',
    b'{"at":1,"server":"a","kind":"takeover","lim":true,"severity":1,"text":"t"}',
    b'{"at":NaN,"server":"a","kind":"takeover","lim":null,"severity":1,"text":"t"}',
    b'{"at":1,"server":"a","kind":"takeover","lim":1,"severity":1,"text":"t","generation":' + b"9" * 5000 + b"}",
])
def test_damaged_lines_are_none(line: bytes) -> None:
    assert parse_event_line(line) is None


def test_text_is_made_one_line_and_severity_checked() -> None:
    event = new_event(EventKind.HEALTH, "lim1\n", "check failed\nexit 1\x1b[2J", lim=1)
    assert (event.text, event.server) == ("check failed\\nexit 1\\x1b[2J", "lim1\\n")
    assert (event.severity, event.code) == (3, 4105)
    with pytest.raises(ValueError):
        new_event(EventKind.HEALTH, "lim1", "x", severity=5)
    assert set(ALARM_CODE) == set(DEFAULT_SEVERITY) == set(EventKind)
    assert len(set(ALARM_CODE.values())) == len(EventKind)


def test_since_is_relative_or_iso() -> None:
    assert parse_since("10m", now=T0) == T0 - 600
    assert parse_since("2h", now=T0) == T0 - 7200 and parse_since("1d", now=T0) == T0 - 86400
    assert parse_since(" 90s ", now=T0) == T0 - 90
    assert parse_since("2026-12-01T10:00:00+00:00") == 1796119200.0
    assert parse_since("2026-12-01") > 0
    for bad in ("yesterday", "10x", "", "-5m"):
        with pytest.raises(ValueError, match=r"^--since must be a time such as .* \(got "):
            parse_since(bad)


# --- the history file ---------------------------------------------------------------------------------

def test_events_are_appended_and_read_in_time_order_across_restarts(tmp_path: Path) -> None:
    path = Paths(tmp_path).events_file
    assert path == tmp_path / "var/opt/eri_sn/agent/events.jsonl"
    log = EventLog(path)
    log.append(ev(T0 + 2))
    log.append(ev(T0 + 1, "earlier, recorded later"))
    log.close()
    again = EventLog(path)                      # the agent restarted
    again.append(ev(T0 + 3, "after the restart"))
    assert [e.text for e in again.read()] == ["earlier, recorded later", "LIM 2 taken over", "after the restart"]
    assert [e.at for e in again.read(since=T0 + 2)] == [T0 + 2, T0 + 3]
    assert oct(path.stat().st_mode & 0o777) == "0o640"


def test_damaged_lines_are_skipped_and_a_cut_last_line_does_not_spoil_the_next(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(event_line(ev(T0)).encode() + b"\nnot json\n\xff\xfe\n" + event_line(ev(T0 + 1)).encode()[:30])
    log = EventLog(path)
    log.append(ev(T0 + 2, "after the crash"))
    assert [e.text for e in log.read()] == ["LIM 2 taken over", "after the crash"]


def test_the_file_is_rotated_past_its_size_keeping_one_old_generation(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, max_bytes=4096)
    for n in range(200):
        log.append(ev(T0 + n, f"event {n}"))
    assert path.stat().st_size < 4096 and old_file(path).stat().st_size >= 4096 - 300
    assert not old_file(old_file(path)).exists() and sorted(os.listdir(tmp_path)) == ["events.jsonl",
                                                                                      "events.jsonl.1"]
    read = log.read()
    assert [e.text for e in read] == [f"event {n}" for n in range(200 - len(read), 200)]
    assert 20 < len(read) < 60       # about two files' worth, the oldest dropped


def test_the_default_bound_is_one_mebibyte_per_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    line = len(event_line(ev(T0, "x" * 900))) + 1
    for n in range(2 * 1024 * 1024 // line + 50):
        log.append(ev(T0 + n, "x" * 900))
    assert path.stat().st_size + old_file(path).stat().st_size <= 2 * 1024 * 1024 + line
    assert old_file(path).stat().st_size >= 1024 * 1024


def test_a_file_moved_away_behind_the_agent_is_begun_anew(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    log.append(ev(T0))
    path.rename(tmp_path / "elsewhere")
    log.append(ev(T0 + 1, "new file"))
    assert [e.text for e in log.read()] == ["new file"]


def test_parse_events_filters_and_orders() -> None:
    old = (event_line(ev(T0 + 5, "b")) + "\n").encode()
    new = (event_line(ev(T0 + 1, "a")) + "\n" + event_line(ev(T0 + 9, "c"))).encode()
    assert [e.text for e in parse_events(old, new)] == ["a", "b", "c"]
    assert [e.text for e in parse_events(old, new, since=T0 + 5)] == ["b", "c"]


# --- metrics ------------------------------------------------------------------------------------------

SNAPSHOT = MetricsSnapshot(server="sb1", cluster="c1", generation=4,
                           lims=(LimMetric(1, False, "running on lim1"), LimMetric(2, True, 'running "here"')),
                           heartbeats={"sent": 10, "received": 8, "accepted": 6, "forged": 1, "replayed": 1},
                           failovers_total=1, last_event_at=T0)


def test_the_textfile_has_every_metric() -> None:
    text = render(SNAPSHOT)
    lines = set(text.splitlines())
    assert {'mxone_lim_running{lim="1",server="sb1"} 0', 'mxone_lim_running{lim="2",server="sb1"} 1',
            'mxone_lim_state{lim="2",server="sb1",state="running \\"here\\""} 1',
            'mxone_heartbeats_sent_total{server="sb1"} 10', 'mxone_heartbeats_received_total{server="sb1"} 8',
            'mxone_heartbeats_accepted_total{server="sb1"} 6',
            'mxone_heartbeats_rejected_total{server="sb1",reason="forged"} 1',
            'mxone_heartbeats_rejected_total{server="sb1",reason="stale"} 0',
            'mxone_failovers_total{server="sb1"} 1',
            'mxone_last_event_timestamp_seconds{server="sb1"} 1.796e+09',
            "# TYPE mxone_failovers_total counter"} <= lines
    assert text.endswith("\n")


def test_the_textfile_is_written_atomically_at_most_once_a_second(tmp_path: Path) -> None:
    now = [100.0]
    path = tmp_path / "mxone.prom"
    writer = MetricsWriter(path, clock=lambda: now[0])
    assert writer.offer(SNAPSHOT)
    newer = MetricsSnapshot(server="sb1", failovers_total=7)
    now[0] += 0.5
    assert not writer.offer(newer) and "failovers_total{server=\"sb1\"} 1" in path.read_text()
    now[0] += 0.6
    assert writer.offer(newer) and 'mxone_failovers_total{server="sb1"} 7' in path.read_text()
    assert sorted(os.listdir(tmp_path)) == ["mxone.prom"] and writer.writes == 2


# --- the sink -----------------------------------------------------------------------------------------

def test_the_sink_records_history_and_fills_the_metrics(tmp_path: Path) -> None:
    prom = tmp_path / "node/mxone.prom"
    prom.parent.mkdir()
    sink = EventSink(AgentSettings(node="sb1", metrics_textfile=prom), Paths(tmp_path), "sb1")
    sink.event(EventKind.AGENT_STARTED, "agent started", at=T0)
    sink.record(ev(T0 + 1))
    sink.metrics(MetricsSnapshot(server="sb1"))
    sink.close()
    assert [e.kind for e in EventLog(Paths(tmp_path).events_file).read()] == [EventKind.AGENT_STARTED,
                                                                               EventKind.TAKEOVER]
    text = prom.read_text()
    assert 'mxone_failovers_total{server="sb1"} 1' in text
    assert 'mxone_last_event_timestamp_seconds{server="sb1"} 1.796e+09' in text


def test_the_sink_never_raises_and_logs_a_failure_once(tmp_path: Path, caplog) -> None:
    (tmp_path / "var").write_text("a file where the folder should be")
    prom = tmp_path / "var/mxone.prom"      # under that file: its folder cannot be made
    sink = EventSink(AgentSettings(node="sb1", metrics_textfile=prom), Paths(tmp_path), "sb1")
    with caplog.at_level(logging.WARNING, logger="mxone-cluster-agent"):
        for n in range(3):
            sink.record(ev(T0 + n))
            sink.metrics(MetricsSnapshot(server="sb1"))
        assert sink.event(EventKind.HEALTH, "x", severity=9) is None
        sink.record("not an event")          # type: ignore[arg-type]
        sink.close()
    errors = [r.getMessage() for r in caplog.records]
    assert sum("event history" in m and "cannot be written" in m for m in errors) == 1
    assert sum("metrics textfile" in m for m in errors) == 1
    assert sink.recorded == 3
