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
