"""The change journal beside system.yaml (ops/journal.py): written before the first server commits,
read back whole by the next run, 0600 (it may hold a new cluster key), and a damaged one is a one-line
JournalError that names the file, never a traceback and never silently ignored."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from helpers.strategies import sample_system, sample_with_cluster, systems
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mxone_maintenance.core import config
from mxone_maintenance.utility.ops.journal import (
    Journal,
    JournalError,
    clear_journal,
    journal_path,
    read_journal,
    write_journal,
)

KEY = bytes(range(256))


def a_journal(**changes) -> Journal:
    fields = dict(action="cluster create", title="create cluster c1: LIM 1, 2, 3 with standby sb1", user="tech",
                  since=1_700_000_000.25, before=sample_system(), after=sample_with_cluster(), secrets={"c1": KEY})
    fields.update(changes)
    return Journal(**fields)


def good_data(system_file: Path) -> dict:
    """A valid journal as its JSON fields."""
    write_journal(system_file, a_journal())
    return json.loads(journal_path(system_file).read_text())


@pytest.fixture
def system_file(tmp_path: Path) -> Path:
    return tmp_path / "etc" / "system.yaml"


def put(system_file: Path, raw: bytes | str) -> Path:
    path = journal_path(system_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.encode() if isinstance(raw, str) else raw)
    return path


def damaged(system_file: Path, raw: bytes | str) -> str:
    path = put(system_file, raw)
    with pytest.raises(JournalError) as raised:
        read_journal(system_file)
    message = str(raised.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    return message


# --- where, and round trip -----------------------------------------------------------------------------

def test_the_journal_sits_beside_system_yaml() -> None:
    assert journal_path(Path("/etc/opt/eri_sn/system.yaml")) == Path("/etc/opt/eri_sn/system.yaml.journal")


def test_a_written_journal_reads_back_equal(system_file: Path) -> None:
    journal = a_journal()
    write_journal(system_file, journal)
    back = read_journal(system_file)
    assert back == journal
    assert back.before == sample_system() and back.after == sample_with_cluster()
    assert back.secrets == {"c1": KEY}


def test_a_journal_without_secrets_reads_back_with_none(system_file: Path) -> None:
    write_journal(system_file, a_journal(action="cluster lock", secrets={}))
    assert read_journal(system_file).secrets == {}


def test_the_journal_is_mode_0600(system_file: Path) -> None:
    write_journal(system_file, a_journal())
    assert stat.S_IMODE(journal_path(system_file).stat().st_mode) == 0o600


def test_a_journal_written_over_a_readable_one_is_0600(system_file: Path) -> None:
    put(system_file, "old").chmod(0o644)
    write_journal(system_file, a_journal())
    assert stat.S_IMODE(journal_path(system_file).stat().st_mode) == 0o600
    assert read_journal(system_file) == a_journal()


def test_the_key_is_not_in_the_file_as_plain_bytes(system_file: Path) -> None:
    secret = b"a-very-secret-cluster-key"
    write_journal(system_file, a_journal(secrets={"c1": secret}))
    assert secret not in journal_path(system_file).read_bytes()


def test_no_journal_reads_as_none(system_file: Path) -> None:
    assert read_journal(system_file) is None


def test_clearing_removes_the_journal_and_twice_is_fine(system_file: Path) -> None:
    write_journal(system_file, a_journal())
    clear_journal(system_file)
    assert not journal_path(system_file).exists()
    assert read_journal(system_file) is None
    clear_journal(system_file)
    assert read_journal(system_file) is None


def test_the_headline_names_title_action_time_and_user() -> None:
    line = a_journal().headline()
    assert line.startswith("create cluster c1: LIM 1, 2, 3 with standby sb1 (cluster create, started ")
    assert line.endswith(" by tech)")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=systems(), after=systems(),
       secrets=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_-]{0,7}", fullmatch=True),
                               st.binary(min_size=1, max_size=64), max_size=3),
       since=st.floats(0, 4e9, allow_nan=False), title=st.text(max_size=40), user=st.text(max_size=10))
def test_any_journal_round_trips(system_file, before, after, secrets, since, title, user) -> None:
    journal = Journal("cluster change", title, user, since, before, after, secrets)
    write_journal(system_file, journal)
    assert read_journal(system_file) == journal


# --- what cannot be written, read or removed --------------------------------------------------------------

def test_a_journal_that_cannot_be_written_is_a_journal_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "etc").write_text("a file where the folder should be")
    system_file = tmp_path / "etc" / "system.yaml"
    with pytest.raises(JournalError) as raised:
        write_journal(system_file, a_journal())
    message = str(raised.value)
    assert "\n" not in message and str(journal_path(system_file)) in message


def test_a_journal_that_is_a_folder_cannot_be_read_and_says_so(system_file: Path) -> None:
    journal_path(system_file).mkdir(parents=True)
    with pytest.raises(JournalError) as raised:
        read_journal(system_file)
    assert str(journal_path(system_file)) in str(raised.value)


def test_a_journal_that_is_a_folder_cannot_be_cleared_and_says_so(system_file: Path) -> None:
    journal_path(system_file).mkdir(parents=True)
    with pytest.raises(JournalError) as raised:
        clear_journal(system_file)
    assert str(journal_path(system_file)) in str(raised.value)


# --- damaged journals ---------------------------------------------------------------------------------------

def test_damaged_json_is_a_journal_error_naming_the_file(system_file: Path) -> None:
    assert "damaged" in damaged(system_file, '{"version": 1, "action": ')


def test_an_empty_journal_is_damaged(system_file: Path) -> None:
    damaged(system_file, "")


def test_a_journal_that_is_not_utf8_is_a_journal_error(system_file: Path) -> None:
    damaged(system_file, b"\xff\xfe{}")


def test_another_version_is_a_journal_error(system_file: Path) -> None:
    assert "version 2" in damaged(system_file, json.dumps({**good_data(system_file), "version": 2}))


def test_a_journal_without_a_version_is_a_journal_error(system_file: Path) -> None:
    data = good_data(system_file)
    del data["version"]
    assert "version None" in damaged(system_file, json.dumps(data))


def test_bad_base64_in_secrets_is_a_journal_error(system_file: Path) -> None:
    damaged(system_file, json.dumps({**good_data(system_file), "secrets": {"c1": "not base64!"}}))


@pytest.mark.parametrize("key", ["action", "title", "user", "since", "before", "after", "secrets"])
def test_a_missing_field_is_a_journal_error(system_file: Path, key: str) -> None:
    data = good_data(system_file)
    del data[key]
    damaged(system_file, json.dumps(data))


@pytest.mark.parametrize("raw", ["[]", "null", "1", '"text"', "true"])
def test_json_that_is_not_an_object_is_a_journal_error(system_file: Path, raw: str) -> None:
    damaged(system_file, raw)


@pytest.mark.parametrize("field,value", [("before", 5), ("before", None), ("after", "- ["), ("after", "schema: 2\n"),
                                         ("secrets", []), ("secrets", {"c1": 7}), ("since", "soon"), ("since", [1])])
def test_a_field_of_the_wrong_kind_is_a_journal_error(system_file: Path, field: str, value) -> None:
    damaged(system_file, json.dumps({**good_data(system_file), field: value}))


def test_an_invalid_system_inside_names_the_journal_and_the_side(system_file: Path) -> None:
    bad = config.dump_system(sample_system()).replace("lim: 2", "lim: 200")
    message = damaged(system_file, json.dumps({**good_data(system_file), "before": bad}))
    assert "(before)" in message


def test_deeply_nested_json_is_a_journal_error(system_file: Path) -> None:
    damaged(system_file, "[" * 100_000)


def test_a_deeply_nested_system_inside_is_a_journal_error(system_file: Path) -> None:
    damaged(system_file, json.dumps({**good_data(system_file), "before": "[" * 3000 + "]" * 3000}))


def test_a_start_time_too_large_for_a_float_is_a_journal_error(system_file: Path) -> None:
    damaged(system_file, json.dumps(good_data(system_file)).replace('"since": 1700000000.25', '"since": 1' + "0" * 400))


@pytest.mark.parametrize("since", ["Infinity", "-Infinity", "NaN", "1e300"])
def test_a_journal_read_back_always_has_a_headline(system_file: Path, since: str) -> None:
    put(system_file, json.dumps(good_data(system_file)).replace('"since": 1700000000.25', f'"since": {since}'))
    try:
        journal = read_journal(system_file)
    except JournalError:
        return                              # refused as damaged: fine
    assert journal.title in journal.headline()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400))
@example(raw=b"{}")
@example(raw=b'{"version": 1}')
def test_any_bytes_in_the_journal_give_a_journal_or_a_journal_error(system_file: Path, raw: bytes) -> None:
    put(system_file, raw)
    try:
        result = read_journal(system_file)
    except JournalError as err:
        assert "\n" not in str(err) and str(journal_path(system_file)) in str(err)
    else:
        assert isinstance(result, Journal)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(["version", "action", "title", "user", "since", "before", "after",
                                               "secrets"]), JSON, max_size=4),
       dropped=st.sets(st.sampled_from(["action", "title", "since", "before", "secrets"]), max_size=2))
def test_a_journal_with_any_fields_damaged_gives_a_journal_or_a_journal_error(system_file: Path, fields,
                                                                             dropped) -> None:
    data = {**good_data(system_file), **fields}
    for key in dropped:
        data.pop(key, None)
    put(system_file, json.dumps(data))
    try:
        result = read_journal(system_file)
    except JournalError as err:
        assert "\n" not in str(err) and str(journal_path(system_file)) in str(err)
    else:
        assert isinstance(result, Journal)
