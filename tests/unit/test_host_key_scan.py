"""The host key a server presents, the one pinned for it, and re-pinning a changed one
(utility/remote/host_key_scan.py): what `server replace` writes in known_hosts, and the private copy
it trusts for its checks before the change. The scan is checked against a real OpenSSH sshd on the
loopback (tests/helpers/sshd_server.py), its fingerprint against `ssh-keygen -lf`."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import sshd_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxone_maintenance.utility.remote import host_key_scan
from mxone_maintenance.utility.remote.errors import RemoteError
from mxone_maintenance.utility.remote.host_key_scan import (
    PresentedKey,
    pinned_key,
    presented_key,
    repin,
    repinned_text,
    trusting,
)
from mxone_maintenance.utility.remote.settings import Host, SshSettings

HOST = Host("lim1", "10.77.0.101")
NEW = PresentedKey("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAINEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNE",
                   "SHA256:newnewnewnewnewnewnewnewnewnewnewnewnewnew0")
NEW_LINE = f"lim1,10.77.0.101 ssh-ed25519 {NEW.blob}"
OLD_BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLD"
OTHER_BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIOTHEROTHEROTHEROTHEROTHEROTHEROTHEROTHEROTHER"


def hashed(name: str, salt: bytes = b"0123456789abcdefghij") -> str:
    """`|1|salt|hash` as OpenSSH's HashKnownHosts writes a name (HMAC-SHA1 keyed by the salt)."""
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def names_target(line: str, names=("lim1", "10.77.0.101")) -> bool:
    """Whether a known_hosts line pins a key for lim1 or its address: the test's own reading of the format
    (@cert-authority and @revoked lines are the admin's trust settings, not pins)."""
    words = line.split()
    if not words or words[0].startswith(("#", "@")):
        return False
    field = words[0]
    for label in field.split(","):
        if label.startswith("|1|"):
            _, _, salt, _ = label.split("|")
            if any(hashed(name, base64.b64decode(salt)) == label for name in names):
                return True
        elif label in names:
            return True
    return False


def key_of(pub: Path) -> PresentedKey:
    """A public key file as the scan reports it, the fingerprint from ssh-keygen."""
    key_type, blob = pub.read_text().split()[:2]
    return PresentedKey(key_type, blob, sshd_server.fingerprint(pub))


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[PresentedKey, PresentedKey, PresentedKey]:
    """Three real ed25519 keys (old, new, another host's), made by ssh-keygen."""
    folder = tmp_path_factory.mktemp("keys")
    return tuple(key_of(sshd_server.keygen(folder / name).with_suffix(".pub")) for name in ("old", "new", "other"))


# --- repinned_text ------------------------------------------------------------------------------------

def test_every_line_for_the_name_or_address_becomes_one_line_for_the_new_key() -> None:
    text = "\n".join([
        "# my servers",
        f"lim2,10.77.0.102 ssh-ed25519 {OTHER_BLOB}",
        f"lim1 ssh-ed25519 {OLD_BLOB}",
        "",
        f"10.77.0.101 ecdsa-sha2-nistp256 {OLD_BLOB}",
        f"lim1,10.77.0.101 ssh-rsa {OLD_BLOB}",
        f"sb1,lim1 ssh-ed25519 {OLD_BLOB}",                     # lim1 second in a list
        f"{hashed('lim1')} ssh-ed25519 {OLD_BLOB}",
        f"{hashed('10.77.0.101', b'another salt of 20b!')} ssh-ed25519 {OLD_BLOB}",
        f"@revoked lim1 ssh-ed25519 {OLD_BLOB}",
        f"@cert-authority lim1,lim2 ssh-ed25519 {OLD_BLOB}",
        f"@cert-authority *.example.com ssh-ed25519 {OTHER_BLOB}",
        f"@revoked lim2 ssh-ed25519 {OTHER_BLOB}",
        f"{hashed('lim2')} ssh-ed25519 {OTHER_BLOB}",
        f"lim11,10.77.0.1011 ssh-ed25519 {OTHER_BLOB}",        # names that only start like lim1's
        f"[10.77.0.101]:2222 ssh-ed25519 {OTHER_BLOB}",          # another port: another endpoint
        "  # indented comment naming lim1",
        f"spare1 ssh-ed25519 {OTHER_BLOB} a comment, with lim1 in it",
    ]) + "\n"
    assert repinned_text(text, HOST, NEW).splitlines() == [
        "# my servers",
        f"lim2,10.77.0.102 ssh-ed25519 {OTHER_BLOB}",
        "",
        f"@revoked lim1 ssh-ed25519 {OLD_BLOB}",                # the admin's trust settings: kept as they are
        f"@cert-authority lim1,lim2 ssh-ed25519 {OLD_BLOB}",
        f"@cert-authority *.example.com ssh-ed25519 {OTHER_BLOB}",
        f"@revoked lim2 ssh-ed25519 {OTHER_BLOB}",
        f"{hashed('lim2')} ssh-ed25519 {OTHER_BLOB}",
        f"lim11,10.77.0.1011 ssh-ed25519 {OTHER_BLOB}",
        f"[10.77.0.101]:2222 ssh-ed25519 {OTHER_BLOB}",
        "  # indented comment naming lim1",
        f"spare1 ssh-ed25519 {OTHER_BLOB} a comment, with lim1 in it",
        NEW_LINE,
    ]


def test_hashed_entries_as_ssh_keygen_writes_them(tmp_path: Path) -> None:
    """`ssh-keygen -H` hashes every name of every line (a comma list becomes one line per name)."""
    plain = tmp_path / "known_hosts"
    plain.write_text(f"lim1,10.77.0.101 ssh-ed25519 {OLD_BLOB}\nlim2,10.77.0.102 ssh-ed25519 {OTHER_BLOB}\n"
                     f"[10.77.0.101]:2222 ssh-ed25519 {OLD_BLOB}\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(plain)], check=True, capture_output=True)
    lines = plain.read_text().splitlines()
    assert len(lines) == 5 and all(line.startswith("|1|") for line in lines), lines
    result = repinned_text(plain.read_text(), HOST, NEW).splitlines()
    assert result == [lines[2], lines[3], lines[4], NEW_LINE], "lim2's two lines and the other port's kept"
    on_port = Host("lim1", "10.77.0.101", 2222)
    assert repinned_text(plain.read_text(), on_port, NEW).splitlines() == \
        [lines[1], lines[2], lines[3], f"lim1,[10.77.0.101]:2222 ssh-ed25519 {NEW.blob}"]


def test_an_empty_file_gets_the_one_line_and_a_file_without_a_last_newline_keeps_its_lines() -> None:
    assert repinned_text("", HOST, NEW) == NEW_LINE + "\n"
    assert repinned_text(f"lim2 ssh-ed25519 {OTHER_BLOB}", HOST, NEW) == \
        f"lim2 ssh-ed25519 {OTHER_BLOB}\n{NEW_LINE}\n"
    assert repinned_text(NEW_LINE + "\n", HOST, NEW) == NEW_LINE + "\n", "repinning twice changes nothing"


def test_a_server_whose_name_is_its_address_gets_one_name() -> None:
    assert repinned_text(f"10.77.0.30 ssh-ed25519 {OLD_BLOB}\n", Host("10.77.0.30", "10.77.0.30"), NEW) == \
        f"10.77.0.30 ssh-ed25519 {NEW.blob}\n"


def test_other_lines_are_kept_byte_for_byte_whatever_characters_they_hold() -> None:
    other = f"lim2 ssh-ed25519 {OTHER_BLOB} page\x0cbreak\n# crlf comment\r\n"
    assert repinned_text(other + f"lim1 ssh-ed25519 {OLD_BLOB}\n", HOST, NEW) == other + NEW_LINE + "\n"


def test_a_corrupted_hashed_line_of_another_host_is_kept() -> None:
    broken = f"|1|c2hvcnQ=|AAAA ssh-ed25519 {OTHER_BLOB}"
    assert repinned_text(f"{broken}\nlim1 ssh-ed25519 {OLD_BLOB}\n", HOST, NEW) == f"{broken}\n{NEW_LINE}\n"


LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,8}(\.[a-z0-9]{1,5})?|10\.77\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True) \
    .filter(lambda name: name not in ("lim1", "10.77.0.101"))
SALT = st.binary(min_size=20, max_size=20)


@st.composite
def other_line(draw) -> str:
    kind = draw(st.sampled_from(["plain", "list", "hashed", "marker", "comment", "blank", "port"]))
    names = draw(st.lists(LABEL, min_size=1, max_size=3))
    blob = draw(st.sampled_from([OLD_BLOB, OTHER_BLOB, NEW.blob]))
    if kind == "comment":
        return "# " + " ".join(names + ["lim1", "10.77.0.101"])
    if kind == "blank":
        return ""
    if kind == "hashed":
        return f"{hashed(names[0], draw(SALT))} ssh-ed25519 {blob}"
    if kind == "marker":                      # kept even when it names lim1
        names += draw(st.lists(st.sampled_from(["lim1", "10.77.0.101"]), max_size=1))
        return f"{draw(st.sampled_from(['@revoked', '@cert-authority']))} {','.join(names)} ssh-ed25519 {blob}"
    if kind == "port":
        return f"[10.77.0.101]:{draw(st.integers(23, 65535))} ssh-ed25519 {blob} lim1"
    return f"{','.join(names[:1] if kind == 'plain' else names)} ssh-ed25519 {blob}"


@st.composite
def target_line(draw) -> str:
    target = draw(st.sampled_from(["lim1", "10.77.0.101"]))
    others = draw(st.lists(LABEL, max_size=2))
    field = ",".join(draw(st.permutations([target, *others])))
    blob = draw(st.sampled_from([OLD_BLOB, NEW.blob]))
    if draw(st.booleans()):
        return f"{hashed(target, draw(SALT))} ssh-ed25519 {blob}"
    return f"{field} {draw(st.sampled_from(['ssh-ed25519', 'ssh-rsa']))} {blob}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(others=st.lists(other_line(), max_size=12), targets=st.lists(target_line(), max_size=5),
       places=st.lists(st.integers(0, 20), max_size=5))
def test_property_one_line_names_the_server_and_every_other_line_stays_in_order(others, targets, places) -> None:
    lines = list(others)
    for line, place in zip(targets, places + [0] * len(targets)):
        lines.insert(place % (len(lines) + 1), line)
    assert [line for line in lines if not names_target(line)] == others, "the test's generator"
    result = repinned_text("\n".join(lines) + ("\n" if lines else ""), HOST, NEW)
    assert result.endswith("\n")
    out = result.split("\n")[:-1]
    assert [line for line in out if names_target(line)] == [NEW_LINE]
    assert out == [*others, NEW_LINE]


# --- repin --------------------------------------------------------------------------------------------

def test_repin_writes_a_0600_file_where_there_was_none(tmp_path: Path) -> None:
    known = tmp_path / "new folder" / "known_hosts"
    repin(known, HOST, NEW)
    assert known.read_text() == NEW_LINE + "\n"
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert stat.S_IMODE(known.parent.stat().st_mode) == 0o700
    assert os.listdir(known.parent) == ["known_hosts"], "no staged copy left beside it"


def test_repin_replaces_atomically_and_the_new_file_is_0600_before_it_is_in_place(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    known = tmp_path / "known_hosts"
    old = f"lim2 ssh-ed25519 {OTHER_BLOB}\nlim1,10.77.0.101 ssh-ed25519 {OLD_BLOB}\n"
    known.write_text(old)
    known.chmod(0o644)
    seen = []
    real_replace = os.replace

    def watching_replace(src, dst):
        seen.append((Path(dst).read_text(), Path(src).read_text(), stat.S_IMODE(os.stat(src).st_mode)))
        real_replace(src, dst)

    monkeypatch.setattr(host_key_scan.os, "replace", watching_replace)
    repin(known, HOST, NEW)
    new = f"lim2 ssh-ed25519 {OTHER_BLOB}\n{NEW_LINE}\n"
    assert seen == [(old, new, 0o600)], "until the rename, a reader sees the old file"
    assert known.read_text() == new and stat.S_IMODE(known.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["known_hosts"]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    known = tmp_path / "known_hosts"
    old = f"lim1 ssh-ed25519 {OLD_BLOB}\n"
    known.write_text(old)

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(host_key_scan.os, "fsync", full_disk)
    with pytest.raises(OSError):
        repin(known, HOST, NEW)
    assert known.read_text() == old


def test_a_staged_copy_left_by_an_interrupted_run_does_not_set_the_mode(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"lim1 ssh-ed25519 {OLD_BLOB}\n")
    left = tmp_path / ".known_hosts.mxone-repin"
    left.write_text("half written")
    left.chmod(0o666)
    repin(known, HOST, NEW)
    assert known.read_text() == NEW_LINE + "\n"
    assert stat.S_IMODE(known.stat().st_mode) == 0o600


# --- trusting -----------------------------------------------------------------------------------------

def settings_for(known: Path) -> SshSettings:
    return SshSettings(key_file=known.parent / "id_ed25519", known_hosts=known, accept_new_host_keys=True)


def test_trusting_pins_the_new_key_in_a_private_copy_only(tmp_path: Path, monkeypatch, keys) -> None:
    old, new, other = keys
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    known = tmp_path / "known_hosts"
    text = f"lim2 ssh-ed25519 {other.blob}\nlim1,10.77.0.101 {old.key_type} {old.blob}\n"
    known.write_text(text)
    real = settings_for(known)
    assert pinned_key(HOST, real) == old
    with trusting(real, HOST, new) as trusted:
        copy = trusted.known_hosts
        assert copy != known and copy.parent.parent == tmp_path / "tmp"
        assert pinned_key(HOST, trusted) == new
        assert copy.read_text() == f"lim2 ssh-ed25519 {other.blob}\n{new_line(new)}\n"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600 and stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
        assert trusted.accept_new_host_keys is False, "no other key is recorded through the copy"
        assert (trusted.key_file, trusted.user) == (real.key_file, real.user)
        assert known.read_text() == text
        assert pinned_key(Host("lim2", "10.77.0.102"), trusted) == other
    assert not copy.exists() and os.listdir(tmp_path / "tmp") == []
    assert known.read_text() == text and pinned_key(HOST, real) == old


def new_line(key: PresentedKey) -> str:
    return f"lim1,10.77.0.101 {key.key_type} {key.blob}"


def test_trusting_removes_its_copy_when_the_check_fails_and_works_without_a_known_hosts(tmp_path: Path,
                                                                                        monkeypatch, keys) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    missing = tmp_path / "none" / "known_hosts"
    with pytest.raises(RuntimeError, match="agent check failed"), trusting(settings_for(missing), HOST, keys[1]) as t:
        assert t.known_hosts.read_text() == new_line(keys[1]) + "\n"
        raise RuntimeError("agent check failed")
    assert os.listdir(tmp_path / "tmp") == [] and not missing.exists() and not missing.parent.exists()


def test_trusting_an_unreadable_known_hosts_is_one_remote_error(tmp_path: Path, keys) -> None:
    folder = tmp_path / "known_hosts"
    folder.mkdir()                                   # exists, cannot be read as a file
    with pytest.raises(RemoteError) as raised, trusting(settings_for(folder), HOST, keys[1]):
        pytest.fail("yielded")
    assert f"cannot read {folder}" in str(raised.value)


# --- against a real sshd ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """One running sshd (`sshd[0]`) and its client keys."""
    with sshd_server.running(tmp_path_factory.mktemp("sshd")) as servers:
        yield servers


def loopback(server: sshd_server.Sshd) -> Host:
    return Host("lim1", "127.0.0.1", server.port)


def test_the_presented_key_is_what_ssh_keygen_shows_for_the_servers_host_key(sshd, tmp_path: Path) -> None:
    server = sshd[0]
    settings = SshSettings(key_file=sshd.other_key, known_hosts=tmp_path / "known_hosts")   # nothing pinned
    shown = presented_key(loopback(server), settings)
    key_type, blob = server.host_pub.read_text().split()[:2]
    assert shown == PresentedKey(key_type, blob, server.host_fingerprint)
    assert shown.described == f"ssh-ed25519 {server.host_fingerprint}"
    assert shown.fingerprint.startswith("SHA256:")
    assert not settings.known_hosts.exists(), "the scan records nothing"


def test_the_pinned_key_by_name_then_address_and_a_changed_key_is_presented_as_it_is(sshd, tmp_path: Path,
                                                                                      keys) -> None:
    server = sshd[0]
    old = keys[0]
    host = loopback(server)
    known = tmp_path / "known_hosts"
    settings = SshSettings(key_file=sshd.other_key, known_hosts=known)
    assert pinned_key(host, settings) is None
    known.write_text(f"[127.0.0.1]:{server.port} {old.key_type} {old.blob}\n")       # by address only
    assert pinned_key(host, settings) == old
    known.write_text(server.known_hosts_line("lim1") + f"[127.0.0.1]:{server.port} {old.key_type} {old.blob}\n")
    assert pinned_key(host, settings).fingerprint == server.host_fingerprint, "the name wins over the address"
    known.write_text(f"lim1 {old.key_type} {old.blob}\n")
    shown = presented_key(host, settings)
    assert shown.fingerprint == server.host_fingerprint != old.fingerprint
    assert known.read_text() == f"lim1 {old.key_type} {old.blob}\n"


def test_an_address_nobody_answers_at_is_unreachable(tmp_path: Path) -> None:
    from mxone_maintenance.utility.remote.errors import Unreachable
    settings = SshSettings(key_file=tmp_path / "k", known_hosts=tmp_path / "known_hosts", connect_timeout=0.2)
    with pytest.raises(Unreachable):
        presented_key(Host("lim1", "127.0.0.1", sshd_server.free_port()), settings)
