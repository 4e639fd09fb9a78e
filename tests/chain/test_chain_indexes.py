"""Block indexes (tx, spent, address): written with each block's commit,
removed with its undo, rebuilt from the stored blocks, checked against a
model computed from the blocks themselves."""

from __future__ import annotations

import threading
from pathlib import Path

from chain_helpers import GENESIS, PARAMS
from chain_state_crash_chain import build_crash_chain

from timecoin.chain import AppliedBlock, chain_state_from_genesis
from timecoin.storage import ChainStore, KVStore, LmdbStore, MemoryStore, WriteBatch
from timecoin.storage.chainstate import commit_applied, init_genesis_state
from timecoin.storage.indexes import (
    FUNDING,
    INDEX_NAMES,
    SPENDING,
    build_indexes,
    catch_up_index,
    get_address_events,
    get_index_state,
    get_spender,
    get_tx_location,
    reset_indexes,
    stage_block_index_removal,
)
from timecoin.storage.schema import (
    ADDRESS_INDEX_PREFIX,
    INDEX_STATE_PREFIX,
    SPENT_INDEX_PREFIX,
    TX_INDEX_PREFIX,
)
from timecoin.types import Coin, OutPoint, compute_txid

ALL = frozenset(INDEX_NAMES)
INDEX_PREFIXES = (TX_INDEX_PREFIX, SPENT_INDEX_PREFIX, ADDRESS_INDEX_PREFIX, INDEX_STATE_PREFIX)


def _index_snapshot(kv: KVStore) -> dict[bytes, bytes]:
    return {k: v for prefix in INDEX_PREFIXES for k, v in kv.iter_prefix(prefix)}


def _commit_all(store: ChainStore, blocks: tuple[AppliedBlock, ...]) -> None:
    init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
    for applied in blocks:
        commit_applied(store, applied, sync=False)


def test_indexes_answer_for_every_transaction_input_and_address(tmp_path: Path) -> None:
    blocks = build_crash_chain()
    with LmdbStore(tmp_path) as kv:
        store = ChainStore(kv)
        store.indexes = ALL
        _commit_all(store, blocks)
        coins: dict[OutPoint, Coin] = dict(chain_state_from_genesis(GENESIS, PARAMS)[1].created)
        history: dict[bytes, list[tuple[int, int, int, int, bytes, int]]] = {}
        for applied in blocks:
            height = applied.block.header.height
            for position, tx in enumerate(applied.block.transactions):
                txid = compute_txid(tx)
                location = get_tx_location(kv, txid)
                assert location is not None
                assert (location.height, location.position) == (height, position)
                for input_index, tx_input in enumerate(tx.inputs):
                    spender = get_spender(kv, tx_input.prevout)
                    assert spender is not None
                    assert (spender.txid, spender.input_index, spender.height) == (
                        txid,
                        input_index,
                        height,
                    )
                    coin = coins.pop(tx_input.prevout)
                    history.setdefault(coin.address, []).append(
                        (height, position, SPENDING, input_index, txid, coin.amount)
                    )
                for index, output in enumerate(tx.outputs):
                    coins[OutPoint(txid, index)] = Coin(output.amount, output.address, height)
                    history.setdefault(output.address, []).append(
                        (height, position, FUNDING, index, txid, output.amount)
                    )
        assert history
        for address, expected in history.items():
            events = get_address_events(kv, address, start_height=1)
            got = [(e.height, e.position, e.kind, e.index, e.txid, e.amount) for e in events]
            # chain order; within one transaction its outputs, then its inputs
            assert got == sorted(expected)
        for name in INDEX_NAMES:
            state = get_index_state(kv, name, True)
            assert (state.height, state.block_hash) == (len(blocks), blocks[-1].block_hash)


def test_removing_a_block_restores_the_indexes_before_it() -> None:
    blocks = build_crash_chain()
    store = ChainStore(MemoryStore())
    store.indexes = ALL
    _commit_all(store, blocks[:-1])
    before = _index_snapshot(store.kv)
    commit_applied(store, blocks[-1])
    assert _index_snapshot(store.kv) != before
    batch = WriteBatch()
    stage_block_index_removal(batch, ALL, blocks[-1].block, blocks[-1].undo.spent)
    store.kv.write(batch)
    assert _index_snapshot(store.kv) == before


def test_indexes_built_later_equal_those_written_with_the_blocks() -> None:
    blocks = build_crash_chain()
    written = ChainStore(MemoryStore())
    written.indexes = ALL
    _commit_all(written, blocks)
    later = ChainStore(MemoryStore())
    _commit_all(later, blocks)
    assert _index_snapshot(later.kv) == {}
    build_indexes(later, ALL)
    assert _index_snapshot(later.kv) == _index_snapshot(written.kv)


def test_reset_indexes_then_build_gives_the_same_indexes() -> None:
    blocks = build_crash_chain()
    store = ChainStore(MemoryStore())
    store.indexes = ALL
    _commit_all(store, blocks)
    written = _index_snapshot(store.kv)
    reset_indexes(store.kv)
    assert _index_snapshot(store.kv) == {}
    build_indexes(store, ALL)
    assert _index_snapshot(store.kv) == written


def test_an_index_built_while_blocks_commit_holds_every_block() -> None:
    blocks = build_crash_chain()
    reference = ChainStore(MemoryStore())
    reference.indexes = ALL
    _commit_all(reference, blocks)
    store = ChainStore(MemoryStore())
    _commit_all(store, blocks[:20])
    builders = [threading.Thread(target=catch_up_index, args=(store, name)) for name in INDEX_NAMES]
    for builder in builders:
        builder.start()
    for applied in blocks[20:]:
        commit_applied(store, applied)
    for builder in builders:
        builder.join(timeout=60)
    assert store.indexes == ALL
    assert _index_snapshot(store.kv) == _index_snapshot(reference.kv)
