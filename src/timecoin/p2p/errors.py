"""The typed errors of the peer-to-peer layer and their reject codes.

A peer that breaks the wire protocol raises `PeerProtocolError` inside the
connection code. Its `ban` flag says whether the break is misbehaviour
(disconnect and a timed ban) or only a reason to hang up (a self-connection,
a clock too far off, a duplicate connection).
"""

from __future__ import annotations

from typing import Final

from timecoin.types import ProtocolError

__all__ = [
    "BAN_REJECT_CODES",
    "REJECT_BAD_KEY",
    "REJECT_BAD_MAGIC",
    "REJECT_BAD_SEQUENCE",
    "REJECT_BAD_SIGNATURE",
    "REJECT_BAD_TAG",
    "REJECT_CLOCK_SKEW",
    "REJECT_FLOOD",
    "REJECT_MALFORMED",
    "REJECT_NON_CANONICAL",
    "REJECT_OVERSIZED",
    "REJECT_SELF_CONNECTION",
    "REJECT_WRONG_CHAIN",
    "REJECT_WRONG_GENESIS",
    "REJECT_WRONG_VERSION",
    "PeerProtocolError",
    "protocol_violation",
]

REJECT_BAD_MAGIC: Final = "bad-magic"
REJECT_WRONG_VERSION: Final = "wrong-version"
REJECT_WRONG_CHAIN: Final = "wrong-chain"
REJECT_WRONG_GENESIS: Final = "wrong-genesis"
REJECT_BAD_KEY: Final = "bad-key"
REJECT_BAD_SIGNATURE: Final = "bad-signature"
REJECT_BAD_TAG: Final = "bad-tag"
REJECT_BAD_SEQUENCE: Final = "bad-sequence"
REJECT_MALFORMED: Final = "malformed"
REJECT_NON_CANONICAL: Final = "non-canonical"
REJECT_OVERSIZED: Final = "oversized"
REJECT_FLOOD: Final = "flood"
REJECT_SELF_CONNECTION: Final = "self-connection"
REJECT_CLOCK_SKEW: Final = "clock-skew"

BAN_REJECT_CODES: Final = frozenset(
    {
        REJECT_BAD_MAGIC,
        REJECT_WRONG_VERSION,
        REJECT_WRONG_CHAIN,
        REJECT_WRONG_GENESIS,
        REJECT_BAD_KEY,
        REJECT_BAD_SIGNATURE,
        REJECT_BAD_TAG,
        REJECT_BAD_SEQUENCE,
        REJECT_MALFORMED,
        REJECT_NON_CANONICAL,
        REJECT_OVERSIZED,
        REJECT_FLOOD,
    }
)
"""Reject codes that mean misbehaviour: the peer is disconnected and banned."""


class PeerProtocolError(ProtocolError):
    """A peer broke the wire protocol; `ban` says whether it is misbehaviour."""

    def __init__(self, reject_code: str, message: str, *, ban: bool) -> None:
        super().__init__(reject_code, message)
        self.ban = ban


def protocol_violation(reject_code: str, message: str) -> PeerProtocolError:
    """A `PeerProtocolError` whose ban flag follows `BAN_REJECT_CODES`."""
    return PeerProtocolError(reject_code, message, ban=reject_code in BAN_REJECT_CODES)
