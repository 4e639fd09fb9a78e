"""Hypothesis strategies for every consensus type, within the decoder's limits."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from timecoin.params import MAX_MONEY
from timecoin.types import (
    AttestedHeartbeat,
    Block,
    BlockHeader,
    BlockUndo,
    Certificate,
    Coin,
    CommitSignature,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    EpochReport,
    FinalityProof,
    Heartbeat,
    InputProof,
    MasternodeRegistration,
    OperatorUpdate,
    OutPoint,
    PackedReport,
    ProofVote,
    Proposal,
    ReportedLock,
    ReportEntry,
    SpentCoin,
    Transaction,
    TxInput,
    TxOutput,
    TxVote,
    TxVoteBatch,
    TxVoteEquivocationEvidence,
    Vote,
    VoteLeaf,
    Voter,
    VotingSet,
    WitnessSignature,
)

U8 = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFF_FFFF)
U64 = st.integers(0, 2**63 - 1)
AMOUNT = st.integers(0, MAX_MONEY)
HASH32 = st.binary(min_size=32, max_size=32)
PUBKEY = HASH32
SIGNATURE = st.binary(min_size=64, max_size=64)
ADDRESS = st.binary(min_size=20, max_size=20)
NET_ADDRESS = st.binary(max_size=64)
SMALL = 4
"""Lists are kept short: the limits themselves are tested with crafted bytes."""

outpoints = st.builds(OutPoint, txid=HASH32, index=U32)
tx_inputs = st.builds(TxInput, prevout=outpoints, public_key=PUBKEY)
tx_outputs = st.builds(TxOutput, amount=AMOUNT, address=ADDRESS)
registrations = st.builds(
    MasternodeRegistration,
    tier=U8,
    collateral_index=U32,
    owner_key=PUBKEY,
    operator_key=PUBKEY,
    reward_address=ADDRESS,
    network_address=NET_ADDRESS,
)
operator_updates = st.builds(
    OperatorUpdate,
    masternode_id=HASH32,
    operator_key=PUBKEY,
    reward_address=ADDRESS,
    network_address=NET_ADDRESS,
)
transactions = st.builds(
    Transaction,
    version=U16,
    inputs=st.lists(tx_inputs, max_size=SMALL),
    outputs=st.lists(tx_outputs, max_size=SMALL),
    lock_time=U64,
    payload=st.none() | registrations | operator_updates,
    signatures=st.lists(SIGNATURE, max_size=SMALL),
    owner_signature=st.none() | SIGNATURE,
)
coins = st.builds(Coin, amount=AMOUNT, address=ADDRESS, height=U64)
spent_coins = st.builds(SpentCoin, outpoint=outpoints, coin=coins)
reported_locks = st.builds(ReportedLock, outpoint=outpoints, txid=st.none() | HASH32)
block_undos = st.builds(
    BlockUndo,
    spent=st.lists(spent_coins, max_size=SMALL),
    utxo_state_before=st.binary(min_size=384, max_size=384),
    released_locks=st.lists(reported_locks, max_size=SMALL),
    created_locks=st.lists(outpoints, max_size=SMALL),
)
headers = st.builds(
    BlockHeader,
    version=U16,
    chain_id=U32,
    height=U64,
    epoch=U64,
    prev_hash=HASH32,
    timestamp_ms=U64,
    proposer=PUBKEY,
    tx_root=HASH32,
    witness_root=HASH32,
    prev_certificate_hash=HASH32,
    evidence_hash=HASH32,
    attestations_hash=HASH32,
    utxo_commitment=HASH32,
    next_voting_set_hash=HASH32,
    reports_hash=HASH32,
)
votes = st.builds(
    Vote, vote_type=U8, height=U64, round=U32, block_hash=HASH32, voter=PUBKEY, signature=SIGNATURE
)
proposals = st.builds(
    Proposal,
    height=U64,
    round=U32,
    pol_round=st.integers(-1, 0xFFFF_FFFF),
    block_hash=HASH32,
    timestamp_ms=U64,
    proposer=PUBKEY,
    signature=SIGNATURE,
)
commit_signatures = st.builds(CommitSignature, voter_index=U16, signature=SIGNATURE)
certificates = st.builds(
    Certificate,
    height=U64,
    round=U32,
    block_hash=HASH32,
    signatures=st.lists(commit_signatures, max_size=SMALL),
)
duplicate_votes = st.builds(DuplicateVoteEvidence, vote_a=votes, vote_b=votes)
duplicate_proposals = st.builds(
    DuplicateProposalEvidence, proposal_a=proposals, proposal_b=proposals
)
heartbeats = st.builds(
    Heartbeat, masternode_id=HASH32, sequence=U64, timestamp_ms=U64, signature=SIGNATURE
)
witness_signatures = st.builds(WitnessSignature, witness=PUBKEY, signature=SIGNATURE)
attested_heartbeats = st.builds(
    AttestedHeartbeat,
    heartbeat=heartbeats,
    attestations=st.lists(witness_signatures, max_size=SMALL),
)
LEAF_COUNT = st.integers(1, 65_536)
BRANCH = st.lists(HASH32, max_size=SMALL)
tx_vote_batches = st.builds(
    TxVoteBatch, voter=PUBKEY, epoch=U64, root=HASH32, count=LEAF_COUNT, signature=SIGNATURE
)
vote_leaves = st.builds(VoteLeaf, txid=HASH32, inputs_root=HASH32)
tx_votes = st.builds(
    TxVote,
    voter=PUBKEY,
    epoch=U64,
    root=HASH32,
    count=LEAF_COUNT,
    signature=SIGNATURE,
    txid=HASH32,
    inputs_root=HASH32,
    index=U32,
    branch=BRANCH,
)
proof_votes = st.builds(
    ProofVote,
    voter_index=U16,
    root=HASH32,
    count=LEAF_COUNT,
    index=U32,
    branch=BRANCH,
    signature=SIGNATURE,
)
finality_proofs = st.builds(
    FinalityProof,
    txid=HASH32,
    inputs_root=HASH32,
    epoch=U64,
    votes=st.lists(proof_votes, max_size=SMALL),
)
report_entries = st.builds(ReportEntry, outpoint=outpoints, txid=HASH32)
epoch_reports = st.builds(
    EpochReport,
    epoch=U64,
    prev_hash=HASH32,
    entries=st.lists(report_entries, max_size=SMALL),
    voter=PUBKEY,
    signature=SIGNATURE,
)
packed_reports = st.builds(
    PackedReport,
    voter=PUBKEY,
    signature=SIGNATURE,
    selection=st.binary(max_size=SMALL),
)
input_proofs = st.builds(InputProof, index=U32, count=st.integers(1, 0xFFFF_FFFF), branch=BRANCH)
tx_vote_evidence = st.builds(
    TxVoteEquivocationEvidence,
    outpoint=outpoints,
    vote_a=tx_votes,
    input_a=input_proofs,
    vote_b=tx_votes,
    input_b=input_proofs,
)
blocks = st.builds(
    Block,
    header=headers,
    transactions=st.lists(transactions, max_size=3),
    prev_certificate=st.none() | certificates,
    evidence=st.lists(duplicate_votes | duplicate_proposals | tx_vote_evidence, max_size=2),
    attestations=st.lists(attested_heartbeats, max_size=2),
    report_entries=st.lists(report_entries, max_size=2),
    reports=st.lists(packed_reports, max_size=2),
    reported_transactions=st.lists(transactions, max_size=2),
)
voters = st.builds(Voter, masternode_id=HASH32, operator_key=PUBKEY, weight=U64)
voting_sets = st.builds(VotingSet, epoch=U64, voters=st.lists(voters, max_size=SMALL))

STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {
    OutPoint: outpoints,
    TxInput: tx_inputs,
    TxOutput: tx_outputs,
    MasternodeRegistration: registrations,
    OperatorUpdate: operator_updates,
    Transaction: transactions,
    Coin: coins,
    SpentCoin: spent_coins,
    ReportedLock: reported_locks,
    BlockUndo: block_undos,
    BlockHeader: headers,
    Vote: votes,
    Proposal: proposals,
    CommitSignature: commit_signatures,
    Certificate: certificates,
    DuplicateVoteEvidence: duplicate_votes,
    DuplicateProposalEvidence: duplicate_proposals,
    Heartbeat: heartbeats,
    WitnessSignature: witness_signatures,
    AttestedHeartbeat: attested_heartbeats,
    Block: blocks,
    Voter: voters,
    VotingSet: voting_sets,
    TxVoteBatch: tx_vote_batches,
    VoteLeaf: vote_leaves,
    TxVote: tx_votes,
    ProofVote: proof_votes,
    FinalityProof: finality_proofs,
    ReportEntry: report_entries,
    EpochReport: epoch_reports,
    PackedReport: packed_reports,
    InputProof: input_proofs,
    TxVoteEquivocationEvidence: tx_vote_evidence,
}
"""Every consensus type and a strategy for its valid values."""

CONSENSUS_TYPES = list(STRATEGIES)
MAX_BYTES = 16_000_000
