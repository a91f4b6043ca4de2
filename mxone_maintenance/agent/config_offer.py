"""A cluster.yaml offered to a peer that is behind: the catch-up datagram.

A member that was down while a change was applied (`--allow-down`) comes back on an older generation.
Its heartbeats say so; a peer on a newer generation sends it its cluster.yaml in one datagram on the
heartbeat port, signed like a heartbeat with the cluster key:
``OFFER_VERSION (1 byte) | JSON {c: cluster, n: sender, g: generation, y: cluster.yaml} | HMAC-SHA256``.
The tag is checked before the body is parsed; whatever the bytes, decode_offer returns an offer or
raises BadOffer. The channel reads offers only from the members' base addresses, each naming the
member it came from. A replayed offer can never lower a generation (the receiver takes only a higher
one), so it needs no replay window of its own.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from mxone_maintenance.agent import signing

OFFER_VERSION = 2
TAG_SIZE = signing.TAG_SIZE
MAX_TEXT = 60_000                 # a cluster.yaml of ten LIMs is about 1.5 KB


class BadOffer(ValueError):
    """Not a valid offer; ``reason`` is malformed, forged or wrong-cluster (the heartbeat counters' names)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ConfigOffer:
    cluster: str
    node: str                     # who offers it
    generation: int
    text: str                     # the cluster.yaml, exactly as on the sender's disk


def is_offer(data: bytes) -> bool:
    return data[:1] == bytes([OFFER_VERSION])


def encode_offer(offer: ConfigOffer, key: bytes) -> bytes:
    if len(offer.text) > MAX_TEXT:
        raise ValueError(f"cluster.yaml too large to offer ({len(offer.text)} bytes)")
    body = {"c": offer.cluster, "n": offer.node, "g": offer.generation, "y": offer.text}
    data = bytes([OFFER_VERSION]) + json.dumps(body, separators=(",", ":")).encode()
    return signing.signed(key, data)


def decode_offer(data: bytes, key: bytes, cluster: str) -> ConfigOffer:
    if len(data) < 1 + 2 + TAG_SIZE or not is_offer(data):
        raise BadOffer("malformed", "bad length or version")
    signed = signing.verified(data, key)
    if signed is None:
        raise BadOffer("forged", "HMAC does not match")
    try:
        body = json.loads(signed[1:].decode("utf-8"))
        offer = ConfigOffer(body["c"], body["n"], body["g"], body["y"])
    except RecursionError:      # authentic but nested deeper than the parser goes
        raise BadOffer("malformed", "nested too deeply") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadOffer("malformed", str(exc)[:200]) from None
    if not (isinstance(offer.cluster, str) and isinstance(offer.node, str) and isinstance(offer.text, str)
            and isinstance(offer.generation, int) and not isinstance(offer.generation, bool)
            and offer.generation > 0 and len(offer.text) <= MAX_TEXT):
        raise BadOffer("malformed", "field types")
    if offer.cluster != cluster:
        raise BadOffer("wrong-cluster", f"{offer.cluster!r} is not {cluster!r}")
    return offer
