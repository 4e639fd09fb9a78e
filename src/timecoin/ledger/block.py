"""Applying a block's transactions to the UTXO set, and undoing them.

`apply_block` is the state transition of already-validated transactions:
coins spent, coins created, the UTXO commitment (MuHash3072) updated, and
the undo data and the delta for storage returned. `connect_block` is the
convenience that validates every transaction first. `undo_block` restores
the previous UTXO set and commitment exactly.

Nothing here writes to storage: the base view is only read, and the caller
writes the returned `UtxoDelta` in one atomic batch together with the
`BlockUndo`. The commitment object is changed only when the whole block
succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from timecoin.crypto import MuHash3072
from timecoin.ledger import errors
from timecoin.ledger.signatures import (
    SignatureCache,
    SignatureItem,
    compute_input_signing_message,
)
from timecoin.ledger.transaction import (
    check_transaction,
    compute_tx_size,
    validate_transaction,
)
from timecoin.ledger.view import CachedUtxoView, UtxoDelta, UtxoView, encode_utxo_element
from timecoin.params import ChainParams
from timecoin.types import (
    BlockUndo,
    Coin,
    InvalidBlock,
    InvalidTransaction,
    OutPoint,
    SpentCoin,
    Transaction,
    compute_txid,
)

BatchVerify = Callable[[list[SignatureItem]], list[bool]]
"""Verifies signature triples, one result each (e.g. `BatchVerifier.verify_all`)."""


@dataclass(frozen=True, slots=True)
class ConnectedBlock:
    """The result of `connect_block`.

    `fees` is the sum of the fees of the non-coinbase transactions: the chain
    layer checks the coinbase against subsidy plus fees.
    """

    undo: BlockUndo
    delta: UtxoDelta
    fees: int


def apply_block(
    transactions: Sequence[Transaction],
    height: int,
    view: UtxoView,
    utxo_state: MuHash3072,
    params: ChainParams,
    *,
    genesis: bool = False,
    txids: Sequence[bytes] | None = None,
) -> tuple[BlockUndo, UtxoDelta]:
    """Apply already-validated transactions in order.

    A transaction may spend an output created earlier in the same block.
    Coins get the block `height`. `utxo_state` receives the created and
    spent commitment elements and is normalised once; it is left unchanged
    when this raises.

    Parameters:
        transactions: the block's transactions, coinbase (if any) first.
        height: the block height.
        view: the UTXO set before the block (read only).
        utxo_state: the commitment of that set; updated in place.
        params: the chain parameters.
        genesis: the genesis block, whose transactions all lack inputs.
        txids: the transactions' txids when the caller has them.

    Returns:
        (undo data, delta to write).

    Raises:
        InvalidBlock: too-many-transactions, genesis-height,
            coinbase-position, missing-input, duplicate-txid.
    """
    txids = _txids(transactions, txids)
    _check_block_shape(transactions, height, params, genesis=genesis)
    overlay = CachedUtxoView(view)
    for index, tx in enumerate(transactions):
        _apply_transaction(overlay, tx, txids[index], height, index)
    return _commit(overlay, utxo_state)


def connect_block(
    transactions: Sequence[Transaction],
    height: int,
    view: UtxoView,
    utxo_state: MuHash3072,
    params: ChainParams,
    *,
    verify_batch: BatchVerify | None = None,
    sig_cache: SignatureCache | None = None,
    txids: Sequence[bytes] | None = None,
) -> ConnectedBlock:
    """Validate every transaction of a (non-genesis) block, then apply them.

    The coinbase, when present, must be the first transaction and have
    `lock_time == height`; its amount is the chain layer's rule. Each other
    transaction passes `check_transaction` and `validate_transaction`
    against the UTXO set as changed by the transactions before it, and may
    not spend a coin an earlier one spent ("double-spend").

    Parameters:
        transactions, height, view, utxo_state, params, txids: as for
            `apply_block`.
        verify_batch: when given, all signatures of the block are verified in
            one call of it, before the commitment changes; otherwise each is
            verified inline.
        sig_cache: signatures found in it are not verified again; verified
            ones are added.

    Returns:
        The undo data, delta and total fees.

    Raises:
        InvalidBlock: the reject code of the first broken rule (a
            transaction's code is kept, the message names the transaction).
    """
    txids = _txids(transactions, txids)
    _check_block_shape(transactions, height, params, genesis=False)
    if transactions and transactions[0].is_coinbase:
        coinbase = transactions[0]
        _check_in_block(0, txids[0], lambda: check_transaction(coinbase, params))
        if coinbase.lock_time != height:
            raise InvalidBlock(
                errors.REJECT_COINBASE_LOCK_TIME,
                f"coinbase lock time: expected the height {height}, got {coinbase.lock_time}",
            )
    overlay = CachedUtxoView(view)
    sink: list[SignatureItem] | None = [] if verify_batch is not None else None
    sink_ends: list[int] = []  # sink length after each transaction
    fees = 0
    for index, tx in enumerate(transactions):
        txid = txids[index]
        if not tx.is_coinbase:
            fees += _check_and_validate(tx, txid, index, overlay, params, height, sink, sig_cache)
        sink_ends.append(len(sink) if sink is not None else 0)
        _apply_transaction(overlay, tx, txid, height, index)
    if verify_batch is not None and sink:
        _verify_sink(sink, sink_ends, verify_batch, transactions, txids, params, sig_cache)
    undo, delta = _commit(overlay, utxo_state)
    return ConnectedBlock(undo=undo, delta=delta, fees=fees)


def undo_block(
    undo: BlockUndo,
    transactions: Sequence[Transaction],
    height: int,
    utxo_state: MuHash3072,
    *,
    txids: Sequence[bytes] | None = None,
) -> UtxoDelta:
    """Undo a block applied at `height`: return the delta that restores the set.

    The returned delta deletes the coins the block created and recreates the
    coins it spent (from `undo`). `utxo_state` is brought back to the state
    recorded in `undo`; the recomputed state is compared with the recorded
    one, so an undo record that does not belong to this block is detected
    and `utxo_state` is left unchanged.

    Parameters:
        undo: the block's undo record (from `apply_block`).
        transactions: the block's transactions; height: its height.
        utxo_state: the commitment after the block; updated in place.
        txids: the transactions' txids when the caller has them.

    Raises:
        InvalidBlock: bad-undo (the record does not match the block).
    """
    txids = _txids(transactions, txids)
    created: dict[OutPoint, Coin] = {}
    expected_spent: list[OutPoint] = []
    for index, tx in enumerate(transactions):
        for txin in tx.inputs:
            if txin.prevout in created:
                del created[txin.prevout]
            else:
                expected_spent.append(txin.prevout)
        txid = txids[index]
        for out_index, txout in enumerate(tx.outputs):
            created[OutPoint(txid=txid, index=out_index)] = Coin(
                amount=txout.amount, address=txout.address, height=height
            )
    recorded = [spent.outpoint for spent in undo.spent]
    if recorded != expected_spent:
        raise InvalidBlock(
            errors.REJECT_BAD_UNDO,
            f"undo record: expected {len(expected_spent)} spent coins matching the block's "
            f"inputs, got {len(recorded)} that differ",
        )
    created_elements = [encode_utxo_element(op, coin) for op, coin in created.items()]
    spent_elements = [encode_utxo_element(s.outpoint, s.coin) for s in undo.spent]
    utxo_state.remove_many(created_elements)
    utxo_state.insert_many(spent_elements)
    utxo_state.normalize()
    if utxo_state.to_bytes() != undo.utxo_state_before:
        # Put the state back as it was before raising.
        utxo_state.insert_many(created_elements)
        utxo_state.remove_many(spent_elements)
        utxo_state.normalize()
        raise InvalidBlock(
            errors.REJECT_BAD_UNDO,
            "undo record: the restored UTXO commitment differs from the recorded one",
        )
    return UtxoDelta(
        created={s.outpoint: s.coin for s in undo.spent},
        spent=list(created),
    )


def _txids(transactions: Sequence[Transaction], txids: Sequence[bytes] | None) -> Sequence[bytes]:
    if txids is None:
        return [compute_txid(tx) for tx in transactions]
    if len(txids) != len(transactions):
        raise AssertionError(f"{len(txids)} txids for {len(transactions)} transactions")
    return txids


def _check_block_shape(
    transactions: Sequence[Transaction], height: int, params: ChainParams, *, genesis: bool
) -> None:
    limit = params.sizes.max_block_transactions
    if len(transactions) > limit:
        raise InvalidBlock(
            errors.REJECT_TOO_MANY_TRANSACTIONS,
            f"transactions: expected at most {limit}, got {len(transactions)}",
        )
    if genesis:
        if height != 0:
            raise InvalidBlock(
                errors.REJECT_GENESIS_HEIGHT, f"genesis height: expected 0, got {height}"
            )
        return
    for index in range(1, len(transactions)):
        if transactions[index].is_coinbase:
            raise InvalidBlock(
                errors.REJECT_COINBASE_POSITION,
                f"transaction {index}: expected inputs (only the first may be a coinbase), "
                "got none",
            )


def _check_in_block(index: int, txid: bytes, check: Callable[[], object]) -> None:
    try:
        check()
    except InvalidTransaction as exc:
        raise InvalidBlock(
            exc.reject_code, f"transaction {index} ({txid.hex()}): {exc.message}"
        ) from exc


def _check_and_validate(
    tx: Transaction,
    txid: bytes,
    index: int,
    overlay: CachedUtxoView,
    params: ChainParams,
    height: int,
    sink: list[SignatureItem] | None,
    sig_cache: SignatureCache | None,
) -> int:
    try:
        size_bytes = compute_tx_size(tx)
        check_transaction(tx, params, size_bytes=size_bytes)
        for input_index, txin in enumerate(tx.inputs):
            if overlay.is_spent_here(txin.prevout):
                raise InvalidTransaction(
                    errors.REJECT_DOUBLE_SPEND,
                    f"input {input_index}: expected a coin not yet spent in this block, "
                    f"{txin.prevout.txid.hex()}:{txin.prevout.index} was",
                )
        return validate_transaction(
            tx, txid, overlay, params, height, sink, sig_cache=sig_cache, size_bytes=size_bytes
        )
    except InvalidTransaction as exc:
        raise InvalidBlock(
            exc.reject_code, f"transaction {index} ({txid.hex()}): {exc.message}"
        ) from exc


def _verify_sink(
    sink: list[SignatureItem],
    sink_ends: list[int],
    verify_batch: BatchVerify,
    transactions: Sequence[Transaction],
    txids: Sequence[bytes],
    params: ChainParams,
    sig_cache: SignatureCache | None,
) -> None:
    results = verify_batch(sink)
    if len(results) != len(sink):
        raise AssertionError(f"verifier returned {len(results)} results for {len(sink)}")
    for position, ok in enumerate(results):
        if ok:
            continue
        index = next(i for i, end in enumerate(sink_ends) if end > position)
        public_key, message, _ = sink[position]
        tx = transactions[index]
        for input_index in range(len(tx.inputs)):
            if message == compute_input_signing_message(params.chain_id, txids[index], input_index):
                raise InvalidBlock(
                    errors.REJECT_BAD_SIGNATURE,
                    f"transaction {index} ({txids[index].hex()}) input {input_index}: expected "
                    f"a valid signature by {public_key.hex()}, verification failed",
                )
        raise InvalidBlock(
            errors.REJECT_BAD_OWNER_SIGNATURE,
            f"transaction {index} ({txids[index].hex()}) owner signature: expected a valid "
            f"signature by {public_key.hex()}, verification failed",
        )
    if sig_cache is not None:
        for public_key, message, signature in sink:
            sig_cache.add(public_key, message, signature)


def _apply_transaction(
    overlay: CachedUtxoView, tx: Transaction, txid: bytes, height: int, index: int
) -> None:
    for txin in tx.inputs:
        if overlay.spend_coin(txin.prevout) is None:
            raise InvalidBlock(
                errors.REJECT_MISSING_INPUT,
                f"transaction {index} ({txid.hex()}): expected an unspent coin at "
                f"{txin.prevout.txid.hex()}:{txin.prevout.index}, found none",
            )
    for out_index, txout in enumerate(tx.outputs):
        outpoint = OutPoint(txid=txid, index=out_index)
        if overlay.is_created_here(outpoint) or overlay.is_spent_here(outpoint):
            raise InvalidBlock(
                errors.REJECT_DUPLICATE_TXID,
                f"transaction {index}: expected a new txid, {txid.hex()} repeats one "
                "earlier in the block",
            )
        overlay.add_coin(outpoint, Coin(amount=txout.amount, address=txout.address, height=height))


def _commit(overlay: CachedUtxoView, utxo_state: MuHash3072) -> tuple[BlockUndo, UtxoDelta]:
    before = utxo_state.to_bytes()
    spent: list[SpentCoin] = overlay.spent_coins()
    delta = overlay.delta()
    utxo_state.insert_many(encode_utxo_element(op, coin) for op, coin in delta.created.items())
    utxo_state.remove_many(encode_utxo_element(s.outpoint, s.coin) for s in spent)
    utxo_state.normalize()
    return BlockUndo(spent=spent, utxo_state_before=before), delta
