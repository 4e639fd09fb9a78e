"""The key schema: prefixes, key builders and parsers, and the spec's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timecoin.storage import StoreCorruptError, schema
from timecoin.storage.kv import MAX_KEY_BYTES
from timecoin.types import OutPoint

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "storage.md"
H = bytes(range(32))


def test_prefixes_are_single_distinct_bytes() -> None:
    prefixes = [space.prefix for space in schema.KEY_SPACES]
    assert all(len(p) == 1 for p in prefixes)
    assert len(set(prefixes)) == len(prefixes)
    assert prefixes == sorted(prefixes)
    names = [space.name for space in schema.KEY_SPACES]
    assert len(set(names)) == len(names)


def test_spec_table_matches_the_schema() -> None:
    rows = re.findall(r"^\| `([a-z_]+)` \| `0x([0-9a-f]{2})` \|", SPEC.read_text(), re.MULTILINE)
    assert rows == [(space.name, space.prefix.hex()) for space in schema.KEY_SPACES]


def test_keys_have_their_prefix_and_length() -> None:
    op = OutPoint(txid=H, index=7)
    cases = [
        (schema.block_key(H), schema.BLOCK_PREFIX, 33),
        (schema.header_key(H), schema.HEADER_PREFIX, 33),
        (schema.height_key(5), schema.HEIGHT_PREFIX, 9),
        (schema.utxo_key(op), schema.UTXO_PREFIX, 37),
        (schema.undo_key(H), schema.UNDO_PREFIX, 33),
        (schema.masternode_key(H), schema.MASTERNODE_PREFIX, 33),
        (schema.consensus_wal_key(3), schema.CONSENSUS_WAL_PREFIX, 9),
        (schema.final_tx_key(3), schema.FINAL_TX_PREFIX, 9),
        (schema.final_txid_key(H), schema.FINAL_TXID_PREFIX, 33),
        (schema.peer_key(b"127.0.0.1:24100"), schema.PEER_PREFIX, 16),
        (schema.wallet_key(b"scan_height"), schema.WALLET_PREFIX, 12),
        (schema.meta_key(b"chain_id"), schema.META_PREFIX, 9),
    ]
    for key, prefix, length in cases:
        assert key[:1] == prefix
        assert len(key) == length <= MAX_KEY_BYTES
    assert schema.utxo_key(op) == schema.UTXO_PREFIX + H + b"\x00\x00\x00\x07"
    assert schema.meta_key(b"schema_version") == schema.META_SCHEMA_VERSION_KEY


@given(st.lists(st.integers(0, schema.MAX_U64), min_size=2, max_size=20))
def test_height_and_sequence_keys_sort_numerically(values: list[int]) -> None:
    for build in (schema.height_key, schema.consensus_wal_key, schema.final_tx_key):
        keys = [build(v) for v in values]
        assert sorted(keys) == [build(v) for v in sorted(values)]
    for v in values:
        assert schema.parse_sequence_key(schema.HEIGHT_PREFIX, schema.height_key(v)) == v


@given(st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 1))
def test_utxo_key_round_trip(txid: bytes, index: int) -> None:
    op = OutPoint(txid=txid, index=index)
    assert schema.parse_utxo_key(schema.utxo_key(op)) == op


@pytest.mark.parametrize(
    "build, arg",
    [
        (schema.block_key, H[:31]),
        (schema.header_key, H + b"\x00"),
        (schema.undo_key, b""),
        (schema.masternode_key, H[:1]),
        (schema.final_txid_key, H[:31]),
        (schema.height_key, -1),
        (schema.height_key, schema.MAX_U64 + 1),
        (schema.consensus_wal_key, -1),
        (schema.final_tx_key, 2**64),
        (schema.peer_key, b""),
        (schema.peer_key, b"x" * 65),
        (schema.wallet_key, b""),
        (schema.wallet_key, "é".encode()),
        (schema.meta_key, b"x" * 65),
    ],
)
def test_key_builders_reject_bad_arguments(build: object, arg: object) -> None:
    with pytest.raises(ValueError):
        build(arg)  # type: ignore[operator]
    with pytest.raises(ValueError):
        schema.utxo_key(OutPoint(txid=H[:31], index=0))


@pytest.mark.parametrize(
    "key",
    [
        b"",
        schema.UTXO_PREFIX + H,
        schema.BLOCK_PREFIX + H + b"\x00" * 4,
        schema.utxo_key(OutPoint(txid=H, index=1)) + b"\x00",
    ],
)
def test_parse_utxo_key_rejects_other_keys(key: bytes) -> None:
    with pytest.raises(StoreCorruptError):
        schema.parse_utxo_key(key)


def test_parse_sequence_key_rejects_other_keys() -> None:
    with pytest.raises(StoreCorruptError):
        schema.parse_sequence_key(schema.HEIGHT_PREFIX, schema.block_key(H))
    with pytest.raises(StoreCorruptError):
        schema.parse_sequence_key(schema.HEIGHT_PREFIX, schema.consensus_wal_key(1))
