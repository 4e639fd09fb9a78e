"""Certificates (precommits of a block) and epoch reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from timecoin.chain import ChainState, compute_vote_signing_message, voting_set_at
from timecoin.consensus import sign_epoch_report
from timecoin.crypto import SigningKey
from timecoin.types import Certificate, CommitSignature, EpochReport, ReportEntry, VoteType

__all__ = ["certify", "epoch_reports", "sign_certificate"]


def sign_certificate(
    chain_id: int,
    height: int,
    round: int,
    block_hash: bytes,
    signers: Iterable[tuple[int, SigningKey]],
) -> Certificate:
    """A certificate of `block_hash` at (`height`, `round`): a precommit by each
    (voter index, key) of `signers`, in ascending voter index. Whether the keys
    are the voters' at those indices is the caller's business (a test may
    forge)."""
    message = compute_vote_signing_message(chain_id, VoteType.PRECOMMIT, height, round, block_hash)
    return Certificate(
        height=height,
        round=round,
        block_hash=block_hash,
        signatures=[
            CommitSignature(index, key.sign(message))
            for index, key in sorted(signers, key=lambda pair: pair[0])
        ],
    )


def certify(
    state: ChainState,
    keys: Mapping[bytes, SigningKey],
    *,
    voters: Iterable[int] | None = None,
    round: int = 0,
) -> Certificate:
    """The certificate of `state`'s tip by the voters at indices `voters`
    (default: all) of the voting set of the tip's height, each signing with
    `keys[operator_key]`. Raises ValueError at genesis (it has no certificate)."""
    if state.height == 0:
        raise ValueError("genesis has no certificate")
    voting_set = voting_set_at(state, state.height)
    if voting_set is None:
        raise ValueError(f"no voting set at height {state.height}")
    indices = range(len(voting_set.voters)) if voters is None else voters
    return sign_certificate(
        state.params.chain_id,
        state.height,
        round,
        state.block_hash,
        [(i, keys[voting_set.voters[i].operator_key]) for i in indices],
    )


def epoch_reports(
    state: ChainState,
    keys: Mapping[bytes, SigningKey],
    entries: Iterable[ReportEntry] = (),
) -> list[EpochReport]:
    """The epoch reports, listing `entries`, of every voter of the voting set
    of the height after `state`'s tip (for the block that ends its epoch),
    each signed with `keys[operator_key]`."""
    height = state.height + 1
    voting_set = voting_set_at(state, height)
    if voting_set is None:
        raise ValueError(f"no voting set at height {height}")
    listed = list(entries)
    epoch = state.params.epoch_of(height)
    return [
        sign_epoch_report(
            keys[voter.operator_key], state.params.chain_id, epoch, state.block_hash, listed
        )
        for voter in voting_set.voters
    ]
