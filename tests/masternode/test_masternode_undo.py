"""Undo restores the exact previous state; states and undo records round-trip
through the canonical encoding. Random chains drive both (Hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from masternode_helpers import (
    PARAMS,
    advance,
    genesis_state,
    make_key,
    process,
    registration_tx,
    spend_tx,
    update_tx,
)

from timecoin.encoding import DecodeError, decode, encode
from timecoin.masternode import (
    EntryUndo,
    RegistryState,
    RegistryUndo,
    undo_block_registry,
)
from timecoin.params import Tier
from timecoin.types import Heartbeat, InvalidTransaction, OutPoint, Transaction, compute_txid

MAX_STATE_BYTES = 10_000_000
OWNERS = [make_key(f"p-owner{i}") for i in range(6)]
OPERATORS = [make_key(f"p-op{i}").public_key for i in range(6)]
OWNER_BY_KEY = {k.public_key: k for k in OWNERS} | {
    make_key(f"owner{i}").public_key: make_key(f"owner{i}") for i in range(3)
}
GENESIS = genesis_state([Tier.GOLD, Tier.SILVER, Tier.BRONZE])


@dataclass(frozen=True)
class Register:
    owner: int
    operator: int
    tier: Tier
    spend_pick: int | None  # also spend the collateral of an existing entry


@dataclass(frozen=True)
class Update:
    pick: int
    operator: int
    good_signature: bool


@dataclass(frozen=True)
class Spend:
    pick: int


@dataclass(frozen=True)
class Ban:
    pick: int


@dataclass(frozen=True)
class Beat:
    pick: int


Action = Register | Update | Spend | Ban | Beat

actions = st.one_of(
    st.builds(
        Register,
        st.integers(0, 5),
        st.integers(0, 5),
        st.sampled_from(list(Tier)),
        st.none() | st.integers(0, 50),
    ),
    st.builds(Update, st.integers(0, 50), st.integers(0, 5), st.booleans()),
    st.builds(Spend, st.integers(0, 50)),
    st.builds(Ban, st.integers(0, 50)),
    st.builds(Beat, st.integers(0, 50)),
)
blocks = st.lists(st.lists(actions, max_size=4), min_size=1, max_size=10)


def _block(
    state: RegistryState, block_actions: list[Action], salt: int
) -> tuple[list[Transaction], list[bytes], list[Heartbeat]]:
    entries = state.entries
    txs: list[Transaction] = []
    offenders: list[bytes] = []
    beats: dict[bytes, Heartbeat] = {}
    for n, action in enumerate(block_actions):
        funding = f"{salt}/{n}"
        if isinstance(action, Register):
            extra = []
            if action.spend_pick is not None and entries:
                collateral = entries[action.spend_pick % len(entries)].collateral
                extra = [] if collateral is None else [collateral]
            txs.append(
                registration_tx(
                    OWNERS[action.owner],
                    OPERATORS[action.operator],
                    action.tier,
                    funding=funding,
                    extra_inputs=extra,
                )
            )
        elif not entries:
            continue
        elif isinstance(action, Update):
            entry = entries[action.pick % len(entries)]
            signer = OWNER_BY_KEY[entry.owner_key] if action.good_signature else OWNERS[0]
            txs.append(
                update_tx(entry.masternode_id, signer, OPERATORS[action.operator], funding=funding)
            )
        elif isinstance(action, Spend):
            collateral = entries[action.pick % len(entries)].collateral
            if collateral is not None:
                txs.append(spend_tx([collateral], funding=funding))
        elif isinstance(action, Ban):
            offenders.append(entries[action.pick % len(entries)].masternode_id)
        else:
            masternode_id = entries[action.pick % len(entries)].masternode_id
            beats[masternode_id] = Heartbeat(masternode_id, state.height + 1, 0, bytes(64))
    return txs, offenders, [beats[k] for k in sorted(beats)]


def _check_invariants(state: RegistryState) -> None:
    ids = [e.masternode_id for e in state.entries]
    assert ids == sorted(set(ids))
    assert state.epoch == PARAMS.epoch_of(state.height + 1)
    live = [e for e in state.entries if not e.is_deregistered]
    assert len({e.owner_key for e in live}) == len(live)
    assert len({e.operator_key for e in live}) == len(live)
    keys = [v.operator_key for v in state.voting_set.voters]
    assert len(keys) == len(set(keys))


def _round_trip(state: RegistryState, undo: RegistryUndo) -> None:
    assert decode(encode(state), RegistryState, MAX_STATE_BYTES) == state
    assert decode(encode(undo), RegistryUndo, MAX_STATE_BYTES) == undo


@settings(max_examples=60)
@given(blocks, st.integers(0, 3))
def test_process_then_undo_is_identity(chain: list[list[Action]], start: int) -> None:
    state = advance(GENESIS, start)
    history: list[tuple[RegistryState, RegistryUndo]] = []
    for salt, block_actions in enumerate(chain):
        txs, offenders, beats = _block(state, block_actions, salt)
        try:
            after, undo = process(state, txs, offenders, heartbeats=beats)
        except InvalidTransaction:
            after, undo = process(state, [], offenders, heartbeats=beats)
        _check_invariants(after)
        _round_trip(after, undo)
        assert undo_block_registry(after, undo) == state
        history.append((state, undo))
        state = after
    for before, undo in reversed(history):
        state = undo_block_registry(state, undo)
        assert state == before


def test_undo_of_a_boundary_block_with_registration_and_spend() -> None:
    state = advance(GENESIS, 2)  # the next block ends epoch 0
    tx = registration_tx(OWNERS[0], OPERATORS[0], Tier.SILVER)
    silver = next(e for e in state.entries if e.tier == Tier.SILVER)
    assert silver.collateral is not None
    txs = [tx, spend_tx([OutPoint(compute_txid(tx), 0), silver.collateral], funding="y")]
    after, undo = process(state, txs, [state.entries[0].masternode_id])
    assert undo.crossed_epoch
    assert undo.previous_voting_set_before is None
    # The registration came and went within the block: no undo record for it.
    assert {u.masternode_id for u in undo.entries_before} == {
        silver.masternode_id,
        state.entries[0].masternode_id,
    }
    assert undo_block_registry(after, undo) == state
    _round_trip(after, undo)


def test_undo_rejects_a_record_for_another_state() -> None:
    after, undo = process(GENESIS)
    with pytest.raises(ValueError, match="height"):
        undo_block_registry(GENESIS, undo)
    bogus = RegistryUndo(undo.height, (EntryUndo(bytes(32), None),), False, None)
    with pytest.raises(ValueError, match="not in the state"):
        undo_block_registry(after, bogus)
    crossed = RegistryUndo(undo.height, (), True, None)
    with pytest.raises(ValueError, match="previous"):
        undo_block_registry(after, crossed)


def test_decode_rejects_non_canonical_and_oversized_state() -> None:
    data = encode(GENESIS)
    with pytest.raises(DecodeError):
        decode(data + b"\x00", RegistryState, MAX_STATE_BYTES)
    with pytest.raises(DecodeError):
        decode(data, RegistryState, len(data) - 1)
    assert decode(data, RegistryState, len(data)) == GENESIS
