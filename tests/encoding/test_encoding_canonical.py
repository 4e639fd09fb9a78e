"""The canonical-form rules: one byte string per object, limits before allocation."""

from __future__ import annotations

import msgspec
import pytest

from timecoin.encoding import (
    REJECT_MALFORMED,
    REJECT_NON_CANONICAL,
    REJECT_OVERSIZED,
    DecodeError,
    decode,
    encode,
    read_u64be,
    u32be,
    u64be,
)
from timecoin.params import MAX_MONEY
from timecoin.types import (
    TX_VERSION,
    Coin,
    OutPoint,
    Proposal,
    Transaction,
    TxInput,
    TxOutput,
)
from timecoin.types.primitives import MAX_LIST_INPUTS, MAX_LIST_OUTPUTS

ADDR = b"\x01" * 20
COIN = Coin(amount=5, address=ADDR, height=7)
COIN_BYTES = bytes([0x93, 0x05, 0xC4, 0x14]) + ADDR + bytes([0x07])
LIMIT = 1_000_000


def reject(data: bytes, type_: type[object], max_bytes: int = LIMIT) -> str:
    with pytest.raises(DecodeError) as info:
        decode(data, type_, max_bytes)
    return info.value.reject_code


def empty_tx(**changes: object) -> Transaction:
    tx = Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=[],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    return msgspec.structs.replace(tx, **changes)


def test_known_bytes() -> None:
    assert encode(COIN) == COIN_BYTES
    assert decode(COIN_BYTES, Coin, LIMIT) == COIN
    assert encode(empty_tx()) == bytes([0x97, 0x01, 0x90, 0x90, 0x00, 0xC0, 0x90, 0xC0])


@pytest.mark.parametrize(
    "amount_form",
    [
        bytes([0xCC, 0x05]),  # uint8
        bytes([0xCD, 0x00, 0x05]),  # uint16
        bytes([0xCE, 0, 0, 0, 0x05]),  # uint32
        bytes([0xCF, 0, 0, 0, 0, 0, 0, 0, 0x05]),  # uint64
        bytes([0xD0, 0x05]),  # int8
        bytes([0xD3, 0, 0, 0, 0, 0, 0, 0, 0x05]),  # int64
    ],
)
def test_rule_non_minimal_int_rejected(amount_form: bytes) -> None:
    data = bytes([0x93]) + amount_form + COIN_BYTES[2:]
    assert reject(data, Coin) == REJECT_NON_CANONICAL


def test_rule_non_minimal_negative_int_rejected() -> None:
    proposal = Proposal(
        height=1,
        round=0,
        pol_round=-1,
        block_hash=bytes(32),
        timestamp_ms=0,
        proposer=bytes(32),
        signature=bytes(64),
    )
    data = encode(proposal)
    assert data[3] == 0xFF  # -1 as a negative fixint
    assert reject(data[:3] + bytes([0xD0, 0xFF]) + data[4:], Proposal) == REJECT_NON_CANONICAL


@pytest.mark.parametrize(
    "header", [bytes([0xDC, 0x00, 0x03]), bytes([0xDD, 0x00, 0x00, 0x00, 0x03])]
)
def test_rule_non_minimal_array_header_rejected(header: bytes) -> None:
    assert reject(header + COIN_BYTES[1:], Coin) == REJECT_NON_CANONICAL


@pytest.mark.parametrize(
    "header", [bytes([0xC5, 0x00, 0x14]), bytes([0xC6, 0x00, 0x00, 0x00, 0x14])]
)
def test_rule_non_minimal_bin_header_rejected(header: bytes) -> None:
    data = COIN_BYTES[:2] + header + COIN_BYTES[4:]
    assert reject(data, Coin) == REJECT_NON_CANONICAL


@pytest.mark.parametrize("trailer", [b"\x00", b"\xc0", COIN_BYTES])
def test_rule_trailing_bytes_rejected(trailer: bytes) -> None:
    assert reject(COIN_BYTES + trailer, Coin) in {REJECT_MALFORMED, REJECT_NON_CANONICAL}


def test_rule_oversized_input_rejected_before_parsing() -> None:
    assert decode(COIN_BYTES, Coin, len(COIN_BYTES)) == COIN
    assert reject(COIN_BYTES, Coin, max_bytes=len(COIN_BYTES) - 1) == REJECT_OVERSIZED
    # Not even parsed: garbage of the wrong size is "oversized", not "malformed".
    assert reject(b"\xff" * 100, Coin, max_bytes=99) == REJECT_OVERSIZED


def test_rule_over_long_list_rejected() -> None:
    at_limit = empty_tx(signatures=[bytes(64)] * MAX_LIST_INPUTS)
    data = encode(at_limit)
    assert decode(data, Transaction, len(data)) == at_limit
    over = encode(empty_tx(signatures=[bytes(64)] * (MAX_LIST_INPUTS + 1)))
    assert reject(over, Transaction, len(over)) == REJECT_MALFORMED
    over_outputs = encode(
        empty_tx(outputs=[TxOutput(amount=1, address=ADDR)] * (MAX_LIST_OUTPUTS + 1))
    )
    assert reject(over_outputs, Transaction, len(over_outputs)) == REJECT_MALFORMED


def test_rule_huge_declared_length_rejected_without_allocation() -> None:
    # An array header claiming 2**32 - 1 inputs followed by nothing.
    data = bytes([0x97, 0x01, 0xDD, 0xFF, 0xFF, 0xFF, 0xFF])
    assert reject(data, Transaction) == REJECT_MALFORMED
    data = bytes([0x93, 0x05, 0xC6, 0xFF, 0xFF, 0xFF, 0xFF])  # a 4 GiB address
    assert reject(data, Coin) == REJECT_MALFORMED


@pytest.mark.parametrize(
    "coin_fields",
    [
        [MAX_MONEY + 1, ADDR, 0],  # amount above MAX_MONEY
        [-1, ADDR, 0],  # negative amount
        [1, ADDR, 2**63],  # height above 2**63 - 1
        [1, ADDR[:19], 0],  # short address
        [1, ADDR + b"\x00", 0],  # long address
        [1, "x" * 20, 0],  # str instead of bin
        [1.0, ADDR, 0],  # float instead of int
        [True, ADDR, 0],  # bool instead of int
        [None, ADDR, 0],  # nil instead of int
        [1, ADDR],  # missing field
    ],
)
def test_rule_out_of_range_or_wrong_type_rejected(coin_fields: list[object]) -> None:
    assert reject(msgspec.msgpack.encode(coin_fields), Coin) == REJECT_MALFORMED


def test_rule_extra_field_rejected() -> None:
    # msgspec skips unknown trailing array elements; the re-encode check does not.
    data = msgspec.msgpack.encode([1, ADDR, 0, 0])
    assert reject(data, Coin) == REJECT_NON_CANONICAL


def test_rule_map_instead_of_array_rejected() -> None:
    data = msgspec.msgpack.encode({"amount": 5, "address": ADDR, "height": 7})
    assert reject(data, Coin) == REJECT_MALFORMED


def test_rule_unknown_payload_tag_rejected() -> None:
    generic = msgspec.msgpack.decode(encode(empty_tx()))
    generic[4] = [3, bytes(32)]
    assert reject(msgspec.msgpack.encode(generic), Transaction) == REJECT_MALFORMED


def test_rule_max_values_accepted() -> None:
    coin = Coin(amount=MAX_MONEY, address=ADDR, height=2**63 - 1)
    assert decode(encode(coin), Coin, LIMIT) == coin
    op = OutPoint(txid=b"\xff" * 32, index=0xFFFF_FFFF)
    assert decode(encode(op), OutPoint, LIMIT) == op
    assert reject(msgspec.msgpack.encode([b"\xff" * 32, 2**32]), OutPoint) == REJECT_MALFORMED


def test_nested_types_decode_as_their_classes() -> None:
    tx = empty_tx(inputs=[TxInput(prevout=OutPoint(txid=bytes(32), index=1), public_key=bytes(32))])
    decoded = decode(encode(tx), Transaction, LIMIT)
    assert isinstance(decoded.inputs[0].prevout, OutPoint)


def test_fixed_width_helpers() -> None:
    assert u32be(1) == b"\x00\x00\x00\x01"
    assert u64be(2**63 - 1) == b"\x7f" + b"\xff" * 7
    assert read_u64be(u64be(123_456_789)) == 123_456_789
    with pytest.raises(DecodeError) as info:
        read_u64be(b"\x00" * 7)
    assert info.value.reject_code == REJECT_MALFORMED


def test_decode_error_carries_code_and_message() -> None:
    with pytest.raises(DecodeError) as info:
        decode(b"", Coin, LIMIT)
    assert info.value.reject_code == REJECT_MALFORMED
    assert info.value.message.startswith("Coin: ")
    assert isinstance(info.value, ValueError)
