"""What the sync machine asks its driver to do, and the evidence of a fork."""

from __future__ import annotations

from dataclasses import dataclass

from timecoin.types import Block, BlockHeader, Certificate


@dataclass(frozen=True, slots=True)
class SendGetHeaders:
    """Ask `peer_id` for up to `count` certified headers from `from_height` on."""

    peer_id: str
    from_height: int
    count: int


@dataclass(frozen=True, slots=True)
class SendGetBodies:
    """Ask `peer_id` for the blocks of `block_hashes` (consecutive heights, in order)."""

    peer_id: str
    block_hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ApplyBlock:
    """Validate and commit `block`, the child of the current tip, committed by
    `certificate` (already verified against the voting set in force)."""

    block: Block
    certificate: Certificate


@dataclass(frozen=True, slots=True)
class PenalizePeer:
    """Disconnect `peer_id` and ban it for `ban_s` seconds for `code`."""

    peer_id: str
    code: str
    reason: str
    ban_s: float


@dataclass(frozen=True, slots=True)
class ForkEvidence:
    """Two valid certificates for different blocks at one height: more than
    1/3 of the weight signed both (equivocation or amnesia).

    `ours` is the block this node holds at `height` (committed, or a
    verified header), `theirs` the one `peer_id` served; each comes with the
    certificate that verifies under the voting set of `height`
    (`their_header` is None when only their certificate was seen).
    """

    height: int
    our_block_hash: bytes
    our_certificate: Certificate | None
    their_header: BlockHeader | None
    their_block_hash: bytes
    their_certificate: Certificate
    peer_id: str


@dataclass(frozen=True, slots=True)
class ForkDetected:
    """Stop producing blocks, raise the alert, keep `evidence`."""

    evidence: ForkEvidence


@dataclass(frozen=True, slots=True)
class InvalidCertifiedBlock:
    """A block whose header carries a valid certificate breaks a block rule:
    the weight that certified it broke the protocol. Stop producing blocks."""

    height: int
    block_hash: bytes
    reason: str


SyncEffect = (
    SendGetHeaders
    | SendGetBodies
    | ApplyBlock
    | PenalizePeer
    | ForkDetected
    | InvalidCertifiedBlock
)
"""Every effect of the sync machine."""
