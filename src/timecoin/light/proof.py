"""The light proof format and its offline verifier (docs/spec/light.md).

A `LightProof` shows, to anyone who trusts one block (a checkpoint
HEIGHT:HASH), that a transaction is final (a finality proof by more than 2/3
of its epoch's voting weight) or included in a block (a merkle branch to a
header's `tx_root`), or both. It carries the checkpoint's header and the
voting set in force after it, then every following header up to what the
claim needs, each with the certificate that committed it and, where the
commitment changes (an epoch's last block), the next voting set.

`verify_light_proof` checks, in order and with no other input:
1. the format version and the network preset;
2. the checkpoint header hashes to the trusted hash at the trusted height,
   and the voting set given for after it hashes to its commitment;
3. each header follows its parent under `sync.headers.verify_next_header`:
   its certificate by more than 2/3 of the voting set the parent committed
   to, the next set where it changes;
4. a finality proof: the voting set of its epoch was committed by the
   verified headers, and `chain.verify_finality_proof` accepts the proof
   for the transaction under that set;
5. an inclusion proof: its header is among the verified ones and the
   transaction's txid is a leaf of that header's `tx_root`.
Any failure raises `LightProofError` with a reject code and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.chain import Verifier, verify_finality_proof
from timecoin.crypto import MerkleProof, verify_merkle_proof
from timecoin.crypto import verify as ed25519_verify
from timecoin.encoding import DecodeError, decode
from timecoin.params import PRESETS, ChainParams
from timecoin.sync.errors import SyncError
from timecoin.sync.headers import HeaderLink, verify_next_header
from timecoin.types import (
    BlockHeader,
    Certificate,
    FinalityProof,
    InvalidVote,
    Transaction,
    VotingSet,
    compute_block_hash,
    compute_txid,
)

LIGHT_PROOF_VERSION: Final = 1
MAX_PROOF_HEADERS: Final = 100_000
"""The most headers one proof may carry: pick a later checkpoint beyond it."""
MAX_PROOF_BYTES: Final = 512 << 20
MAX_MERKLE_SIBLINGS: Final = 64

REJECT_FORMAT: Final = "light-bad-format"
REJECT_CHECKPOINT: Final = "light-bad-checkpoint"
REJECT_HEADERS: Final = "light-bad-headers"
REJECT_SET_NOT_COMMITTED: Final = "light-voting-set-not-committed"
REJECT_FINALITY: Final = "light-bad-finality-proof"
REJECT_TRUNCATED: Final = "light-truncated-headers"
REJECT_INCLUSION: Final = "light-bad-inclusion-proof"
REJECT_NOTHING: Final = "light-no-claim"


class LightProofError(Exception):
    """A proof that does not show what it claims; `reject_code` says which check failed."""

    def __init__(self, reject_code: str, message: str) -> None:
        super().__init__(f"{reject_code}: {message}")
        self.reject_code = reject_code


class ProofHeader(msgspec.Struct, array_like=True, frozen=True):
    """A header, the certificate that committed it, and the voting set in
    force after it where that set differs from the one before (else None)."""

    header: BlockHeader
    certificate: Certificate
    voting_set: VotingSet | None


class InclusionProof(msgspec.Struct, array_like=True, frozen=True):
    """The transaction is leaf `index` of `count` under the `tx_root` of block `height`."""

    height: Annotated[int, Meta(ge=0, le=0x7FFF_FFFF_FFFF_FFFF)]
    index: Annotated[int, Meta(ge=0, le=0xFFFF_FFFF)]
    count: Annotated[int, Meta(ge=1, le=0xFFFF_FFFF)]
    siblings: Annotated[list[bytes], Meta(max_length=MAX_MERKLE_SIBLINGS)]


class LightProof(msgspec.Struct, array_like=True, frozen=True):
    """See the module docstring; encoded like every consensus object
    (docs/spec/encoding.md)."""

    version: Annotated[int, Meta(ge=0, le=255)]
    network: Annotated[str, Meta(max_length=32)]
    block_interval_ms: Annotated[int, Meta(ge=1, le=0xFFFF_FFFF)]
    checkpoint_header: BlockHeader
    checkpoint_voting_set: VotingSet
    headers: Annotated[list[ProofHeader], Meta(max_length=MAX_PROOF_HEADERS)]
    tx: Transaction
    finality: FinalityProof | None
    inclusion: InclusionProof | None


@dataclass(frozen=True, slots=True)
class LightVerdict:
    """What a valid proof showed: the txid, final in `final_epoch` (None: not
    claimed) and/or included at `included_height`, and the verified tip."""

    txid: bytes
    final_epoch: int | None
    included_height: int | None
    verified_height: int
    verified_hash: bytes


def decode_light_proof(data: bytes) -> LightProof:
    """Decode a proof file's bytes; LightProofError (light-bad-format) if it is not one."""
    try:
        return decode(data, LightProof, MAX_PROOF_BYTES)
    except DecodeError as exc:
        raise LightProofError(REJECT_FORMAT, f"not a light proof: {exc}") from None


def _params(proof: LightProof) -> ChainParams:
    if proof.version != LIGHT_PROOF_VERSION:
        raise LightProofError(
            REJECT_FORMAT, f"version {proof.version}, this verifier reads {LIGHT_PROOF_VERSION}"
        )
    preset = PRESETS.get(proof.network)
    if preset is None:
        raise LightProofError(REJECT_FORMAT, f"unknown network {proof.network!r}")
    # The proof names the network's block interval (a devnet may override
    # it): the interval only bounds timestamps, certificates carry the safety.
    return replace(preset, block_interval_ms=proof.block_interval_ms)


def _checkpoint_link(
    proof: LightProof, trusted_height: int, trusted_hash: bytes, params: ChainParams
) -> HeaderLink:
    header = proof.checkpoint_header
    block_hash = compute_block_hash(header)
    if block_hash != trusted_hash or header.height != trusted_height:
        raise LightProofError(
            REJECT_CHECKPOINT,
            f"the proof starts at block {header.height} {block_hash.hex()}, "
            f"not at the trusted {trusted_height} {trusted_hash.hex()}",
        )
    if header.chain_id != params.chain_id:
        raise LightProofError(
            REJECT_CHECKPOINT, f"chain id {header.chain_id:#x} is not {params.name}'s"
        )
    set_hash = proof.checkpoint_voting_set.compute_hash()
    if set_hash != header.next_voting_set_hash:
        raise LightProofError(
            REJECT_SET_NOT_COMMITTED,
            f"the voting set given for after the checkpoint hashes to {set_hash.hex()[:16]}, "
            f"the checkpoint commits to {header.next_voting_set_hash.hex()[:16]}",
        )
    return HeaderLink(
        height=header.height,
        block_hash=block_hash,
        header=header,
        next_voting_set=proof.checkpoint_voting_set,
        next_voting_set_hash=set_hash,
    )


def verify_light_proof(
    proof: LightProof,
    trusted_height: int,
    trusted_hash: bytes,
    *,
    verifier: Verifier = ed25519_verify,
) -> LightVerdict:
    """Check `proof` from the trusted checkpoint (see the module docstring).

    Raises LightProofError with one of the REJECT_* codes.
    """
    params = _params(proof)
    if proof.finality is None and proof.inclusion is None:
        raise LightProofError(REJECT_NOTHING, "the proof claims neither finality nor inclusion")
    link = _checkpoint_link(proof, trusted_height, trusted_hash, params)
    sets_by_epoch = {params.epoch_of(link.height + 1): link.next_voting_set}
    headers_by_height = {link.height: link.header}
    for entry in proof.headers:
        try:
            link, _ = verify_next_header(entry, link, params, verifier)
        except SyncError as exc:
            raise LightProofError(REJECT_HEADERS, str(exc)) from None
        sets_by_epoch[params.epoch_of(link.height + 1)] = link.next_voting_set
        headers_by_height[link.height] = link.header
    txid = compute_txid(proof.tx)
    final_epoch = None
    if proof.finality is not None:
        epoch = proof.finality.epoch
        voting_set = sets_by_epoch.get(epoch)
        if voting_set is None:
            known = sorted(sets_by_epoch)
            raise LightProofError(
                REJECT_SET_NOT_COMMITTED,
                f"the finality proof is of epoch {epoch}; the headers commit to the voting "
                f"sets of epochs {known[0]}..{known[-1]} only",
            )
        try:
            verify_finality_proof(proof.finality, proof.tx, voting_set, params.chain_id, verifier)
        except InvalidVote as exc:
            raise LightProofError(REJECT_FINALITY, str(exc)) from None
        final_epoch = epoch
    included_height = None
    if proof.inclusion is not None:
        inclusion = proof.inclusion
        header = headers_by_height.get(inclusion.height)
        if header is None:
            raise LightProofError(
                REJECT_TRUNCATED,
                f"the inclusion proof names block {inclusion.height}; the headers reach "
                f"{link.height}",
            )
        merkle = MerkleProof(inclusion.index, inclusion.count, tuple(inclusion.siblings))
        if not verify_merkle_proof(header.tx_root, txid, merkle):
            raise LightProofError(
                REJECT_INCLUSION,
                f"the merkle branch does not lead from {txid.hex()} to block "
                f"{inclusion.height}'s tx_root",
            )
        included_height = inclusion.height
    return LightVerdict(txid, final_epoch, included_height, link.height, link.block_hash)
