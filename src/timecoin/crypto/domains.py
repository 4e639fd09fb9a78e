"""Domain-separation tags and the layout of every signed message.

Each signature in TimeCoin covers ``signing_message(domain, chain_id,
payload)``, so a signature made for one purpose (a transaction input, a
prevote, a heartbeat, ...) or for one chain can never be replayed as another.
"""

from __future__ import annotations

__all__ = [
    "CHAIN_ID_MAX",
    "DOMAIN_ADDRESS",
    "DOMAIN_ATTESTATION",
    "DOMAIN_HANDSHAKE",
    "DOMAIN_HEARTBEAT",
    "DOMAIN_MN_OWNER",
    "DOMAIN_PRECOMMIT",
    "DOMAIN_PREVOTE",
    "DOMAIN_PROPOSAL",
    "DOMAIN_REPORT",
    "DOMAIN_SEPARATOR",
    "DOMAIN_TX",
    "DOMAIN_TXVOTE",
    "signing_message",
]

DOMAIN_TX = b"TIMECOIN/tx/v1"
DOMAIN_PREVOTE = b"TIMECOIN/prevote/v1"
DOMAIN_PRECOMMIT = b"TIMECOIN/precommit/v1"
DOMAIN_PROPOSAL = b"TIMECOIN/proposal/v1"
DOMAIN_TXVOTE = b"TIMECOIN/txvote/v1"
DOMAIN_HEARTBEAT = b"TIMECOIN/heartbeat/v1"
DOMAIN_ATTESTATION = b"TIMECOIN/attest/v1"
DOMAIN_REPORT = b"TIMECOIN/report/v1"
DOMAIN_MN_OWNER = b"TIMECOIN/mn-owner/v1"
DOMAIN_HANDSHAKE = b"TIMECOIN/handshake/v1"
DOMAIN_ADDRESS = b"TIMECOIN/addr/v1"

DOMAIN_SEPARATOR = b"\x00"
"""Byte that ends the variable-length domain tag inside a signing message."""

CHAIN_ID_MAX = 0xFFFFFFFF
"""Largest chain id: it is written as 4 bytes, big-endian."""


def signing_message(domain: bytes, chain_id: int, payload: bytes) -> bytes:
    """Return the exact bytes to sign: ``domain || 0x00 || chain_id || payload``.

    ``chain_id`` is written as 4 bytes, big-endian. The 0x00 byte ends the
    variable-length domain tag, which must be non-empty and must not contain
    0x00 itself, so no (domain, chain_id, payload) triple can produce the
    message of another triple with a different tag.

    Raises ``ValueError`` if the tag is empty or contains 0x00, or if
    ``chain_id`` is outside ``[0, CHAIN_ID_MAX]``.
    """
    if not domain or DOMAIN_SEPARATOR in domain:
        raise ValueError(f"domain tag must be non-empty without 0x00 bytes, got {domain!r}")
    if not 0 <= chain_id <= CHAIN_ID_MAX:
        raise ValueError(f"chain_id must be in [0, {CHAIN_ID_MAX}], got {chain_id}")
    return b"".join((domain, DOMAIN_SEPARATOR, chain_id.to_bytes(4, "big"), payload))
