"""Why the sync machine blames a peer: stable, kebab-case codes.

A code names what the peer did; the machine turns it into a `PenalizePeer`
effect. `LYING_CODES` are provable misbehaviour (the peer signed nothing,
but it served bytes that contradict what it claimed); a stall is only
unhelpful, so its ban is short.
"""

from __future__ import annotations

from typing import Final

from timecoin.types import TimecoinError

REJECT_BAD_HEADER: Final = "sync-bad-header"
"""A header that does not link to its parent or breaks a header rule."""
REJECT_BAD_HEADER_CERTIFICATE: Final = "sync-bad-certificate"
"""A header whose certificate does not verify under the voting set in force."""
REJECT_BAD_VOTING_SET: Final = "sync-bad-voting-set"
"""A served voting set that is missing, unasked for, or not the one the header commits to."""
REJECT_CHECKPOINT_MISMATCH: Final = "sync-checkpoint-mismatch"
"""A header chain that does not pass through the required checkpoint."""
REJECT_BODY_MISMATCH: Final = "sync-body-mismatch"
"""A body that is not the body of the requested header."""
REJECT_UNSOLICITED: Final = "sync-unsolicited"
"""An answer to no request, or more than was asked."""
REJECT_STALLED: Final = "sync-stalled"
"""A request not answered within the timeout."""

LYING_CODES: Final = frozenset(
    {
        REJECT_BAD_HEADER,
        REJECT_BAD_HEADER_CERTIFICATE,
        REJECT_BAD_VOTING_SET,
        REJECT_CHECKPOINT_MISMATCH,
        REJECT_BODY_MISMATCH,
        REJECT_UNSOLICITED,
    }
)
"""Codes that mean the peer served something false (long ban)."""


class SyncError(TimecoinError):
    """A header, voting set or body served by a peer is not acceptable."""
