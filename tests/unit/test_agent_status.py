"""The agent's status as it crosses hosts (core/contracts/agent_status.py): what the agent writes reads
back as the same value, and nothing that comes in, however malformed, raises anything but StatusError."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.core.contracts.agent_status import (
    AgentStatus,
    AlarmStatus,
    LimState,
    LimStatus,
    Listening,
    NotServed,
    PeerStatus,
    StatusError,
    SyncCheck,
    SyncEntry,
)

names = st.text(max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.integers(min_value=0, max_value=2**40)
lim_lists = st.lists(numbers, max_size=4).map(tuple)


def _valid(build):
    try:
        return build()
    except ValueError:
        return None


@st.composite
def lim_statuses(draw) -> LimStatus:
    """Any state with any parameters, kept when the state's words can be made from them."""
    status = draw(st.builds(
        lambda *args, **kwargs: _valid(lambda: LimStatus(*args, **kwargs)),
        numbers, st.none() | names, st.sampled_from(LimState),
        servers=st.lists(names, max_size=3).map(tuple), mac=st.none() | names,
        listening=st.none() | st.sampled_from(Listening), why=st.none() | st.sampled_from(NotServed),
        other_lim=st.none() | numbers).filter(lambda s: s is not None))
    return status


peers = st.builds(PeerStatus, names, numbers, st.none() | finite, st.none() | finite, lim_lists, lim_lists)
alarms = st.builds(AlarmStatus, names, names, finite, st.none() | finite)
checks = st.builds(SyncCheck, numbers, names, st.booleans(), finite, names)
entries = st.builds(SyncEntry, numbers, names, names, st.none() | finite, st.none() | st.booleans(),
                    st.none() | finite, st.none() | names, st.none() | names, st.none() | names, st.booleans(),
                    numbers, st.none() | names, st.none() | st.booleans(), st.none() | finite)
statuses = st.builds(
    AgentStatus, node=names, now=finite, cluster=st.none() | names, generation=st.none() | numbers, config=names,
    fallback=st.none() | names, failover=st.none() | names, lims=st.lists(lim_statuses(), max_size=4).map(tuple),
    running=st.none() | lim_lists, blocked=lim_lists, peers=st.lists(peers, max_size=3).map(tuple),
    alarms=st.lists(alarms, max_size=3).map(tuple), fallback_orders=lim_lists,
    sync=st.lists(entries, max_size=2).map(tuple), sync_checks=st.lists(checks, max_size=2).map(tuple),
    counters=st.dictionaries(names, numbers, max_size=3), up_s=finite)

KEYS = sorted(AgentStatus(node="x").to_json()) + ["lim", "where", "kind", "servers", "why", "name", "key"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner,
                                                                max_size=6),
    max_leaves=25)


def _reads_back_or_refuses(value) -> None:
    try:
        status = AgentStatus.from_json(value)
    except StatusError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert AgentStatus.from_json(status.to_json()) == status   # what it accepted, it can say again


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)   # big statuses, a loaded CI machine
@given(statuses)
def test_what_the_agent_writes_reads_back_the_same(status):
    assert AgentStatus.from_json(status.to_json()) == status
    assert AgentStatus.loads(json.dumps(status.to_json())) == status


@given(statuses)
def test_every_lims_words_are_in_the_json_beside_its_state(status):
    for item, written in zip(status.lims, status.to_json()["lims"], strict=True):
        assert (written["kind"], written["state"]) == (item.kind.value, item.state)


@settings(max_examples=300)
@given(json_values)
def test_any_json_value_is_a_status_or_a_status_error(value):
    _reads_back_or_refuses(value)
    _reads_back_or_refuses({"ok": True, "node": "lim1", **(value if isinstance(value, dict) else {})})


def _mutated(value, data):
    """The value with one place in it deleted or replaced by any JSON."""
    if isinstance(value, (dict, list)) and value and data.draw(st.booleans()):
        keys = sorted(value) if isinstance(value, dict) else list(range(len(value)))
        key = data.draw(st.sampled_from(keys))
        copy = dict(value) if isinstance(value, dict) else list(value)
        what = data.draw(st.sampled_from(["descend", "replace", "delete"]))
        if what == "descend":
            copy[key] = _mutated(copy[key], data)
        elif what == "replace":
            copy[key] = data.draw(json_values)
        else:
            del copy[key]
        return copy
    return data.draw(json_values)


@settings(max_examples=150)
@given(statuses, st.data())
def test_a_damaged_status_is_refused_with_one_error(status, data):
    _reads_back_or_refuses(_mutated(status.to_json(), data))


@given(st.binary(max_size=200))
def test_any_bytes_are_a_status_or_a_status_error(raw):
    try:
        AgentStatus.loads(raw)
    except StatusError:
        pass


@pytest.mark.parametrize("text", [b"\xff\xfe", b"[" * 100_000, b'{"ok": true, "node": "x", "now": NaN}', b"",
                                  b'{"ok": true, "node": "x", "now": 1' + b"0" * 400 + b"}",
                                  b'{"ok": false, "error": "permission denied"}', b"[]", b'"status"'])
def test_malformed_replies_are_named(text):
    with pytest.raises(StatusError) as caught:
        AgentStatus.loads(text)
    assert "\n" not in str(caught.value)


def test_a_state_without_its_parameters_is_refused():
    with pytest.raises(ValueError, match="needs why"):
        LimStatus(3, None, LimState.NOT_SERVED)
    status = AgentStatus(node="sb1", lims=(LimStatus(3, None, LimState.NOT_SERVED, why=NotServed.LOWER_PRIORITY),))
    written = status.to_json()
    written["lims"][0]["why"] = None
    with pytest.raises(StatusError, match=r"lims\[0\].*needs why"):
        AgentStatus.from_json(written)


def test_the_words_are_the_ones_status_always_showed():
    said = {LimStatus(1, "sb1", LimState.NOT_SERVED, why=NotServed.STANDBY_BUSY, other_lim=3):
            "not served (standby runs LIM 3)",
            LimStatus(1, None, LimState.NOT_HEARD, servers=("lim1",), listening=Listening.CABLE_BACK):
            "unknown: cable back: listening to peers, lim1 not heard",
            LimStatus(1, "lim1", LimState.TAKING_OVER_ALIAS_ANSWERED, servers=("lim1",), mac="02:00:00:00:00:11"):
            "taking over: alias answered by lim1 (02:00:00:00:00:11), waiting",
            LimStatus(1, None, LimState.STARTING_ALIAS_ANSWERED, mac="02:00:00:00:00:99"):
            "starting LIM: alias answered by foreign MAC 02:00:00:00:00:99, waiting",
            LimStatus(2, "lim1", LimState.RUNNING_ON, servers=("lim1", "sb1")): "running on lim1, sb1"}
    assert {status: status.state for status in said} == said
