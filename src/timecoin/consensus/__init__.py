"""Block consensus: Tendermint (Algorithm 1 of "The latest gossip on BFT
consensus", Buchman, Kwon, Milosevic, 2018) as a sans-I/O state machine.

`ConsensusMachine` takes inputs (`on_start`, `on_tick`, `on_proposal`,
`on_vote`, `on_certificate`, `on_new_height`) and returns effects
(`Broadcast`, `PersistWal`, `ScheduleTimeout`, `CommitBlock`,
`RecordEvidence`) that a driver executes in order.

`FinalityMachine` does the same for instant transaction finality (vote
batches, finality proofs, epoch reports; docs/spec/finality.md). The protocol, its
messages and signing bytes, quorum rules, proposer selection, timeouts,
timestamps, write-ahead log and evidence are specified in
docs/spec/consensus.md.
"""

from timecoin.consensus.app import BlockApp, Signer, Verifier
from timecoin.consensus.effects import (
    Broadcast,
    CommitBlock,
    Effect,
    PersistWal,
    RecordEvidence,
    ScheduleTimeout,
)
from timecoin.consensus.evidence import (
    check_conflicting_proposals,
    check_conflicting_votes,
    get_evidence_height,
    get_evidence_signer,
    make_duplicate_proposal_evidence,
    make_duplicate_vote_evidence,
    verify_evidence,
)
from timecoin.consensus.finality import (
    BroadcastReport,
    BroadcastVotes,
    FinalityConfig,
    FinalityEffect,
    FinalityMachine,
    PersistFinalityWal,
    Reannounce,
    RequestProof,
    RequestTransaction,
    ScheduleTick,
    TransactionFinal,
    TxStatus,
)
from timecoin.consensus.finality_votes import (
    compute_merkle_branches,
    make_input_proof,
    make_tx_vote,
    make_tx_vote_equivocation_evidence,
    sign_epoch_report,
    sign_tx_vote_batch,
)
from timecoin.consensus.finality_wal import (
    FinalityWalRecord,
    FinalityWalRecovery,
    WalEpochReport,
    WalTxLocks,
    decode_finality_wal_record,
    encode_finality_wal_record,
    recover_finality_wal,
)
from timecoin.consensus.machine import ConsensusMachine
from timecoin.consensus.proposer import compute_proposer_slot, select_proposer
from timecoin.consensus.signing import (
    build_certificate,
    check_vote_type,
    compute_proposal_signing_message,
    compute_vote_signing_message,
    encode_proposal_payload,
    encode_vote_payload,
    is_vote_type,
    sign_proposal,
    sign_vote,
    verify_certificate,
    verify_proposal_signature,
    verify_vote_signature,
)
from timecoin.consensus.state import HeightContext, Step, TimeoutStep
from timecoin.consensus.timing import (
    compute_earliest_proposal_ms,
    compute_proposal_timestamp_ms,
    compute_timeout_ms,
    is_timestamp_timely,
    is_timestamp_valid,
)
from timecoin.consensus.votes import AddVoteResult, VoteKeeper
from timecoin.consensus.wal import (
    InvalidWal,
    WalEntry,
    WalProposal,
    WalRecord,
    WalRecovery,
    WalRoundState,
    WalValue,
    WalVote,
    decode_wal_record,
    encode_wal_record,
    get_record_height,
    recover_wal,
)

__all__ = [
    "AddVoteResult",
    "BlockApp",
    "Broadcast",
    "BroadcastReport",
    "BroadcastVotes",
    "CommitBlock",
    "ConsensusMachine",
    "Effect",
    "FinalityConfig",
    "FinalityEffect",
    "FinalityMachine",
    "FinalityWalRecord",
    "FinalityWalRecovery",
    "HeightContext",
    "InvalidWal",
    "PersistFinalityWal",
    "PersistWal",
    "Reannounce",
    "RecordEvidence",
    "RequestProof",
    "RequestTransaction",
    "ScheduleTick",
    "ScheduleTimeout",
    "Signer",
    "Step",
    "TimeoutStep",
    "TransactionFinal",
    "TxStatus",
    "Verifier",
    "VoteKeeper",
    "WalEntry",
    "WalEpochReport",
    "WalProposal",
    "WalRecord",
    "WalRecovery",
    "WalRoundState",
    "WalTxLocks",
    "WalValue",
    "WalVote",
    "build_certificate",
    "check_conflicting_proposals",
    "check_conflicting_votes",
    "check_vote_type",
    "compute_earliest_proposal_ms",
    "compute_merkle_branches",
    "compute_proposal_signing_message",
    "compute_proposal_timestamp_ms",
    "compute_proposer_slot",
    "compute_timeout_ms",
    "compute_vote_signing_message",
    "decode_finality_wal_record",
    "decode_wal_record",
    "encode_finality_wal_record",
    "encode_proposal_payload",
    "encode_vote_payload",
    "encode_wal_record",
    "get_evidence_height",
    "get_evidence_signer",
    "get_record_height",
    "is_timestamp_timely",
    "is_timestamp_valid",
    "is_vote_type",
    "make_duplicate_proposal_evidence",
    "make_duplicate_vote_evidence",
    "make_input_proof",
    "make_tx_vote",
    "make_tx_vote_equivocation_evidence",
    "recover_finality_wal",
    "recover_wal",
    "select_proposer",
    "sign_epoch_report",
    "sign_proposal",
    "sign_tx_vote_batch",
    "sign_vote",
    "verify_certificate",
    "verify_evidence",
    "verify_proposal_signature",
    "verify_vote_signature",
]
