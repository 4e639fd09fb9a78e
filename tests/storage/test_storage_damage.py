"""A damaged store is refused with a typed error naming the damage, never
mapped or served: a truncated LMDB file (which would SIGBUS when read), a
header or block that does not match the hash it is stored under."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest
from storage_synth import BlockStep, SyntheticChain

from timecoin.encoding import decode, encode
from timecoin.storage import ChainStore, LmdbStore, StoreCorruptError, WriteBatch, schema
from timecoin.storage.lmdb_store import DATA_FILE, check_data_file
from timecoin.types import BlockHeader

SEED = 14
VALUE_BYTES = 200
ITEMS = 2_000


def fill_store(path: Path) -> int:
    """A closed LMDB store at `path` holding ITEMS values; return the file's size."""
    with LmdbStore(path, sync=False) as store:
        batch = WriteBatch()
        for index in range(ITEMS):
            batch.put(b"k%06d" % index, bytes([index % 256]) * VALUE_BYTES)
        store.write(batch)
    return os.path.getsize(path / DATA_FILE)


@pytest.mark.parametrize("cut", ["half", "8KiB"])
def test_a_truncated_data_file_is_refused_at_open(tmp_path: Path, cut: str) -> None:
    path = tmp_path / "chain"
    size = fill_store(path)
    assert size > 64 * 1024
    os.truncate(path / DATA_FILE, size // 2 if cut == "half" else 8 * 1024)
    with pytest.raises(StoreCorruptError, match=r"data\.mdb is truncated: .* resyncs"):
        LmdbStore(path)
    # the refusal released the path: a repaired store opens in this process
    os.truncate(path / DATA_FILE, 0)
    LmdbStore(path).close()


def test_a_data_file_without_meta_pages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    fill_store(path)
    os.truncate(path / DATA_FILE, 100)
    with pytest.raises(StoreCorruptError, match="no valid LMDB meta pages"):
        check_data_file(path)
    with (path / DATA_FILE).open("r+b") as stream:
        stream.write(b"\0" * 100)
        stream.truncate(1 << 20)
    with pytest.raises(StoreCorruptError, match="no valid LMDB meta pages"):
        check_data_file(path)


def test_a_whole_data_file_passes_the_check(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    check_data_file(path)  # absent: nothing to check
    fill_store(path)
    check_data_file(path)
    with LmdbStore(path) as store:
        assert store.get(b"k%06d" % (ITEMS - 1)) == bytes([(ITEMS - 1) % 256]) * VALUE_BYTES


# -- headers and blocks, checked against their hash when read ---------------------


def build_lmdb_chain(path: Path, blocks: int) -> list[BlockStep]:
    """A closed LMDB chain store at `path` holding `blocks` synthetic blocks."""
    with LmdbStore(path, sync=False) as kv:
        store = ChainStore(kv)
        steps = []
        chain = SyntheticChain(SEED, max_spends=5, max_creates=5)
        for _ in range(blocks):
            step = chain.next_block()
            if step.height == 0:
                store.init_genesis(
                    step.block, step.block_hash, step.undo, step.created, step.utxo_state
                )
            else:
                store.commit_block(
                    step.block,
                    step.block_hash,
                    step.undo,
                    step.created,
                    step.spent,
                    step.utxo_state,
                )
            steps.append(step)
    return steps


def flip_last_bit(kv: LmdbStore, key: bytes) -> None:
    """Flip the lowest bit of the last byte stored under `key`."""
    value = bytearray(kv.get(key) or b"")
    value[-1] ^= 1
    batch = WriteBatch()
    batch.put(key, bytes(value))
    kv.write(batch)


def test_a_header_with_a_flipped_bit_is_never_served(tmp_path: Path) -> None:
    steps = build_lmdb_chain(tmp_path / "chain", 6)
    damaged = steps[3].block_hash
    with LmdbStore(tmp_path / "chain") as kv:
        flip_last_bit(kv, schema.header_key(damaged))
        # still a valid encoding: only the hash tells
        decode(kv.get(schema.header_key(damaged)) or b"", BlockHeader, 1_024)
        store = ChainStore(kv)
        seen: list[StoreCorruptError] = []
        store.on_damage = seen.append
        with pytest.raises(StoreCorruptError, match=f"header {damaged.hex()} is damaged"):
            store.get_header(damaged)
        assert len(seen) == 1
        assert store.get_header(steps[2].block_hash) == steps[2].block.header
        with pytest.raises(StoreCorruptError, match=f"header {damaged.hex()}"):
            store.verify_blocks(6)
        assert store.verify_blocks(2) == 2  # the tip and its parent are whole


def test_a_block_whose_body_changed_is_never_served(tmp_path: Path) -> None:
    steps = build_lmdb_chain(tmp_path / "chain", 4)
    step = steps[2]
    tx = step.block.transactions[0]
    output = msgspec.structs.replace(tx.outputs[0], amount=tx.outputs[0].amount + 64)
    changed = msgspec.structs.replace(tx, outputs=[output, *tx.outputs[1:]])
    block = msgspec.structs.replace(
        step.block, transactions=[changed, *step.block.transactions[1:]]
    )
    with LmdbStore(tmp_path / "chain") as kv:
        batch = WriteBatch()
        batch.put(schema.block_key(step.block_hash), encode(block))
        kv.write(batch)
        store = ChainStore(kv)
        with pytest.raises(StoreCorruptError, match="body does not match the transaction roots"):
            store.get_block(step.block_hash)
        # a block whose header bit flipped no longer hashes to its key
        flip_last_bit(kv, schema.block_key(steps[1].block_hash))
        with pytest.raises(StoreCorruptError, match=f"block {steps[1].block_hash.hex()}"):
            store.get_block(steps[1].block_hash)
        assert store.get_block(steps[3].block_hash) == steps[3].block


def test_verify_blocks_checks_the_height_index_and_the_links(tmp_path: Path) -> None:
    steps = build_lmdb_chain(tmp_path / "chain", 5)
    with LmdbStore(tmp_path / "chain") as kv:
        store = ChainStore(kv)
        assert store.verify_blocks(100) == 5
        batch = WriteBatch()
        batch.put(schema.height_key(2), steps[1].block_hash)
        kv.write(batch)
        with pytest.raises(StoreCorruptError, match="height index 2 is damaged"):
            store.verify_blocks(100)
        assert store.verify_blocks(2) == 2
