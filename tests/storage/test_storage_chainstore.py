"""ChainStore: schema version, atomic block commits and reverts, refused
writes that leave the store unchanged, and corrupt bytes reported as such."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from storage_synth import BlockStep, SyntheticChain

from timecoin.encoding import encode, u32be, u64be
from timecoin.ledger import CachedUtxoView, UtxoView
from timecoin.params import MINIMAL
from timecoin.storage import (
    ChainStore,
    ChainTip,
    KVStore,
    LmdbStore,
    MemoryStore,
    StorageError,
    StoreCorruptError,
    WriteBatch,
    schema,
)
from timecoin.storage.chainstore import compute_coin_check
from timecoin.types import BlockUndo, Coin, OutPoint, SpentCoin

SEED = 20_240_601


@pytest.fixture(params=["memory", "lmdb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    store: KVStore = (
        MemoryStore() if request.param == "memory" else LmdbStore(tmp_path / "kv", sync=False)
    )
    yield store
    store.close()


def raw_put(kv: KVStore, key: bytes, value: bytes) -> None:
    batch = WriteBatch()
    batch.put(key, value)
    kv.write(batch)


def contents(kv: KVStore) -> dict[bytes, bytes]:
    return dict(kv.iter_prefix(b""))


def commit(store: ChainStore, step: BlockStep) -> None:
    if step.height == 0:
        store.init_genesis(step.block, step.block_hash, step.undo, step.created, step.utxo_state)
    else:
        store.commit_block(
            step.block, step.block_hash, step.undo, step.created, step.spent, step.utxo_state
        )


def build_chain(store: ChainStore, blocks: int) -> tuple[SyntheticChain, list[BlockStep]]:
    chain = SyntheticChain(SEED, max_spends=5, max_creates=5)
    steps = []
    for _ in range(blocks):
        step = chain.next_block()
        commit(store, step)
        steps.append(step)
    return chain, steps


# -- schema version -----------------------------------------------------------------


def test_a_new_store_records_the_schema_version(kv: KVStore) -> None:
    ChainStore(kv)
    assert kv.get(schema.META_SCHEMA_VERSION_KEY) == u32be(schema.SCHEMA_VERSION)
    assert contents(kv) == {schema.META_SCHEMA_VERSION_KEY: u32be(schema.SCHEMA_VERSION)}
    ChainStore(kv)  # reopening checks and passes


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "db") as kv:
        ChainStore(kv)
        raw_put(kv, schema.META_SCHEMA_VERSION_KEY, u32be(schema.SCHEMA_VERSION + 1))
    with (
        LmdbStore(tmp_path / "db") as kv,
        pytest.raises(
            StorageError,
            match=f"schema version {schema.SCHEMA_VERSION + 1}, written by a newer node; "
            f"this node reads versions up to {schema.SCHEMA_VERSION}",
        ),
    ):
        ChainStore(kv)


def test_a_store_with_data_but_no_schema_version_is_refused(kv: KVStore) -> None:
    raw_put(kv, b"something else", b"v")
    with pytest.raises(StorageError, match="no schema version"):
        ChainStore(kv)


def test_an_undecodable_schema_version_is_corruption(kv: KVStore) -> None:
    raw_put(kv, schema.META_SCHEMA_VERSION_KEY, b"\x01")
    with pytest.raises(StoreCorruptError):
        ChainStore(kv)


# -- commits and reads ----------------------------------------------------------------


def test_empty_chain_store(kv: KVStore) -> None:
    store = ChainStore(kv)
    assert store.get_tip() is None
    assert store.get_utxo_state() is None
    assert store.utxo_count() == 0
    assert list(store.iter_utxos()) == []
    assert store.get_chain_id() is None
    assert store.get_genesis_hash() is None
    assert store.get_block_hash(0) is None
    assert store.get_block(bytes(32)) is None
    assert store.get_header(bytes(32)) is None
    assert store.get_undo(bytes(32)) is None
    assert store.get_coin(OutPoint(txid=bytes(32), index=0)) is None


def test_committed_blocks_read_back(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain, steps = build_chain(store, 8)
    assert store.get_tip() == ChainTip(7, chain.tip_hash)
    assert store.get_chain_id() == MINIMAL.chain_id
    assert store.get_genesis_hash() == steps[0].block_hash
    for step in steps:
        assert store.get_block_hash(step.height) == step.block_hash
        assert store.get_block(step.block_hash) == step.block
        assert store.get_header(step.block_hash) == step.block.header
        assert store.get_undo(step.block_hash) == step.undo
        assert kv.get(schema.block_key(step.block_hash)) == encode(step.block)
    assert store.get_block_hash(8) is None
    assert store.get_utxo_state() == chain.utxo_state
    assert dict(store.iter_utxos()) == chain.coins
    assert [op for op, _ in store.iter_utxos()] == sorted(
        chain.coins, key=lambda op: (op.txid, op.index)
    )
    assert store.utxo_count() == len(chain.coins)
    for outpoint, coin in chain.coins.items():
        assert store.get_coin(outpoint) == coin
    for step in steps[1:]:
        for outpoint in step.spent:
            assert store.get_coin(outpoint) is None


def test_chain_store_is_a_ledger_utxo_view(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain, _ = build_chain(store, 2)
    view: UtxoView = store
    overlay = CachedUtxoView(view)
    outpoint, coin = next(iter(chain.coins.items()))
    assert overlay.spend_coin(outpoint) == coin
    assert overlay.get_coin(outpoint) is None
    assert store.get_coin(outpoint) == coin


def test_a_chain_survives_reopening(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "db") as kv:
        chain, _ = build_chain(ChainStore(kv), 5)
    with LmdbStore(tmp_path / "db") as kv:
        store = ChainStore(kv)
        assert store.get_tip() == ChainTip(4, chain.tip_hash)
        assert dict(store.iter_utxos()) == chain.coins


# -- refused writes change nothing --------------------------------------------------------


def refused(kv: KVStore, action: Callable[[], object], match: str) -> None:
    before = contents(kv)
    with pytest.raises(StorageError, match=match):
        action()
    assert contents(kv) == before


def test_genesis_refusals(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain = SyntheticChain(SEED)
    genesis = chain.next_block()
    block1 = chain.next_block()
    refused(
        kv,
        lambda: store.commit_block(
            block1.block, block1.block_hash, block1.undo, {}, [], block1.utxo_state
        ),
        "init_genesis first",
    )
    refused(
        kv,
        lambda: store.init_genesis(
            block1.block, block1.block_hash, genesis.undo, {}, block1.utxo_state
        ),
        "not 0",
    )
    spending_undo = BlockUndo(
        spent=[
            SpentCoin(
                outpoint=OutPoint(txid=bytes(32), index=0),
                coin=next(iter(genesis.created.values())),
            )
        ],
        utxo_state_before=genesis.undo.utxo_state_before,
    )
    refused(
        kv,
        lambda: store.init_genesis(
            genesis.block, genesis.block_hash, spending_undo, {}, genesis.utxo_state
        ),
        "undo spends 1 coins",
    )
    refused(
        kv,
        lambda: store.init_genesis(genesis.block, genesis.block_hash, genesis.undo, {}, b"short"),
        "utxo state: 5 bytes",
    )
    commit(store, genesis)
    refused(kv, lambda: commit(store, genesis), "already holds a chain")


def test_commit_must_extend_the_tip(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain, _ = build_chain(store, 3)
    block3 = chain.next_block()
    block4 = chain.next_block()
    refused(kv, lambda: commit(store, block4), "does not extend tip 2")
    wrong_parent = msgspec.structs.replace(
        block3.block,
        header=msgspec.structs.replace(block3.block.header, prev_hash=bytes(32)),
    )
    refused(
        kv,
        lambda: store.commit_block(
            wrong_parent, block3.block_hash, block3.undo, {}, [], block3.utxo_state
        ),
        "does not extend",
    )
    commit(store, block3)
    commit(store, block4)


def test_commit_refuses_coin_changes_that_do_not_fit(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain, _ = build_chain(store, 2)
    step = chain.next_block()
    existing = next(iter(c for c in chain.coins if c not in step.created))
    absent = OutPoint(txid=b"\xee" * 32, index=0)
    coin = Coin(amount=1, address=bytes(20), height=2)

    def attempt(created: dict[OutPoint, Coin], spent: list[OutPoint], state: bytes) -> None:
        store.commit_block(step.block, step.block_hash, step.undo, created, spent, state)

    refused(kv, lambda: attempt({}, [absent], step.utxo_state), "spends absent coin")
    refused(kv, lambda: attempt({existing: coin}, [], step.utxo_state), "already exists")
    refused(kv, lambda: attempt({existing: coin}, [existing], step.utxo_state), "both created")
    refused(kv, lambda: attempt({}, [existing, existing], step.utxo_state), "spent twice")
    refused(kv, lambda: attempt({}, [], step.utxo_state[:-1]), "utxo state: 383 bytes")
    with pytest.raises(ValueError):
        store.commit_block(step.block, step.block_hash[:31], step.undo, {}, [], step.utxo_state)
    commit(store, step)
    assert store.get_tip() == ChainTip(2, step.block_hash)


# -- reverting the tip ----------------------------------------------------------------------


def revert(store: ChainStore, step: BlockStep) -> ChainTip:
    undo = store.get_undo(step.block_hash)
    assert undo is not None
    restored = {spent.outpoint: spent.coin for spent in undo.spent}
    return store.revert_tip(step.block_hash, restored, list(step.created), undo.utxo_state_before)


def test_revert_tip_restores_each_previous_state(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain = SyntheticChain(SEED, max_spends=5, max_creates=5)
    steps: list[BlockStep] = []
    snapshots: list[dict[bytes, bytes]] = []
    for _ in range(6):
        steps.append(chain.next_block())
        commit(store, steps[-1])
        snapshots.append(dict(kv.iter_prefix(schema.UTXO_PREFIX)))
    states = [store.get_utxo_state()]
    for height in range(5, 0, -1):
        step = steps[height]
        new_tip = revert(store, step)
        assert new_tip == ChainTip(height - 1, steps[height - 1].block_hash)
        assert store.get_tip() == new_tip
        assert dict(kv.iter_prefix(schema.UTXO_PREFIX)) == snapshots[height - 1]
        assert store.utxo_count() == len(snapshots[height - 1])
        assert store.get_utxo_state() == steps[height - 1].utxo_state
        assert store.get_block_hash(height) is None
        assert store.get_undo(step.block_hash) is None
        assert store.get_block(step.block_hash) == step.block  # kept, by hash
        states.append(store.get_utxo_state())
    # The chain can be extended again from genesis.
    for step in steps[1:]:
        commit(store, step)
    assert dict(kv.iter_prefix(schema.UTXO_PREFIX)) == snapshots[-1]


def test_revert_refusals(kv: KVStore) -> None:
    store = ChainStore(kv)
    _, steps = build_chain(store, 3)
    tip_step = steps[-1]
    undo = tip_step.undo
    restored = {spent.outpoint: spent.coin for spent in undo.spent}
    removed = list(tip_step.created)
    state = undo.utxo_state_before
    refused(
        kv,
        lambda: store.revert_tip(steps[1].block_hash, {}, [], state),
        "is not the tip",
    )
    absent = OutPoint(txid=b"\xee" * 32, index=0)
    refused(
        kv,
        lambda: store.revert_tip(tip_step.block_hash, restored, [*removed, absent], state),
        "spends absent coin",
    )
    if restored:
        present = {removed[0]: next(iter(restored.values()))}
        refused(
            kv,
            lambda: store.revert_tip(tip_step.block_hash, {**restored, **present}, removed, state),
            "both created",
        )
    refused(
        kv,
        lambda: store.revert_tip(tip_step.block_hash, restored, removed, state[:10]),
        "utxo state",
    )
    revert(store, steps[2])
    revert(store, steps[1])
    refused(
        kv,
        lambda: store.revert_tip(steps[0].block_hash, {}, list(steps[0].created), state),
        "genesis",
    )


# -- corruption ----------------------------------------------------------------------------


def test_corrupt_values_raise_store_corrupt_error(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain, steps = build_chain(store, 3)
    h = chain.tip_hash
    outpoint = next(iter(chain.coins))
    coin_bytes = encode(chain.coins[outpoint])
    cases: list[tuple[bytes, bytes, Callable[[], object]]] = [
        (schema.utxo_key(outpoint), b"\xc1", lambda: store.get_coin(outpoint)),
        (schema.utxo_key(outpoint), coin_bytes + b"\x00", lambda: store.get_coin(outpoint)),
        (schema.utxo_key(outpoint), b"\x93" + b"\x00" * 200, lambda: store.get_coin(outpoint)),
        (schema.utxo_key(outpoint), b"\xc1", lambda: list(store.iter_utxos())),
        (schema.UTXO_PREFIX + b"short", coin_bytes, lambda: list(store.iter_utxos())),
        (schema.block_key(h), encode(steps[0].block.header), lambda: store.get_block(h)),
        (schema.header_key(h), b"", lambda: store.get_header(h)),
        (schema.undo_key(h), encode(steps[0].block), lambda: store.get_undo(h)),
        (schema.height_key(1), b"\x00" * 31, lambda: store.get_block_hash(1)),
        (schema.TIP_KEY, u64be(2) + h[:31], store.get_tip),
        (schema.UTXO_STATE_KEY, b"\x00" * 383, store.get_utxo_state),
        (schema.UTXO_COUNT_KEY, b"\x00" * 4, store.utxo_count),
        (schema.META_CHAIN_ID_KEY, b"\x00" * 8, store.get_chain_id),
        (schema.META_GENESIS_HASH_KEY, b"\x00", store.get_genesis_hash),
    ]
    for key, bad_value, read in cases:
        good_value = kv.get(key)
        raw_put(kv, key, bad_value)
        with pytest.raises(StoreCorruptError):
            read()
        batch = WriteBatch()
        if good_value is None:
            batch.delete(key)
        else:
            batch.put(key, good_value)
        kv.write(batch)
    assert dict(store.iter_utxos()) == chain.coins


def test_non_minimal_integer_encoding_is_corruption(kv: KVStore) -> None:
    store = ChainStore(kv)
    outpoint = OutPoint(txid=b"\x01" * 32, index=0)
    # [amount=1 as uint64 (non-minimal), address, height=0], its check value right
    key = schema.utxo_key(outpoint)
    encoded = b"\x93\xcf" + (1).to_bytes(8, "big") + b"\xc4\x14" + bytes(20) + b"\x00"
    raw_put(kv, key, encoded + compute_coin_check(key, encoded))
    with pytest.raises(StoreCorruptError, match="non-canonical"):
        store.get_coin(outpoint)


def test_reported_locks_are_written_and_reverted_with_the_block(kv: KVStore) -> None:
    store = ChainStore(kv)
    chain, _ = build_chain(store, 1)
    step = chain.next_block()
    locked = OutPoint(txid=b"\x01" * 32, index=0)
    nobody = OutPoint(txid=b"\x02" * 32, index=3)
    store.commit_block(
        step.block,
        step.block_hash,
        step.undo,
        step.created,
        step.spent,
        step.utxo_state,
        locks_created={locked: b"\x09" * 32, nobody: None},
    )
    assert store.get_reported_lock(locked) == (True, b"\x09" * 32)
    assert store.get_reported_lock(nobody) == (True, None)
    assert dict(store.iter_reported_locks()) == {locked: b"\x09" * 32, nobody: None}
    store.revert_tip(
        step.block_hash,
        {s.outpoint: s.coin for s in step.undo.spent},
        list(step.created),
        step.undo.utxo_state_before,
        locks_removed=[locked, nobody],
    )
    assert store.get_reported_lock(locked) == (False, None)
    assert list(store.iter_reported_locks()) == []
    raw_put(kv, schema.reported_lock_key(locked), b"\x00" * 5)
    with pytest.raises(StoreCorruptError):
        store.get_reported_lock(locked)


def test_one_transaction_of_a_stored_block_reads_alone(kv: KVStore) -> None:
    store = ChainStore(kv)
    _, steps = build_chain(store, 3)
    for step in steps:
        for position, tx in enumerate(step.block.transactions):
            assert store.get_block_transaction(step.block_hash, position) == tx
        assert store.get_block_transaction(step.block_hash, len(step.block.transactions)) is None
    assert store.get_block_transaction(bytes(32), 0) is None
