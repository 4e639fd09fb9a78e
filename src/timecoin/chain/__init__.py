"""Whole-block validation and the chain's state transition.

- `state`: `ChainState` (the tip, the registry and the UTXO commitment
  state), `chain_state_from_genesis`, `voting_set_at`;
- `validate`: `check_block` (stateless), `validate_block` (contextual,
  returns an `AppliedBlock`);
- `build`: `select_block_transactions` (the one gate of transactions into
  blocks) and `build_block`;
- `undo`: `undo_applied_block`;
- `heartbeats`: attested heartbeats for the next block (witnesses, checks,
  selection for builders);
- `certificate`: vote and proposal signing bytes, their signature checks and
  `verify_certificate`; `evidence`: equivocation evidence;
- `finality`: signing bytes of transaction votes and epoch reports,
  `verify_finality_proof` (offline) and `verify_epoch_report`;
- `genesis`: the deterministic genesis builder;
- `errors`: reject codes.

Pure: no I/O, no clock, no randomness. docs/spec/chain.md states the rules.
"""

from timecoin.chain import errors
from timecoin.chain.build import (
    assemble_block,
    build_block,
    compute_block_overhead_bytes,
    measure_block_overhead_bytes,
    select_block_transactions,
)
from timecoin.chain.certificate import (
    Verifier,
    check_vote_type,
    compute_proposal_signing_message,
    compute_vote_signing_message,
    encode_proposal_payload,
    encode_vote_payload,
    is_vote_type,
    verify_certificate,
    verify_proposal_signature,
    verify_vote_signature,
)
from timecoin.chain.evidence import (
    check_conflicting_proposals,
    check_conflicting_tx_votes,
    check_conflicting_votes,
    get_evidence_height,
    get_evidence_signer,
    verify_evidence,
)
from timecoin.chain.finality import (
    compute_carried_order,
    compute_input_leaf,
    compute_inputs_root,
    compute_report_signing_message,
    compute_reported_locks,
    compute_txvote_signing_message,
    compute_vote_leaf,
    encode_lock_element,
    is_input_proof_valid,
    is_report_canonical,
    pack_epoch_reports,
    report_entry_key,
    select_epoch_reports,
    select_report_quorum,
    unpack_epoch_reports,
    verify_epoch_report,
    verify_finality_proof,
    verify_tx_vote,
    verify_tx_vote_batch_signature,
)
from timecoin.chain.genesis import (
    GENESIS_PROPOSER,
    GenesisMasternode,
    GenesisSpec,
    GenesisState,
    build_genesis,
    build_genesis_state,
    genesis_utxo,
)
from timecoin.chain.heartbeats import (
    get_next_block_witnesses,
    select_next_block_heartbeats,
    verify_next_block_heartbeat,
)
from timecoin.chain.state import ChainState, chain_state_from_genesis, voting_set_at
from timecoin.chain.undo import undo_applied_block
from timecoin.chain.validate import AppliedBlock, check_block, validate_block

__all__ = [
    "GENESIS_PROPOSER",
    "AppliedBlock",
    "ChainState",
    "GenesisMasternode",
    "GenesisSpec",
    "GenesisState",
    "Verifier",
    "assemble_block",
    "build_block",
    "build_genesis",
    "build_genesis_state",
    "chain_state_from_genesis",
    "check_block",
    "check_conflicting_proposals",
    "check_conflicting_tx_votes",
    "check_conflicting_votes",
    "check_vote_type",
    "compute_block_overhead_bytes",
    "compute_carried_order",
    "compute_input_leaf",
    "compute_inputs_root",
    "compute_proposal_signing_message",
    "compute_report_signing_message",
    "compute_reported_locks",
    "compute_txvote_signing_message",
    "compute_vote_leaf",
    "compute_vote_signing_message",
    "encode_lock_element",
    "encode_proposal_payload",
    "encode_vote_payload",
    "errors",
    "genesis_utxo",
    "get_evidence_height",
    "get_evidence_signer",
    "get_next_block_witnesses",
    "is_input_proof_valid",
    "is_report_canonical",
    "is_vote_type",
    "measure_block_overhead_bytes",
    "pack_epoch_reports",
    "report_entry_key",
    "select_block_transactions",
    "select_epoch_reports",
    "select_next_block_heartbeats",
    "select_report_quorum",
    "undo_applied_block",
    "unpack_epoch_reports",
    "validate_block",
    "verify_certificate",
    "verify_epoch_report",
    "verify_evidence",
    "verify_finality_proof",
    "verify_next_block_heartbeat",
    "verify_proposal_signature",
    "verify_tx_vote",
    "verify_tx_vote_batch_signature",
    "verify_vote_signature",
    "voting_set_at",
]
