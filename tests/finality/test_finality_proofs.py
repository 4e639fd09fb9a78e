"""Vote batches, standalone votes and finality proofs: signing bytes, merkle
branches, and offline verification that fails on every kind of tampering."""

from __future__ import annotations

import msgspec
import pytest
from finality_helpers import CHAIN_ID, OPERATORS, coin, make_tx, make_voting_set

from timecoin.chain import (
    compute_inputs_root,
    compute_txvote_signing_message,
    compute_vote_leaf,
    verify_finality_proof,
    verify_tx_vote,
)
from timecoin.consensus import compute_merkle_branches, make_tx_vote, sign_tx_vote_batch
from timecoin.crypto import (
    DOMAIN_TXVOTE,
    merkle_proof,
    merkle_root,
    sha256,
    signing_message,
    verify,
)
from timecoin.encoding import decode, encode
from timecoin.types import FinalityProof, InvalidVote, ProofVote, TxVote, VoteLeaf, compute_txid

TXS = [make_tx([coin(f"proofs/{i}")]) for i in range(5)]
LEAVES = [VoteLeaf(txid=compute_txid(tx), inputs_root=compute_inputs_root(tx)) for tx in TXS]


def make_proof(voter_indices: list[int], tx_index: int = 2, epoch: int = 0) -> FinalityProof:
    votes = []
    for voter in voter_indices:
        batch, branches = sign_tx_vote_batch(OPERATORS[voter], CHAIN_ID, epoch, LEAVES)
        votes.append(
            ProofVote(
                voter_index=voter,
                root=batch.root,
                count=batch.count,
                index=tx_index,
                branch=list(branches[tx_index]),
                signature=batch.signature,
            )
        )
    leaf = LEAVES[tx_index]
    return FinalityProof(txid=leaf.txid, inputs_root=leaf.inputs_root, epoch=epoch, votes=votes)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13])
def test_branches_match_merkle_proof(count: int) -> None:
    leaves = [sha256(bytes([i])) for i in range(count)]
    root, branches = compute_merkle_branches(leaves)
    assert root == merkle_root(leaves)
    for index in range(count):
        assert branches[index] == merkle_proof(leaves, index).siblings


def test_batch_signs_epoch_root_and_count() -> None:
    batch, _ = sign_tx_vote_batch(OPERATORS[0], CHAIN_ID, 7, LEAVES)
    expected = signing_message(DOMAIN_TXVOTE, CHAIN_ID, encode((7, batch.root, len(LEAVES))))
    assert compute_txvote_signing_message(CHAIN_ID, 7, batch.root, batch.count) == expected
    assert verify(OPERATORS[0].public_key, expected, batch.signature)
    hashes = [compute_vote_leaf(leaf.txid, leaf.inputs_root) for leaf in LEAVES]
    assert batch.root == merkle_root(hashes)


def test_standalone_vote_verifies_and_rejects_tampering() -> None:
    proof = make_proof([1])
    vote = make_tx_vote(OPERATORS[1].public_key, 0, proof.votes[0], proof.txid, proof.inputs_root)
    verify_tx_vote(vote, CHAIN_ID, verify)
    assert decode(encode(vote), TxVote, 10_000) == vote
    for bad, code in [
        (msgspec.structs.replace(vote, txid=LEAVES[0].txid), "bad-branch"),
        (msgspec.structs.replace(vote, index=3), "bad-branch"),
        # same hash path in a tree of 6: only the signed count catches it
        (msgspec.structs.replace(vote, count=6), "bad-signature"),
        (msgspec.structs.replace(vote, epoch=1), "bad-signature"),
        (msgspec.structs.replace(vote, voter=OPERATORS[2].public_key), "bad-signature"),
    ]:
        with pytest.raises(InvalidVote) as info:
            verify_tx_vote(bad, CHAIN_ID, verify)
        assert info.value.reject_code == code
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_tx_vote(vote, CHAIN_ID + 1, verify)


def test_proof_verifies_offline_with_tx_or_txid() -> None:
    proof = make_proof([0, 1, 3])
    voting_set = make_voting_set(0)
    verify_finality_proof(proof, TXS[2], voting_set, CHAIN_ID, verify)
    verify_finality_proof(proof, compute_txid(TXS[2]), voting_set, CHAIN_ID, verify)
    restored = decode(encode(proof), FinalityProof, 100_000)
    verify_finality_proof(restored, TXS[2], voting_set, CHAIN_ID, verify)


@pytest.mark.parametrize(
    ("voters", "weights", "code"),
    [
        ([0, 1], (1, 1, 1, 1), "insufficient-weight"),  # exactly half
        ([0, 1], (1, 1, 1, 0), "insufficient-weight"),  # exactly 2/3 is not a quorum
        ([3], (1, 1, 1, 100), None),  # one heavy voter is a quorum
        ([0, 1, 2], (1, 1, 1, 100), "insufficient-weight"),
    ],
)
def test_proof_weight(voters: list[int], weights: tuple[int, ...], code: str | None) -> None:
    proof = make_proof(voters)
    voting_set = make_voting_set(0, weights)
    if code is None:
        verify_finality_proof(proof, TXS[2], voting_set, CHAIN_ID, verify)
        return
    with pytest.raises(InvalidVote) as info:
        verify_finality_proof(proof, TXS[2], voting_set, CHAIN_ID, verify)
    assert info.value.reject_code == code


def test_proof_rejects_tampering() -> None:
    proof = make_proof([0, 1, 2])
    voting_set = make_voting_set(0)
    first = proof.votes[0]
    cases = [
        (msgspec.structs.replace(proof, epoch=1), TXS[2], "wrong-epoch"),
        (proof, TXS[1], "wrong-transaction"),
        (proof, compute_txid(TXS[1]), "wrong-transaction"),
        (
            msgspec.structs.replace(proof, inputs_root=LEAVES[1].inputs_root),
            TXS[2],
            "wrong-transaction",
        ),
        (
            msgspec.structs.replace(proof, votes=[proof.votes[1], proof.votes[0], proof.votes[2]]),
            TXS[2],
            "unordered-signatures",
        ),
        (
            msgspec.structs.replace(proof, votes=[first, first, proof.votes[2]]),
            TXS[2],
            "duplicate-voter",
        ),
        (
            msgspec.structs.replace(
                proof, votes=[*proof.votes, msgspec.structs.replace(first, voter_index=4)]
            ),
            TXS[2],
            "unknown-voter",
        ),
        (
            msgspec.structs.replace(
                proof, votes=[msgspec.structs.replace(first, index=1), *proof.votes[1:]]
            ),
            TXS[2],
            "bad-branch",
        ),
        (
            msgspec.structs.replace(
                proof,
                votes=[msgspec.structs.replace(first, signature=bytes(64)), *proof.votes[1:]],
            ),
            TXS[2],
            "bad-signature",
        ),
        (
            # voter 0's signature presented as voter 3's
            msgspec.structs.replace(
                proof, votes=[*proof.votes[1:], msgspec.structs.replace(first, voter_index=3)]
            ),
            TXS[2],
            "bad-signature",
        ),
    ]
    for bad, tx, code in cases:
        with pytest.raises(InvalidVote) as info:
            verify_finality_proof(bad, tx, voting_set, CHAIN_ID, verify)
        assert info.value.reject_code == code, code


def test_proof_of_one_epoch_fails_against_another_set() -> None:
    proof = make_proof([0, 1, 2], epoch=3)
    verify_finality_proof(proof, TXS[2], make_voting_set(3), CHAIN_ID, verify)
    with pytest.raises(InvalidVote, match="wrong-epoch"):
        verify_finality_proof(proof, TXS[2], make_voting_set(4), CHAIN_ID, verify)
    relabelled = msgspec.structs.replace(proof, epoch=4)
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_finality_proof(relabelled, TXS[2], make_voting_set(4), CHAIN_ID, verify)
