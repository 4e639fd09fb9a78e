"""The registry's state transition: registrations, operator updates,
deregistrations, bans, epoch boundaries, undo and genesis.

Every function here is pure: it returns a new `RegistryState` and leaves its
input unchanged, so a block that raises leaves no trace. Changes made by a
block at height h count from epoch `epoch_of(h) + 1`; the voting set moves
only at the end of the last block of an epoch. docs/spec/masternode.md
states every rule and reject code.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Final

from msgspec.structs import replace

from timecoin.crypto import verify
from timecoin.ledger import check_registration, compute_owner_signing_message
from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import errors
from timecoin.masternode.committee import compute_voting_set_from_entries
from timecoin.masternode.heartbeat import (
    compute_reward_window,
    is_first_height_of_window,
    is_heartbeat_overdue,
)
from timecoin.masternode.state import (
    EntryUndo,
    MasternodeEntry,
    RegistryState,
    RegistryUndo,
    is_last_height_of_epoch,
)
from timecoin.params import ChainParams, Tier
from timecoin.types import (
    NO_COLLATERAL,
    Block,
    Heartbeat,
    InvalidBlock,
    InvalidTransaction,
    MasternodeRegistration,
    OperatorUpdate,
    OutPoint,
    Transaction,
    VotingSet,
    compute_txid,
)

_entry_id: Final = attrgetter("masternode_id")
"""Sort and search key of entries (a C-level getter: lookups are on the block path)."""


class _WorkingRegistry:
    """An overlay of changes over a state's sorted entries while one block (or
    one transaction) is checked, in the manner of a cached UTXO view.

    `changed` maps every touched masternode id to its new value (None:
    dropped); untouched entries are read from `base` by binary search, so a
    block without registry changes costs O(inputs * log n). The indexes of
    live (not deregistered) owner and operator keys are built on first use.
    """

    __slots__ = ("_by_operator", "_by_owner", "base", "changed")

    def __init__(self, base: tuple[MasternodeEntry, ...]) -> None:
        self.base = base
        self.changed: dict[bytes, MasternodeEntry | None] = {}
        self._by_owner: dict[bytes, bytes] | None = None
        self._by_operator: dict[bytes, bytes] | None = None

    def _base_get(self, masternode_id: bytes) -> MasternodeEntry | None:
        base = self.base
        index = bisect_left(base, masternode_id, key=_entry_id)
        if index < len(base) and base[index].masternode_id == masternode_id:
            return base[index]
        return None

    def get(self, masternode_id: bytes) -> MasternodeEntry | None:
        """The current entry of `masternode_id`, or None."""
        if masternode_id in self.changed:
            return self.changed[masternode_id]
        return self._base_get(masternode_id)

    def all_entries(self) -> list[MasternodeEntry]:
        """Every current entry, in no particular order."""
        changed = self.changed
        merged = [e for e in self.base if e.masternode_id not in changed]
        merged.extend(e for e in changed.values() if e is not None)
        return merged

    def _build_indexes(self) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
        if self._by_owner is None or self._by_operator is None:
            live = [e for e in self.all_entries() if not e.is_deregistered]
            self._by_owner = {e.owner_key: e.masternode_id for e in live}
            self._by_operator = {e.operator_key: e.masternode_id for e in live}
        return self._by_owner, self._by_operator

    def owner_holder(self, owner_key: bytes) -> bytes | None:
        """The id of the live masternode with `owner_key`, or None."""
        return self._build_indexes()[0].get(owner_key)

    def operator_holder(self, operator_key: bytes) -> bytes | None:
        """The id of the live masternode with `operator_key`, or None."""
        return self._build_indexes()[1].get(operator_key)

    def put(self, entry: MasternodeEntry) -> None:
        """Insert or replace the entry with `entry.masternode_id`, keeping the indexes."""
        old = self.get(entry.masternode_id)
        self.changed[entry.masternode_id] = entry
        if self._by_owner is None or self._by_operator is None:
            return
        if old is not None and not old.is_deregistered:
            del self._by_owner[old.owner_key]
            del self._by_operator[old.operator_key]
        if not entry.is_deregistered:
            self._by_owner[entry.owner_key] = entry.masternode_id
            self._by_operator[entry.operator_key] = entry.masternode_id

    def drop(self, masternode_id: bytes) -> None:
        """Remove a deregistered (hence unindexed) entry from the registry."""
        self.changed[masternode_id] = None

    def sorted_entries(self) -> tuple[MasternodeEntry, ...]:
        """The entries in canonical order (by masternode id)."""
        if not self.changed:
            return self.base
        return tuple(sorted(self.all_entries(), key=_entry_id))

    def undo_entries(self) -> tuple[EntryUndo, ...]:
        """The previous value of every entry that differs from `base`, by id.

        An entry created and dropped again leaves no record: the net change
        is nothing.
        """
        records = []
        for masternode_id in sorted(self.changed):
            before = self._base_get(masternode_id)
            if before != self.changed[masternode_id]:
                records.append(EntryUndo(masternode_id, before))
        return tuple(records)


def _validate_registration(
    work: _WorkingRegistry,
    tx: Transaction,
    txid: bytes,
    payload: MasternodeRegistration,
    params: ChainParams,
) -> None:
    check_registration(tx, payload, params)
    if work.get(txid) is not None:
        raise InvalidTransaction(
            errors.REJECT_DUPLICATE_MASTERNODE,
            f"masternode id: expected a new one, {txid.hex()} is registered",
        )
    holder = work.owner_holder(payload.owner_key)
    if holder is not None:
        raise InvalidTransaction(
            errors.REJECT_DUPLICATE_OWNER_KEY,
            f"owner key: expected one unused by live masternodes, "
            f"{payload.owner_key.hex()} is the owner key of {holder.hex()}",
        )
    holder = work.operator_holder(payload.operator_key)
    if holder is not None:
        raise InvalidTransaction(
            errors.REJECT_DUPLICATE_OPERATOR_KEY,
            f"operator key: expected one unused by live masternodes, "
            f"{payload.operator_key.hex()} is the operator key of {holder.hex()}",
        )


def _validate_operator_update(
    work: _WorkingRegistry,
    tx: Transaction,
    txid: bytes,
    payload: OperatorUpdate,
    params: ChainParams,
) -> None:
    masternode_id = payload.masternode_id
    entry = work.get(masternode_id)
    if entry is None:
        raise InvalidTransaction(
            errors.REJECT_UNKNOWN_MASTERNODE,
            f"masternode id: expected a registered masternode, {masternode_id.hex()} is not",
        )
    if entry.is_deregistered:
        raise InvalidTransaction(
            errors.REJECT_DEREGISTERED_MASTERNODE,
            f"masternode id: expected a live masternode, {masternode_id.hex()} is "
            f"deregistered from epoch {entry.deregistered_from_epoch}",
        )
    signature = tx.owner_signature
    if signature is None:
        raise InvalidTransaction(
            ledger_errors.REJECT_OWNER_SIGNATURE,
            "owner signature: expected one for an operator update, got none",
        )
    message = compute_owner_signing_message(params.chain_id, txid)
    if not verify(entry.owner_key, message, signature):
        raise InvalidTransaction(
            ledger_errors.REJECT_BAD_OWNER_SIGNATURE,
            f"owner signature: expected a valid signature by the owner key "
            f"{entry.owner_key.hex()} of {masternode_id.hex()}, verification failed",
        )
    holder = work.operator_holder(payload.operator_key)
    if holder is not None and holder != masternode_id:
        raise InvalidTransaction(
            errors.REJECT_DUPLICATE_OPERATOR_KEY,
            f"operator key: expected one unused by other live masternodes, "
            f"{payload.operator_key.hex()} is the operator key of {holder.hex()}",
        )


def _apply_spends(work: _WorkingRegistry, tx: Transaction, effective_epoch: int) -> None:
    """Deregister every masternode whose collateral `tx` spends."""
    for txin in tx.inputs:
        # A collateral is output `collateral_index` of the registration, whose
        # txid is the masternode id: one lookup by id finds its entry.
        entry = work.get(txin.prevout.txid)
        if entry is not None and not entry.is_deregistered and entry.collateral == txin.prevout:
            work.put(replace(entry, deregistered_from_epoch=effective_epoch))


def _process_transaction(
    work: _WorkingRegistry,
    tx: Transaction,
    txid: bytes,
    height: int,
    effective_epoch: int,
    params: ChainParams,
) -> None:
    """Check and apply one transaction: its spends first, then its payload."""
    _apply_spends(work, tx, effective_epoch)
    payload = tx.payload
    if isinstance(payload, MasternodeRegistration):
        _validate_registration(work, tx, txid, payload, params)
        collateral = (
            None
            if payload.collateral_index == NO_COLLATERAL
            else OutPoint(txid, payload.collateral_index)
        )
        work.put(
            MasternodeEntry(
                masternode_id=txid,
                tier=Tier(payload.tier),
                collateral=collateral,
                owner_key=payload.owner_key,
                operator_key=payload.operator_key,
                reward_address=payload.reward_address,
                network_address=payload.network_address,
                registered_height=height,
                active_from_epoch=effective_epoch,
            )
        )
    elif isinstance(payload, OperatorUpdate):
        _validate_operator_update(work, tx, txid, payload, params)
        entry = work.get(payload.masternode_id)
        if entry is None:
            raise AssertionError("validated operator update names no entry")
        work.put(
            replace(
                entry,
                operator_key=payload.operator_key,
                reward_address=payload.reward_address,
                network_address=payload.network_address,
            )
        )


def validate_registry_transaction(
    tx: Transaction, txid: bytes, state: RegistryState, params: ChainParams
) -> None:
    """Check `tx` against the registry as if it were the next block's only
    transaction (for the mempool and the transaction-vote rules).

    The transaction's own spends are applied first, so a transaction that
    spends a masternode's collateral and registers a new masternode with the
    same keys is valid. A transaction without a payload is always valid here.
    The owner signature of a registration is the ledger's rule
    (`validate_transaction`); that of an operator update is checked here,
    against the owner key of the registered entry.

    Parameters:
        tx: the transaction; txid: its `compute_txid`.
        state: the registry after the chain tip.
        params: the chain parameters.

    Raises:
        InvalidTransaction: bad-payload, bad-collateral (the ledger's
            `check_registration`), duplicate-masternode, duplicate-owner-key,
            duplicate-operator-key, unknown-masternode,
            deregistered-masternode, owner-signature, bad-owner-signature.
    """
    if tx.payload is None:
        return
    work = _WorkingRegistry(state.entries)
    _process_transaction(work, tx, txid, state.height + 1, state.epoch + 1, params)


def _boundary(
    work: _WorkingRegistry, height: int, new_epoch: int, seed: bytes, params: ChainParams
) -> VotingSet:
    """Drop the entries deregistered by `new_epoch`; return its committee.

    `height` is the last block of the ending epoch. Staked entries whose
    heartbeat is overdue after it (`is_heartbeat_overdue`) are left out of
    the committee, unless no entry has ever had a heartbeat verified
    (heartbeats are not in use on this chain) or leaving them out would
    leave no voter at all: removing every voter would halt the chain for
    good, while its progress shows that enough of them vote.
    """
    kept = []
    for entry in work.all_entries():
        deregistered = entry.deregistered_from_epoch
        if deregistered is not None and deregistered <= new_epoch:
            work.drop(entry.masternode_id)
        else:
            kept.append(entry)
    if any(entry.last_heartbeat_window is not None for entry in kept):
        live = [entry for entry in kept if not is_heartbeat_overdue(entry, height, params)]
        committee = compute_voting_set_from_entries(live, new_epoch, seed, params)
        if committee.voters:
            return committee
    return compute_voting_set_from_entries(kept, new_epoch, seed, params)


def on_epoch_boundary(
    state: RegistryState, new_epoch: int, seed: bytes, params: ChainParams
) -> RegistryState:
    """Start `new_epoch`: drop deregistered entries and compute its committee.

    Pending registrations, bans and operator updates need no work: they are
    on the entries already and `compute_voting_set` reads them for
    `new_epoch`. The old voting set becomes `previous_voting_set`.
    `process_block_registry` calls this at the end of the last block of an
    epoch (and records it in the undo); call it directly only for a state
    that is not undone through a `RegistryUndo`.

    Parameters:
        state: the registry after the last block of epoch `new_epoch - 1`.
        new_epoch: `state.epoch + 1`.
        seed: 32 bytes: the `prev_hash` of that last block (the block it
            follows), which is fixed before the block commits to the result.
        params: the chain parameters.

    Raises:
        ValueError: `new_epoch` is not `state.epoch + 1`, or `seed` is not
            32 bytes.
    """
    if new_epoch != state.epoch + 1:
        raise ValueError(f"new epoch: expected {state.epoch + 1}, got {new_epoch}")
    work = _WorkingRegistry(state.entries)
    voting_set = _boundary(work, state.height, new_epoch, seed, params)
    return RegistryState(
        state.height, work.sorted_entries(), voting_set, state.voting_set, state.window_seed
    )


def process_block_registry(
    state: RegistryState,
    height: int,
    prev_hash: bytes,
    transactions: Sequence[Transaction],
    txids: Sequence[bytes],
    evidence_offenders: Iterable[bytes],
    params: ChainParams,
    *,
    heartbeats: Sequence[Heartbeat] = (),
) -> tuple[RegistryState, RegistryUndo]:
    """Apply block `height`'s registry changes; return the new state and its undo.

    In block order, for each transaction: the masternodes whose collateral it
    spends are deregistered, then its payload is checked
    (`validate_registry_transaction` rules) and applied: a registration adds
    an entry, an operator update replaces the entry's operator key, reward
    and network address. Then every masternode named in
    `evidence_offenders` is banned (unknown ids are ignored: the evidence
    was checked by the caller, and the offender may be gone already). All of
    these count from epoch `epoch_of(height) + 1`. Then each of
    `heartbeats` is recorded on its entry (`last_heartbeat_sequence`, and
    the block's reward window as `last_heartbeat_window`); when the block
    starts a reward window, `prev_hash` becomes the state's `window_seed`.
    If `height` is the last of its epoch, the epoch boundary follows (see
    `on_epoch_boundary`; overdue heartbeats keep staked entries out of the
    next committee), so the returned state's voting set is the one the
    block's header commits to (`next_voting_set_hash`).

    Parameters:
        state: the registry after block `height - 1`.
        height: `state.height + 1`.
        prev_hash: the block's `prev_hash`; the seed of the next committee
            when the block ends an epoch.
        transactions: the block's transactions, already valid for the ledger.
        txids: their txids, in the same order.
        evidence_offenders: masternode ids of the offenders named by the
            block's evidence.
        params: the chain parameters.
        heartbeats: the block's heartbeats, already verified by the caller
            against the state before the block (`check_block_heartbeats`).

    Raises:
        InvalidTransaction: a transaction breaks a registry rule (the caller
            turns it into InvalidBlock); the state is unchanged.
        ValueError: `height` does not follow `state.height`, or `txids` does
            not match `transactions`.
    """
    if height != state.height + 1:
        raise ValueError(f"height: expected {state.height + 1}, got {height}")
    if len(txids) != len(transactions):
        raise ValueError(f"txids: expected {len(transactions)}, got {len(txids)}")
    effective_epoch = params.epoch_of(height) + 1
    work = _WorkingRegistry(state.entries)
    for tx, txid in zip(transactions, txids, strict=True):
        if tx.inputs or tx.payload is not None:
            _process_transaction(work, tx, txid, height, effective_epoch, params)
    for masternode_id in evidence_offenders:
        entry = work.get(masternode_id)
        if entry is not None and entry.banned_from_epoch is None:
            work.put(replace(entry, banned_from_epoch=effective_epoch))
    window = compute_reward_window(height, params)
    for heartbeat in heartbeats:
        entry = work.get(heartbeat.masternode_id)
        if entry is not None:
            work.put(
                replace(
                    entry,
                    last_heartbeat_sequence=heartbeat.sequence,
                    last_heartbeat_window=window,
                )
            )
    starts_window = is_first_height_of_window(height, params)
    window_seed = prev_hash if starts_window else state.window_seed
    voting_set, previous_voting_set = state.voting_set, state.previous_voting_set
    crossed_epoch = is_last_height_of_epoch(height, params)
    if crossed_epoch:
        voting_set, previous_voting_set = (
            _boundary(work, height, effective_epoch, prev_hash, params),
            state.voting_set,
        )
    entries = work.sorted_entries()
    undo = RegistryUndo(
        height=height,
        entries_before=work.undo_entries(),
        crossed_epoch=crossed_epoch,
        previous_voting_set_before=state.previous_voting_set if crossed_epoch else None,
        window_seed_before=state.window_seed if starts_window else None,
    )
    state_after = RegistryState(height, entries, voting_set, previous_voting_set, window_seed)
    return state_after, undo


def undo_block_registry(state: RegistryState, undo: RegistryUndo) -> RegistryState:
    """The registry before the block that `undo` was made for.

    Parameters:
        state: the registry after that block (block `undo.height`).
        undo: the record `process_block_registry` returned for it.

    Raises:
        ValueError: `undo` is not for `state.height`, or does not fit the
            state (corrupt storage).
    """
    if undo.height != state.height:
        raise ValueError(f"undo height: expected {state.height}, got {undo.height}")
    entries = {entry.masternode_id: entry for entry in state.entries}
    for record in undo.entries_before:
        if record.entry_before is None:
            if entries.pop(record.masternode_id, None) is None:
                raise ValueError(f"undo: entry {record.masternode_id.hex()} is not in the state")
        else:
            entries[record.masternode_id] = record.entry_before
    voting_set, previous_voting_set = state.voting_set, state.previous_voting_set
    if undo.crossed_epoch:
        if previous_voting_set is None:
            raise ValueError("undo: the block crossed an epoch but the state has no previous set")
        voting_set, previous_voting_set = previous_voting_set, undo.previous_voting_set_before
    restored = (
        tuple(sorted(entries.values(), key=_entry_id)) if undo.entries_before else state.entries
    )
    window_seed = state.window_seed
    if undo.window_seed_before is not None:
        window_seed = undo.window_seed_before
    return RegistryState(state.height - 1, restored, voting_set, previous_voting_set, window_seed)


def registry_from_genesis(genesis: Block, params: ChainParams) -> RegistryState:
    """The registry after the genesis block.

    Genesis registrations are transactions without inputs carrying a
    MasternodeRegistration (the genesis builder puts a staked collateral in
    output 0). They are checked like any registration (tier, collateral,
    unique keys) except for the owner signature, since the genesis block is
    fixed by its hash, and they count from epoch 0. The committee of epoch 0
    is seeded by the genesis `prev_hash` (ZERO_HASH). Transactions without a
    payload (the genesis allocations) are ignored.

    Raises:
        InvalidBlock: bad-genesis (not height 0, a transaction with inputs or
            an operator update), or the code of the broken registration rule.
    """
    header = genesis.header
    if header.height != 0:
        raise InvalidBlock(
            ledger_errors.REJECT_BAD_GENESIS, f"genesis height: expected 0, got {header.height}"
        )
    work = _WorkingRegistry(())
    for index, tx in enumerate(genesis.transactions):
        payload = tx.payload
        if payload is None:
            continue
        if tx.inputs or not isinstance(payload, MasternodeRegistration):
            raise InvalidBlock(
                ledger_errors.REJECT_BAD_GENESIS,
                f"genesis transaction {index}: expected an input-less registration, got "
                f"{len(tx.inputs)} inputs and a {type(payload).__name__}",
            )
        txid = compute_txid(tx)
        try:
            _process_transaction(work, tx, txid, 0, 0, params)
        except InvalidTransaction as exc:
            raise InvalidBlock(
                exc.reject_code, f"genesis transaction {index} ({txid.hex()}): {exc.message}"
            ) from exc
    entries = work.sorted_entries()
    voting_set = compute_voting_set_from_entries(entries, 0, header.prev_hash, params)
    state = RegistryState(0, entries, voting_set, None, header.prev_hash)
    if is_last_height_of_epoch(0, params):
        state = on_epoch_boundary(state, 1, header.prev_hash, params)
    return state
