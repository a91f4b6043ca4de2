"""HMAC-SHA256 (RFC 2104) on CPython's built-in SHA-256, not OpenSSL's: hashlib and hmac load libcrypto,
~3.4 MB of an idle agent's RSS, for the one hash the agent signs with. The key's two pads are hashed
once per key, so a tag costs two short hash updates (about half of hmac.new's time)."""
from __future__ import annotations

from functools import lru_cache

try:                                     # CPython's own SHA-256: _sha2 from 3.12, _sha256 before
    from _sha2 import sha256
except ImportError:
    try:
        from _sha256 import sha256
    except ImportError:                  # another Python: OpenSSL's, as hashlib has it
        from hashlib import sha256
# What hmac.compare_digest is when OpenSSL is absent: constant time, and no libcrypto.
from _operator import _compare_digest as compare_digest

TAG_SIZE = 32
_BLOCK = 64
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


@lru_cache(maxsize=8)       # the cluster key, and the next one during a key change
def _pads(key: bytes):
    block = (sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
    return sha256(block.translate(_IPAD)), sha256(block.translate(_OPAD))


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    inner_pad, outer_pad = _pads(key)
    inner = inner_pad.copy()
    inner.update(data)
    outer = outer_pad.copy()
    outer.update(inner.digest())
    return outer.digest()


def signed(key: bytes, data: bytes) -> bytes:
    """``data`` followed by its tag: how every datagram of the agent goes out."""
    return data + hmac_sha256(key, data)


def verified(data: bytes, key: bytes) -> bytes | None:
    """What ``data`` signs (all but its last TAG_SIZE bytes) when those bytes are its tag under ``key``,
    compared in constant time; None for a forged or cut datagram. Nothing is parsed before this."""
    if len(data) < TAG_SIZE:
        return None
    body, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
    return body if compare_digest(tag, hmac_sha256(key, body)) else None


def digest(data: bytes) -> bytes:
    """Plain SHA-256."""
    return sha256(data).digest()


__all__ = ["TAG_SIZE", "compare_digest", "digest", "hmac_sha256", "signed", "verified"]
