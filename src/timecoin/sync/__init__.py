"""Headers-first sync and fork detection: a sans-I/O state machine.

`SyncMachine` takes peer events, certified headers, bodies, local commits
and the time, and returns effects (`SendGetHeaders`, `SendGetBodies`,
`ApplyBlock`, `PenalizePeer`, `ForkDetected`, `InvalidCertifiedBlock`).
`verify_next_header` and `check_body_matches_header` are the header and
body rules; `ServeLimiter` bounds what a node serves to each peer.
docs/spec/sync.md specifies it.
"""

from timecoin.sync.effects import (
    ApplyBlock,
    ForkDetected,
    ForkEvidence,
    InvalidCertifiedBlock,
    PenalizePeer,
    SendGetBodies,
    SendGetHeaders,
    SyncEffect,
)
from timecoin.sync.errors import LYING_CODES, SyncError
from timecoin.sync.headers import (
    CertifiedHeader,
    HeaderLink,
    check_body_matches_header,
    verify_next_header,
)
from timecoin.sync.machine import (
    MAX_BODIES_PER_REQUEST,
    MAX_HEADERS_PER_REQUEST,
    SyncConfig,
    SyncMachine,
    SyncProgress,
    SyncStats,
    TipInfo,
)
from timecoin.sync.serve import ServeLimiter

__all__ = [
    "LYING_CODES",
    "MAX_BODIES_PER_REQUEST",
    "MAX_HEADERS_PER_REQUEST",
    "ApplyBlock",
    "CertifiedHeader",
    "ForkDetected",
    "ForkEvidence",
    "HeaderLink",
    "InvalidCertifiedBlock",
    "PenalizePeer",
    "SendGetBodies",
    "SendGetHeaders",
    "ServeLimiter",
    "SyncConfig",
    "SyncEffect",
    "SyncError",
    "SyncMachine",
    "SyncProgress",
    "SyncStats",
    "TipInfo",
    "check_body_matches_header",
    "verify_next_header",
]
