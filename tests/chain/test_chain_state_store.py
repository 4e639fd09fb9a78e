"""The chain state stored with each block (ADR 0010): read back without a
replay, refused when it disagrees with the tip; coin records checked at
every read; stores of schemas 3 and 4 migrated in place."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    GENESIS,
    PARAMS,
    Node,
    address_of,
    allocation,
    make_tx,
    transfer,
)

from timecoin.chain import chain_state_from_genesis
from timecoin.encoding import decode, encode, u32be
from timecoin.masternode import MasternodeEntry
from timecoin.params import COIN
from timecoin.storage import (
    SCHEMA_VERSION,
    ChainStore,
    LmdbStore,
    MemoryStore,
    StorageError,
    WriteBatch,
)
from timecoin.storage.chainstate import (
    VERIFY_ATTEMPTS,
    VERIFY_CHUNK_COINS,
    ChainStateError,
    commit_applied,
    init_genesis_state,
    read_chain_state,
    verify_utxo_set,
)
from timecoin.storage.chainstore import COIN_CHECK_BYTES, DamagedRecordError, encode_coin_record
from timecoin.storage.migrate import MIGRATION_CURSOR_KEY, migrate_store
from timecoin.storage.schema import (
    CHAIN_STATE_KEY,
    MASTERNODE_PREFIX,
    META_SCHEMA_VERSION_KEY,
    UTXO_PREFIX,
    UTXO_STATE_KEY,
    VOTING_SET_PREFIX,
    parse_utxo_key,
)
from timecoin.types import Coin

BLOCKS = 6


def _build_store(path: Path) -> Node:
    """An LMDB store at `path` with genesis and BLOCKS blocks; the node that built them."""
    node = Node.from_genesis()
    with LmdbStore(path) as kv:
        store = ChainStore(kv)
        init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
        for height in range(BLOCKS):
            txs = (
                [transfer(allocation(height), ALLOCATION_AMOUNT, ALICE, BOB)] if height < 3 else []
            )
            applied = node.build(txs)
            commit_applied(store, applied)
            node.accept(applied)
    return node


def _edit(path: Path, puts: dict[bytes, bytes], deletes: tuple[bytes, ...] = ()) -> None:
    with LmdbStore(path) as kv:
        batch = WriteBatch()
        for key, value in puts.items():
            batch.put(key, value)
        for key in deletes:
            batch.delete(key)
        kv.write(batch)


def test_state_reads_back_as_the_builders(tmp_path: Path) -> None:
    node = _build_store(tmp_path)
    with LmdbStore(tmp_path) as kv:
        state = read_chain_state(ChainStore(kv), PARAMS)
    assert state.height == BLOCKS and state.block_hash == node.state.block_hash
    assert state.registry == node.state.registry
    assert state.header == node.state.header
    assert state.utxo_state.digest() == node.state.utxo_state.digest()


def test_a_changed_registry_entry_is_refused(tmp_path: Path) -> None:
    _build_store(tmp_path)
    with LmdbStore(tmp_path) as kv:
        key, value = next(iter(kv.iter_prefix(MASTERNODE_PREFIX)))
    entry = decode(value, MasternodeEntry, 1_024)
    changed = msgspec.structs.replace(entry, network_address=b"10.0.0.1:1")
    _edit(tmp_path, {key: encode(changed)})
    with LmdbStore(tmp_path) as kv, pytest.raises(ChainStateError, match="--reindex-chainstate"):
        read_chain_state(ChainStore(kv), PARAMS)


def test_a_missing_voting_set_or_head_is_refused(tmp_path: Path) -> None:
    _build_store(tmp_path)
    with LmdbStore(tmp_path) as kv:
        voting_set_keys = tuple(key for key, _ in kv.iter_prefix(VOTING_SET_PREFIX))
    _edit(tmp_path, {}, voting_set_keys)
    with LmdbStore(tmp_path) as kv, pytest.raises(ChainStateError, match="no voting set"):
        read_chain_state(ChainStore(kv), PARAMS)
    _edit(tmp_path, {}, (CHAIN_STATE_KEY,))
    with LmdbStore(tmp_path) as kv, pytest.raises(ChainStateError, match="no chain state"):
        read_chain_state(ChainStore(kv), PARAMS)


def test_a_utxo_state_off_the_tip_commitment_is_refused(tmp_path: Path) -> None:
    node = _build_store(tmp_path)
    _edit(tmp_path, {UTXO_STATE_KEY: node.applied[0].state_after.utxo_state.to_bytes()})
    with LmdbStore(tmp_path) as kv, pytest.raises(ChainStateError, match="UTXO state"):
        read_chain_state(ChainStore(kv), PARAMS)


def _strip_coin_checks(path: Path) -> dict[bytes, bytes]:
    """Rewrite the coin records as schema 4 stored them (no check value)."""
    with LmdbStore(path) as kv:
        stripped = {key: value[:-COIN_CHECK_BYTES] for key, value in kv.iter_prefix(UTXO_PREFIX)}
    _edit(path, stripped)
    return stripped


def test_a_changed_coin_is_never_served(tmp_path: Path) -> None:
    _build_store(tmp_path)
    with LmdbStore(tmp_path) as kv:
        key, value = next(iter(kv.iter_prefix(UTXO_PREFIX)))
    # another amount (off by 64 units), the encoding still valid
    assert value[1] == 0xCF
    _edit(tmp_path, {key: value[:9] + bytes([value[9] ^ 0x40]) + value[10:]})
    outpoint = parse_utxo_key(key)
    damaged: list[DamagedRecordError] = []
    with LmdbStore(tmp_path) as kv:
        store = ChainStore(kv)
        store.on_damage = damaged.append
        with pytest.raises(DamagedRecordError, match=f"{outpoint.txid.hex()}:{outpoint.index}"):
            store.get_coin(outpoint)
        with pytest.raises(DamagedRecordError, match="--reindex-chainstate"):
            list(store.iter_utxos())
    assert [error.key for error in damaged] == [key, key]


def test_a_schema_4_store_gains_coin_checks_resuming_after_a_crash(tmp_path: Path) -> None:
    node = _build_store(tmp_path)
    with LmdbStore(tmp_path) as kv:
        checked = dict(kv.iter_prefix(UTXO_PREFIX))
    stripped = _strip_coin_checks(tmp_path)
    first = min(stripped)
    # a migration killed after its first batch: the cursor names its last key
    _edit(
        tmp_path,
        {META_SCHEMA_VERSION_KEY: u32be(4), MIGRATION_CURSOR_KEY: first, first: checked[first]},
    )
    with LmdbStore(tmp_path) as kv:
        store = ChainStore(kv)
        assert store.stored_schema_version == 4
        assert migrate_store(store, GENESIS, PARAMS).block_hash == node.state.block_hash
        assert dict(kv.iter_prefix(UTXO_PREFIX)) == checked
        assert kv.get(MIGRATION_CURSOR_KEY) is None
        assert store.stored_schema_version == SCHEMA_VERSION
        assert dict(store.iter_utxos()) == node.view.coins


def test_a_schema_3_store_is_migrated_in_place(tmp_path: Path) -> None:
    node = _build_store(tmp_path)
    with LmdbStore(tmp_path) as kv:
        registry_keys = [key for key, _ in kv.iter_prefix(MASTERNODE_PREFIX)]
        registry_keys += [key for key, _ in kv.iter_prefix(VOTING_SET_PREFIX)]
    _strip_coin_checks(tmp_path)
    _edit(tmp_path, {META_SCHEMA_VERSION_KEY: u32be(3)}, (CHAIN_STATE_KEY, *registry_keys))
    with LmdbStore(tmp_path) as kv:
        store = ChainStore(kv)
        assert store.stored_schema_version == 3
        with pytest.raises(StorageError, match="migrated"):
            commit_applied(store, node.applied[-1])
        state = migrate_store(store, GENESIS, PARAMS)
        assert state.registry == node.state.registry
    with LmdbStore(tmp_path) as kv:
        store = ChainStore(kv)
        assert store.stored_schema_version == SCHEMA_VERSION
        assert read_chain_state(store, PARAMS).registry == node.state.registry
        assert dict(store.iter_utxos()) == node.view.coins


@pytest.mark.parametrize(("version", "match"), [(SCHEMA_VERSION + 1, "newer"), (2, "resync")])
def test_newer_and_unmigratable_stores_are_refused(
    tmp_path: Path, version: int, match: str
) -> None:
    _build_store(tmp_path)
    _edit(tmp_path, {META_SCHEMA_VERSION_KEY: u32be(version)})
    with LmdbStore(tmp_path) as kv, pytest.raises(StorageError, match=match):
        ChainStore(kv)


def test_the_set_check_catches_a_deleted_or_forged_coin(tmp_path: Path) -> None:
    _build_store(tmp_path)
    with LmdbStore(tmp_path) as kv:
        assert verify_utxo_set(ChainStore(kv))
        records = list(kv.iter_prefix(UTXO_PREFIX))
    key, value = records[0]
    # a forger who recomputes the check value: the record reads fine alone
    coin = decode(value[:-COIN_CHECK_BYTES], Coin, 128)
    forged = encode_coin_record(key, msgspec.structs.replace(coin, amount=coin.amount + 64))
    _edit(tmp_path, {key: forged})
    with LmdbStore(tmp_path) as kv:
        store = ChainStore(kv)
        assert store.get_coin(parse_utxo_key(key)) is not None
        with pytest.raises(DamagedRecordError, match="do not add up"):
            verify_utxo_set(store)
    _edit(tmp_path, {}, (key,))  # and one deleted
    with LmdbStore(tmp_path) as kv, pytest.raises(DamagedRecordError, match="count says"):
        verify_utxo_set(ChainStore(kv))


def test_the_set_check_completes_while_blocks_commit() -> None:
    node = Node.from_genesis()
    store = ChainStore(MemoryStore())
    init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
    fee = 100_000
    change = ALLOCATION_AMOUNT - 999 * COIN - fee
    fan_out = [
        make_tx(
            [(allocation(i), ALICE)],
            [(COIN, address_of(BOB))] * 999 + [(change, address_of(ALICE))],
        )
        for i in range(3)
    ]
    applied = node.build(fan_out)
    commit_applied(store, applied)
    node.accept(applied)
    assert store.utxo_count() > 3 * VERIFY_CHUNK_COINS // 2
    commits = 0

    def pause() -> bool:  # a block commits during every unlocked pass
        nonlocal commits
        block = node.build([])
        commit_applied(store, block)
        node.accept(block)
        commits += 1
        return False

    assert verify_utxo_set(store, pause)
    assert commits >= VERIFY_ATTEMPTS
