"""The masternode registry: tiers, registrations, operator updates,
deregistrations, bans, committees per epoch and draws by reward weight.

Pure functions over immutable state (no I/O, no clock, no randomness): every
node computes the same registry and the same committees from the same
blocks. docs/spec/masternode.md states the rules.
"""

from timecoin.masternode import errors
from timecoin.masternode.committee import (
    MAX_DRAWS,
    SEED_BYTES,
    compute_draw_value,
    compute_tiebreak_hash,
    compute_voting_set,
    compute_voting_set_from_entries,
    select_weighted,
)
from timecoin.masternode.registry import (
    on_epoch_boundary,
    process_block_registry,
    registry_from_genesis,
    undo_block_registry,
    validate_registry_transaction,
)
from timecoin.masternode.state import (
    MAX_REGISTRY_ENTRIES,
    EntryUndo,
    MasternodeEntry,
    RegistryState,
    RegistryUndo,
    get_active_entries,
    get_entry,
    is_active,
    is_last_height_of_epoch,
    next_voting_set_hash,
    voting_set_for_height,
)

__all__ = [
    "MAX_DRAWS",
    "MAX_REGISTRY_ENTRIES",
    "SEED_BYTES",
    "EntryUndo",
    "MasternodeEntry",
    "RegistryState",
    "RegistryUndo",
    "compute_draw_value",
    "compute_tiebreak_hash",
    "compute_voting_set",
    "compute_voting_set_from_entries",
    "errors",
    "get_active_entries",
    "get_entry",
    "is_active",
    "is_last_height_of_epoch",
    "next_voting_set_hash",
    "on_epoch_boundary",
    "process_block_registry",
    "registry_from_genesis",
    "select_weighted",
    "undo_block_registry",
    "validate_registry_transaction",
    "voting_set_for_height",
]
