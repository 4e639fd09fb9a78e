"""apply_block, connect_block and undo_block: rules, atomicity, and apply-then-undo identity."""

from __future__ import annotations

from dataclasses import replace as dc_replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import (
    ALICE,
    BOB,
    CAROL,
    FEE,
    PARAMS,
    TEN,
    address_of,
    funded_set,
    make_coinbase,
    make_tx,
    replace,
)

from timecoin.crypto import MuHash3072, sha256, verify
from timecoin.ledger import (
    MemoryUtxoSet,
    SignatureCache,
    SignatureItem,
    apply_block,
    compute_utxo_commitment,
    connect_block,
    encode_utxo_element,
    errors,
    undo_block,
)
from timecoin.params import SizeLimits, Tier
from timecoin.types import (
    BlockUndo,
    Coin,
    InvalidBlock,
    MasternodeRegistration,
    OutPoint,
    SpentCoin,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

HEIGHT = 7


def state_of(view: MemoryUtxoSet) -> MuHash3072:
    state = MuHash3072()
    state.insert_many(encode_utxo_element(op, coin) for op, coin in view.coins.items())
    state.normalize()
    return state


def chain_block() -> tuple[MemoryUtxoSet, list[Transaction]]:
    """Coinbase, a transfer, and a transfer spending the previous one's output."""
    view, outpoints = funded_set(ALICE, [TEN, TEN])
    coinbase = make_coinbase(HEIGHT, [(TEN, address_of(CAROL))])
    tx1 = make_tx(
        [(outpoints[0], ALICE)], [(TEN // 2, address_of(BOB)), (TEN // 2 - FEE, address_of(ALICE))]
    )
    tx2 = make_tx(
        [(OutPoint(txid=compute_txid(tx1), index=0), BOB)], [(TEN // 2 - FEE, address_of(CAROL))]
    )
    return view, [coinbase, tx1, tx2]


def connect_code(transactions: list[Transaction], view: MemoryUtxoSet, **kwargs: object) -> str:
    state = state_of(view)
    before = state.to_bytes()
    with pytest.raises(InvalidBlock) as info:
        connect_block(transactions, HEIGHT, view, state, PARAMS, **kwargs)  # type: ignore[arg-type]
    assert state.to_bytes() == before  # the commitment is untouched on failure
    return info.value.reject_code


def test_connect_valid_block_with_intra_block_spend() -> None:
    view, txs = chain_block()
    state = state_of(view)
    before = state.to_bytes()
    result = connect_block(txs, HEIGHT, view, state, PARAMS)
    assert result.fees == 2 * FEE
    assert result.undo.utxo_state_before == before
    tx1_out0 = OutPoint(txid=compute_txid(txs[1]), index=0)
    assert tx1_out0 not in result.delta.created  # created and spent in the block
    assert result.delta.spent == [txs[1].inputs[0].prevout]
    assert [s.outpoint for s in result.undo.spent] == result.delta.spent
    assert len(result.delta.created) == 3  # coinbase, tx1 change, tx2 output
    assert all(coin.height == HEIGHT for coin in result.delta.created.values())
    view.apply_delta(result.delta)
    assert state.digest() == compute_utxo_commitment(view.coins.items())


def test_apply_matches_connect() -> None:
    view, txs = chain_block()
    s1, s2 = state_of(view), state_of(view)
    undo1, delta1 = apply_block(txs, HEIGHT, view, s1, PARAMS)
    result = connect_block(txs, HEIGHT, view, s2, PARAMS)
    assert (undo1, delta1) == (result.undo, result.delta)
    assert s1.digest() == s2.digest()


def test_view_is_not_written() -> None:
    view, txs = chain_block()
    coins = dict(view.coins)
    connect_block(txs, HEIGHT, view, state_of(view), PARAMS)
    assert view.coins == coins


def test_rule_double_spend_in_block() -> None:
    view, outpoints = funded_set(ALICE, [TEN])
    tx1 = make_tx([(outpoints[0], ALICE)], [(TEN - FEE, address_of(BOB))])
    tx2 = make_tx([(outpoints[0], ALICE)], [(TEN - 2 * FEE, address_of(CAROL))])
    assert connect_code([tx1, tx2], view) == errors.REJECT_DOUBLE_SPEND


def test_rule_double_spend_of_coin_created_in_block() -> None:
    view, txs = chain_block()
    spent = txs[2].inputs[0].prevout
    tx3 = make_tx([(spent, BOB)], [(TEN // 2 - 2 * FEE, address_of(ALICE))])
    assert connect_code([*txs, tx3], view) == errors.REJECT_DOUBLE_SPEND


def test_rule_missing_input_spending_later_output() -> None:
    view, txs = chain_block()
    code = connect_code([txs[0], txs[2], txs[1]], view)
    assert code == errors.REJECT_MISSING_INPUT


def test_transaction_errors_keep_their_code_and_name_the_transaction() -> None:
    view, txs = chain_block()
    bad = replace(txs[1], signatures=[bytes(64)])
    state = state_of(view)
    with pytest.raises(InvalidBlock) as info:
        connect_block([txs[0], bad], HEIGHT, view, state, PARAMS)
    assert info.value.reject_code == errors.REJECT_BAD_SIGNATURE
    assert info.value.message.startswith("transaction 1 (")


def test_rule_coinbase_position() -> None:
    view, txs = chain_block()
    assert connect_code([txs[1], txs[0]], view) == errors.REJECT_COINBASE_POSITION
    state = state_of(view)
    with pytest.raises(InvalidBlock) as info:
        apply_block([txs[1], txs[0]], HEIGHT, view, state, PARAMS)
    assert info.value.reject_code == errors.REJECT_COINBASE_POSITION


def test_rule_coinbase_lock_time() -> None:
    view, txs = chain_block()
    coinbase = make_coinbase(HEIGHT + 1, [(TEN, address_of(CAROL))])
    assert connect_code([coinbase, *txs[1:]], view) == errors.REJECT_COINBASE_LOCK_TIME


def test_rule_coinbase_sanity_applies_in_block() -> None:
    view, txs = chain_block()
    coinbase = replace(txs[0], signatures=[bytes(64)])
    assert connect_code([coinbase, *txs[1:]], view) == errors.REJECT_COINBASE_SIGNATURES


def test_block_without_coinbase_is_fine_here() -> None:
    view, txs = chain_block()
    result = connect_block(txs[1:], HEIGHT, view, state_of(view), PARAMS)
    assert result.fees == 2 * FEE


def test_rule_too_many_transactions() -> None:
    params = dc_replace(PARAMS, sizes=SizeLimits(max_block_transactions=2))
    view, txs = chain_block()
    with pytest.raises(InvalidBlock) as info:
        connect_block(txs, HEIGHT, view, state_of(view), params)
    assert info.value.reject_code == errors.REJECT_TOO_MANY_TRANSACTIONS


def test_rule_genesis_height() -> None:
    tx = make_coinbase(0, [(TEN, address_of(ALICE))])
    with pytest.raises(InvalidBlock) as info:
        apply_block([tx], 1, MemoryUtxoSet(), MuHash3072(), PARAMS, genesis=True)
    assert info.value.reject_code == errors.REJECT_GENESIS_HEIGHT


def test_rule_duplicate_txid() -> None:
    tx = make_coinbase(0, [(TEN, address_of(ALICE))])
    state = MuHash3072()
    with pytest.raises(InvalidBlock) as info:
        apply_block([tx, tx], 0, MemoryUtxoSet(), state, PARAMS, genesis=True)
    assert info.value.reject_code == errors.REJECT_DUPLICATE_TXID
    assert state.digest() == MuHash3072().digest()


def test_apply_missing_input_leaves_state() -> None:
    view, txs = chain_block()
    state = state_of(view)
    before = state.to_bytes()
    with pytest.raises(InvalidBlock) as info:
        apply_block(txs[1:], HEIGHT, MemoryUtxoSet(), state, PARAMS)
    assert info.value.reject_code == errors.REJECT_MISSING_INPUT
    assert state.to_bytes() == before


def test_given_txids_are_used() -> None:
    view, txs = chain_block()
    txids = [compute_txid(tx) for tx in txs]
    _, delta = apply_block(txs, HEIGHT, view, state_of(view), PARAMS, txids=txids)
    assert OutPoint(txid=txids[0], index=0) in delta.created


def batch_verifier(calls: list[int]) -> object:
    def verify_all(items: list[SignatureItem]) -> list[bool]:
        calls.append(len(items))
        return [verify(*item) for item in items]

    return verify_all


def test_batch_verification_in_one_call() -> None:
    view, txs = chain_block()
    calls: list[int] = []
    connect_block(txs, HEIGHT, view, state_of(view), PARAMS, verify_batch=batch_verifier(calls))  # type: ignore[arg-type]
    assert calls == [2]


def test_batch_verification_reports_bad_input_signature() -> None:
    view, txs = chain_block()
    bad = replace(txs[2], signatures=[txs[1].signatures[0]])
    code = connect_code([*txs[:2], bad], view, verify_batch=batch_verifier([]))
    assert code == errors.REJECT_BAD_SIGNATURE


def test_batch_verification_reports_bad_owner_signature() -> None:
    collateral = PARAMS.tier_params(Tier.BRONZE).collateral
    view, outpoints = funded_set(ALICE, [collateral + FEE])
    payload = MasternodeRegistration(
        tier=Tier.BRONZE,
        collateral_index=0,
        owner_key=BOB.public_key,
        operator_key=CAROL.public_key,
        reward_address=address_of(CAROL),
        network_address=b"",
    )
    tx = make_tx(
        [(outpoints[0], ALICE)], [(collateral, address_of(BOB))], payload=payload, owner=ALICE
    )
    state = state_of(view)
    with pytest.raises(InvalidBlock) as info:
        connect_block([tx], HEIGHT, view, state, PARAMS, verify_batch=batch_verifier([]))  # type: ignore[arg-type]
    assert info.value.reject_code == errors.REJECT_BAD_OWNER_SIGNATURE
    assert "transaction 0" in info.value.message


def test_batch_verification_fills_and_uses_cache() -> None:
    view, txs = chain_block()
    cache = SignatureCache(max_entries=100)
    calls: list[int] = []
    verify_all = batch_verifier(calls)
    connect_block(
        txs, HEIGHT, view, state_of(view), PARAMS, verify_batch=verify_all, sig_cache=cache
    )  # type: ignore[arg-type]
    connect_block(
        txs, HEIGHT, view, state_of(view), PARAMS, verify_batch=verify_all, sig_cache=cache
    )  # type: ignore[arg-type]
    assert calls == [2]
    assert len(cache) == 2


def test_undo_restores_set_and_commitment() -> None:
    view, txs = chain_block()
    original = dict(view.coins)
    state = state_of(view)
    digest = state.digest()
    result = connect_block(txs, HEIGHT, view, state, PARAMS)
    view.apply_delta(result.delta)
    inverse = undo_block(result.undo, txs, HEIGHT, state)
    view.apply_delta(inverse)
    assert view.coins == original
    assert state.digest() == digest
    assert state.to_bytes() == result.undo.utxo_state_before


def test_rule_bad_undo_wrong_outpoints() -> None:
    view, txs = chain_block()
    state = state_of(view)
    result = connect_block(txs, HEIGHT, view, state, PARAMS)
    after = state.to_bytes()
    with pytest.raises(InvalidBlock) as info:
        undo_block(result.undo, txs[:1], HEIGHT, state)
    assert info.value.reject_code == errors.REJECT_BAD_UNDO
    assert state.to_bytes() == after


def test_rule_bad_undo_wrong_coin() -> None:
    view, txs = chain_block()
    state = state_of(view)
    result = connect_block(txs, HEIGHT, view, state, PARAMS)
    after = state.to_bytes()
    spent = result.undo.spent[0]
    forged = BlockUndo(
        spent=[
            SpentCoin(
                outpoint=spent.outpoint, coin=Coin(amount=1, address=spent.coin.address, height=0)
            )
        ],
        utxo_state_before=result.undo.utxo_state_before,
    )
    with pytest.raises(InvalidBlock) as info:
        undo_block(forged, txs, HEIGHT, state)
    assert info.value.reject_code == errors.REJECT_BAD_UNDO
    assert state.to_bytes() == after


def test_rule_bad_undo_wrong_height() -> None:
    view, txs = chain_block()
    state = state_of(view)
    result = connect_block(txs, HEIGHT, view, state, PARAMS)
    with pytest.raises(InvalidBlock) as info:
        undo_block(result.undo, txs, HEIGHT + 1, state)
    assert info.value.reject_code == errors.REJECT_BAD_UNDO


# Property: apply then undo is the identity, over random chains of blocks.

ADDRESSES = [bytes([n]) * 20 for n in range(4)]


@st.composite
def block_sequences(draw: st.DrawFn) -> tuple[dict[OutPoint, Coin], list[list[Transaction]]]:
    """An initial UTXO set and blocks of transactions that spend it (unsigned:
    apply_block takes validated transactions and does not look at witnesses)."""
    n_initial = draw(st.integers(min_value=0, max_value=6))
    initial = {
        OutPoint(txid=sha256(bytes([i])), index=draw(st.integers(0, 3))): Coin(
            amount=draw(st.integers(1_000, 10**12)),
            address=draw(st.sampled_from(ADDRESSES)),
            height=0,
        )
        for i in range(n_initial)
    }
    available = dict(initial)
    blocks: list[list[Transaction]] = []
    for height in range(1, draw(st.integers(1, 4)) + 1):
        txs: list[Transaction] = []
        if draw(st.booleans()):
            txs.append(make_coinbase(height, [(TEN, draw(st.sampled_from(ADDRESSES)))]))
        for _ in range(draw(st.integers(0, 4))):
            if not available:
                break
            keys = sorted(available, key=lambda op: (op.txid, op.index))
            chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
            n_out = draw(st.integers(1, 3))
            outputs = [
                TxOutput(
                    amount=draw(st.integers(1_000, 10**9)), address=draw(st.sampled_from(ADDRESSES))
                )
                for _ in range(n_out)
            ]
            tx = Transaction(
                version=1,
                inputs=[TxInput(prevout=op, public_key=bytes(32)) for op in chosen],
                outputs=outputs,
                lock_time=0,
                payload=None,
                signatures=[bytes(64)] * len(chosen),
                owner_signature=None,
            )
            for op in chosen:
                del available[op]
            txid = compute_txid(tx)
            for index, out in enumerate(outputs):
                available[OutPoint(txid=txid, index=index)] = Coin(
                    amount=out.amount, address=out.address, height=height
                )
            txs.append(tx)
        blocks.append(txs)
    return initial, blocks


@settings(max_examples=60)
@given(block_sequences())
def test_property_apply_then_undo_is_identity(
    case: tuple[dict[OutPoint, Coin], list[list[Transaction]]],
) -> None:
    initial, blocks = case
    view = MemoryUtxoSet(initial)
    state = state_of(view)
    history: list[tuple[dict[OutPoint, Coin], bytes]] = []
    records = []
    for height, txs in enumerate(blocks, start=1):
        history.append((dict(view.coins), state.digest()))
        undo, delta = apply_block(txs, height, view, state, PARAMS)
        view.apply_delta(delta)
        assert state.digest() == compute_utxo_commitment(view.coins.items())
        assert BlockUndo(spent=undo.spent, utxo_state_before=undo.utxo_state_before) == undo
        records.append((undo, txs, height))
    for (undo, txs, height), (coins, digest) in zip(
        reversed(records), reversed(history), strict=True
    ):
        view.apply_delta(undo_block(undo, txs, height, state))
        assert view.coins == coins
        assert state.digest() == digest
    assert view.coins == initial
