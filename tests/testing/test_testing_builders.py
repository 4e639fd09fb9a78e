"""The test builders of `timecoin.testing` and `ledger.sign_transaction`: what
they build passes the rules that judge it."""

from __future__ import annotations

from dataclasses import replace

import msgspec
import pytest

from timecoin.chain import GenesisSpec, build_genesis, verify_certificate, voting_set_at
from timecoin.crypto import address_from_public_key, verify
from timecoin.ledger import (
    MemoryUtxoSet,
    check_transaction,
    sign_transaction,
    validate_transaction,
)
from timecoin.params import COIN, MINIMAL, ActivationHeights
from timecoin.testing import (
    ChainBuilder,
    certify,
    genesis_masternodes,
    key_from_label,
    registration_transaction,
    sign_certificate,
    signed_transaction,
    transfer,
)
from timecoin.types import Coin, OutPoint, compute_txid

PARAMS = replace(MINIMAL, activation=ActivationHeights(epoch_reports_height=1))
OPERATORS = [key_from_label(f"testing/operator/{i}") for i in range(4)]
KEYS = {key.public_key: key for key in OPERATORS}
ALICE = key_from_label("testing/alice")
BOB = key_from_label("testing/bob")
FEE = 10_000


def genesis_chain() -> ChainBuilder:
    genesis = build_genesis(
        GenesisSpec(
            params=PARAMS,
            timestamp_ms=1_767_225_600_000,
            allocations=((address_from_public_key(ALICE.public_key), 2_000 * COIN),),
            masternodes=genesis_masternodes(OPERATORS),
        )
    )
    return ChainBuilder(genesis, PARAMS, KEYS)


def test_keys_from_the_same_label_are_the_same() -> None:
    assert key_from_label("a").public_key == key_from_label("a").public_key
    assert key_from_label("a").public_key != key_from_label("b").public_key


def test_a_signed_transfer_is_valid() -> None:
    coin = OutPoint(b"\x01" * 32, 0)
    view = MemoryUtxoSet(
        {coin: Coin(amount=10 * COIN, address=address_from_public_key(ALICE.public_key), height=0)}
    )
    to = address_from_public_key(BOB.public_key)
    tx = transfer(coin, 10 * COIN, ALICE, to, COIN, FEE, PARAMS.chain_id)
    check_transaction(tx, PARAMS)
    validate_transaction(tx, compute_txid(tx), view, PARAMS, 1)
    assert [o.amount for o in tx.outputs] == [COIN, 9 * COIN - FEE]


def test_sign_transaction_replaces_the_witness_and_keeps_the_txid() -> None:
    coin = OutPoint(b"\x02" * 32, 1)
    tx = signed_transaction([(coin, ALICE)], [(COIN, b"\x00" * 20)], PARAMS.chain_id)
    unsigned = msgspec.structs.replace(tx, signatures=[])
    again = sign_transaction(unsigned, [ALICE], PARAMS.chain_id)
    assert again == tx
    assert compute_txid(again) == compute_txid(unsigned)


def test_sign_transaction_refuses_keys_that_are_not_the_inputs() -> None:
    coin = OutPoint(b"\x02" * 32, 1)
    tx = signed_transaction([(coin, ALICE)], [(COIN, b"\x00" * 20)], PARAMS.chain_id)
    with pytest.raises(ValueError, match="not the input's public key"):
        sign_transaction(tx, [BOB], PARAMS.chain_id)
    with pytest.raises(ValueError, match="1 inputs, 2 keys"):
        sign_transaction(tx, [ALICE, ALICE], PARAMS.chain_id)


def test_certificates_verify_and_a_forged_one_does_not() -> None:
    chain = genesis_chain()
    chain.extend(2)
    voting_set = voting_set_at(chain.state, chain.height)
    assert voting_set is not None
    good = certify(chain.state, KEYS, voters=[0, 2, 3])
    assert [s.voter_index for s in good.signatures] == [0, 2, 3]
    verify_certificate(good, voting_set, PARAMS.chain_id, verify)
    outsiders = [key_from_label(f"testing/outsider/{i}") for i in range(4)]
    forged = sign_certificate(
        PARAMS.chain_id, chain.height, 0, chain.state.block_hash, enumerate(outsiders)
    )
    with pytest.raises(Exception, match="signature"):
        verify_certificate(forged, voting_set, PARAMS.chain_id, verify)


def test_a_chain_crosses_epochs_with_reports() -> None:
    chain = genesis_chain()
    added = chain.extend(2 * PARAMS.epoch_length + 1)
    assert chain.height == 2 * PARAMS.epoch_length + 1
    last = [a.block for a in added if a.block.header.height % PARAMS.epoch_length == 3]
    assert last and all(len(block.reports) == len(OPERATORS) for block in last)
    assert chain.certificate is not None and chain.certificate.height == chain.height


def test_a_registration_joins_the_registry() -> None:
    chain = genesis_chain()
    coin = OutPoint(compute_txid(chain.genesis.transactions[0]), 0)
    owner, operator = key_from_label("testing/owner/9"), key_from_label("testing/operator/9")
    tx = registration_transaction(coin, 2_000 * COIN, ALICE, owner, operator, PARAMS, fee=FEE)
    chain.accept(chain.build([tx]))
    operators = {entry.operator_key for entry in chain.state.registry.entries}
    assert operator.public_key in operators
