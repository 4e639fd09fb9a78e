"""The masternode registry state, its undo record, and read-only queries.

The registry is an immutable value: `process_block_registry` and
`on_epoch_boundary` (in `timecoin.masternode.registry`) return a new
`RegistryState` and never modify the old one. Every field is part of the
canonical encoding, so storage persists a state with `timecoin.encoding.encode`
and every node derives byte-identical states from the same blocks.

Invariants of a `RegistryState` (docs/spec/masternode.md):

- `entries` is sorted by `masternode_id`, without duplicates;
- `voting_set.epoch == epoch_of(height + 1)`: the voting set is the one in
  force for the next block;
- among entries that are not deregistered, owner keys are unique and operator
  keys are unique.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import attrgetter
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.params import ChainParams, Tier
from timecoin.types import ZERO_HASH, OutPoint, VotingSet
from timecoin.types.primitives import (
    U64,
    AddressBytes,
    Epoch,
    Hash32,
    Height,
    NetworkAddress,
    PublicKey,
)

MAX_REGISTRY_ENTRIES: Final = 1_000_000
"""Decoder cap on the number of entries of a stored `RegistryState`."""


class MasternodeEntry(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One registered masternode as the latest processed block leaves it.

    - `masternode_id`: the txid of its registration transaction;
    - `collateral`: the locked output, None for the Free tier;
    - `registered_height`: the height of the block with the registration;
    - `active_from_epoch`: the first epoch in which it counts (may vote and
      earn): the epoch after its registration, 0 for genesis entries;
    - `banned_from_epoch`: set by evidence; from this epoch on it never
      counts again. The entry stays (keeping its keys reserved) until its
      collateral is spent;
    - `deregistered_from_epoch`: set when its collateral is spent; the entry
      is dropped from the registry at the boundary that starts this epoch;
    - `last_heartbeat_sequence`, `last_heartbeat_window`: the sequence of the
      last verified heartbeat a block carried for it, and the reward window
      of that block; None until the first one (docs/spec/heartbeats.md).

    `operator_key`, `reward_address` and `network_address` are the latest
    values (an OperatorUpdate changes them at once); the voting set keeps the
    operator key it was computed with until the next epoch boundary.
    """

    masternode_id: Hash32
    tier: Tier
    collateral: OutPoint | None
    owner_key: PublicKey
    operator_key: PublicKey
    reward_address: AddressBytes
    network_address: NetworkAddress
    registered_height: Height
    active_from_epoch: Epoch
    banned_from_epoch: Epoch | None = None
    deregistered_from_epoch: Epoch | None = None
    last_heartbeat_sequence: U64 | None = None
    last_heartbeat_window: U64 | None = None

    @property
    def is_deregistered(self) -> bool:
        """True once the collateral has been spent."""
        return self.deregistered_from_epoch is not None


class RegistryState(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The masternode registry after block `height`.

    - `entries`: every masternode not yet dropped, sorted by `masternode_id`.
      Changes not yet in force are recorded on the entries themselves as the
      epoch from which they count (`active_from_epoch`, `banned_from_epoch`,
      `deregistered_from_epoch`) and, for operator updates, as the difference
      between an entry and the voting set;
    - `voting_set`: the committee in force for block `height + 1`; its hash is
      the `next_voting_set_hash` of block `height`'s header;
    - `previous_voting_set`: the committee of the epoch before, which signed
      the certificate that the first block of `voting_set.epoch` carries;
      None before the first boundary after genesis;
    - `window_seed`: the seed of the reward window that contains block
      `height`: the `prev_hash` of the window's first block (ZERO_HASH, the
      genesis `prev_hash`, for window 0). Heartbeat witnesses are drawn from it.
    """

    height: Height
    entries: Annotated[tuple[MasternodeEntry, ...], Meta(max_length=MAX_REGISTRY_ENTRIES)]
    voting_set: VotingSet
    previous_voting_set: VotingSet | None
    window_seed: Hash32 = ZERO_HASH

    @property
    def epoch(self) -> int:
        """The epoch of the voting set in force (that of block `height + 1`)."""
        return self.voting_set.epoch


class EntryUndo(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The value of one entry before a block: None if the block created it."""

    masternode_id: Hash32
    entry_before: MasternodeEntry | None


class RegistryUndo(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What `undo_block_registry` needs to restore the state before block `height`.

    - `entries_before`: the previous value of every entry the block added,
      changed or dropped, sorted by `masternode_id`;
    - `crossed_epoch`: True when the block was the last of its epoch, so the
      voting sets moved on;
    - `previous_voting_set_before`: the state's `previous_voting_set` before
      the block (meaningful only when `crossed_epoch`; None otherwise);
    - `window_seed_before`: the state's `window_seed` before the block when
      the block started a reward window (and so replaced it); None otherwise.
    """

    height: Height
    entries_before: Annotated[tuple[EntryUndo, ...], Meta(max_length=MAX_REGISTRY_ENTRIES)]
    crossed_epoch: bool
    previous_voting_set_before: VotingSet | None
    window_seed_before: Hash32 | None = None


_entry_id: Final = attrgetter("masternode_id")


def get_entry(state: RegistryState, masternode_id: bytes) -> MasternodeEntry | None:
    """The entry of `masternode_id`, or None (binary search over the sorted entries)."""
    entries = state.entries
    index = bisect_left(entries, masternode_id, key=_entry_id)
    if index < len(entries) and entries[index].masternode_id == masternode_id:
        return entries[index]
    return None


def is_active(entry: MasternodeEntry, epoch: int) -> bool:
    """True when `entry` counts in `epoch`: registered before it, neither banned
    nor deregistered by then. Tier is not considered (Free entries are active
    too; they only have no voting weight)."""
    if entry.active_from_epoch > epoch:
        return False
    if entry.banned_from_epoch is not None and entry.banned_from_epoch <= epoch:
        return False
    return entry.deregistered_from_epoch is None or entry.deregistered_from_epoch > epoch


def get_active_entries(state: RegistryState, epoch: int) -> list[MasternodeEntry]:
    """The entries active in `epoch` (see `is_active`), sorted by `masternode_id`.

    Meaningful for the state's own epoch (`state.epoch`) and the next one;
    entries dropped at an earlier boundary are no longer in the state.
    """
    return [entry for entry in state.entries if is_active(entry, epoch)]


def is_last_height_of_epoch(height: int, params: ChainParams) -> bool:
    """True when block `height` is the last of its epoch: after it, the voting
    set of the next epoch is in force."""
    return params.epoch_of(height + 1) != params.epoch_of(height)


def voting_set_for_height(
    state: RegistryState, height: int, params: ChainParams
) -> VotingSet | None:
    """The voting set that certifies block `height`, when the state holds it.

    The state holds the voting set of the epoch of block `state.height + 1`
    and the one before it; for any other epoch this returns None and the
    caller reads the set stored for that epoch.
    """
    epoch = params.epoch_of(height)
    if state.voting_set.epoch == epoch:
        return state.voting_set
    previous = state.previous_voting_set
    if previous is not None and previous.epoch == epoch:
        return previous
    return None


def next_voting_set_hash(state: RegistryState) -> bytes:
    """The `next_voting_set_hash` commitment of the header of block `state.height`.

    `state` must be the registry after that block (as `process_block_registry`
    returns it): its voting set is the one in force for the next block.
    """
    return state.voting_set.compute_hash()
