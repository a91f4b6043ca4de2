"""The agent's HMAC-SHA256 without OpenSSL (agent/signing.py) is RFC 2104's, byte for byte."""
from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from mxone_maintenance.agent import signing


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=3000))
def test_the_tag_is_hmac_sha256(key, data):
    assert signing.hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()
    assert signing.digest(data) == hashlib.sha256(data).digest()
    assert len(signing.hmac_sha256(key, data)) == signing.TAG_SIZE


def test_compare_digest_tells_equal_from_different():
    tag = signing.hmac_sha256(b"k", b"d")
    assert signing.compare_digest(tag, bytes(tag))
    assert not signing.compare_digest(tag, tag[:-1] + bytes([tag[-1] ^ 1]))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.binary(max_size=500), st.data())
def test_a_signed_datagram_verifies_to_its_body_and_any_change_or_other_key_is_refused(key, body, data):
    """What the heartbeat, the config offer and the status datagram all rely on: a verified datagram is
    exactly what was signed, and one flipped bit anywhere, a cut or another key gives None."""
    datagram = signing.signed(key, body)
    assert signing.verified(datagram, key) == body
    position = data.draw(st.integers(0, len(datagram) - 1))
    flipped = bytearray(datagram)
    flipped[position] ^= 1 << data.draw(st.integers(0, 7))
    assert signing.verified(bytes(flipped), key) is None
    assert signing.verified(datagram[:data.draw(st.integers(0, len(datagram) - 1))], key) is None
    other = data.draw(st.binary(min_size=1, max_size=64).filter(lambda k: k != key))
    assert signing.verified(datagram, other) is None
