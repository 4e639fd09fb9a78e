"""Round trips of every consensus type, and the identifiers derived from encodings."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from encoding_strategies import CONSENSUS_TYPES, MAX_BYTES, STRATEGIES, blocks, transactions
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin.crypto import sha256
from timecoin.encoding import decode, encode
from timecoin.types import (
    Block,
    Transaction,
    compute_block_hash,
    compute_txid,
    compute_witness_hash,
    encode_tx_body,
)


@pytest.mark.parametrize("type_", CONSENSUS_TYPES, ids=lambda t: t.__name__)
def test_round_trip(type_: type[Any]) -> None:
    @settings(max_examples=60)
    @given(STRATEGIES[type_])
    def check(obj: Any) -> None:
        data = encode(obj)
        decoded = decode(data, type_, MAX_BYTES)
        assert decoded == obj
        assert encode(decoded) == data
        assert decode(data, type_, len(data)) == obj  # the cap is inclusive

    check()


@pytest.mark.parametrize("type_", CONSENSUS_TYPES, ids=lambda t: t.__name__)
def test_encoding_is_an_array_of_the_fields_in_order(type_: type[Any]) -> None:
    @settings(max_examples=20)
    @given(STRATEGIES[type_])
    def check(obj: Any) -> None:
        generic = msgspec.msgpack.decode(encode(obj))
        fields = [getattr(obj, name) for name in obj.__struct_fields__]
        tag = obj.__struct_config__.tag
        assert isinstance(generic, list)
        assert len(generic) == len(fields) + (tag is not None)
        if tag is not None:
            assert generic[0] == tag

    check()


@given(transactions, st.lists(st.binary(min_size=64, max_size=64), max_size=3))
def test_txid_excludes_witness(tx: Transaction, signatures: list[bytes]) -> None:
    other = msgspec.structs.replace(tx, signatures=signatures, owner_signature=None)
    assert compute_txid(other) == compute_txid(tx)
    assert compute_txid(tx) == sha256(encode_tx_body(tx))
    assert compute_witness_hash(tx) == sha256(encode(tx))
    # The body is the transaction's array without its last two fields.
    body = msgspec.msgpack.decode(encode_tx_body(tx))
    assert body == msgspec.msgpack.decode(encode(tx))[:5]


@settings(max_examples=30)
@given(blocks)
def test_block_hash_is_header_hash(block: Block) -> None:
    assert compute_block_hash(block.header) == sha256(encode(block.header))
