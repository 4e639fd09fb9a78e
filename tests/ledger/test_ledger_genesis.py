"""The devnet genesis builder: determinism, layout, commitments, spec limits."""

from __future__ import annotations

from dataclasses import replace as dc_replace

import pytest
from ledger_helpers import ALICE, BOB, CAROL, FEE, address_of, make_key, make_tx

from timecoin.chain import (
    GENESIS_PROPOSER,
    GenesisMasternode,
    GenesisSpec,
    build_genesis,
    build_genesis_state,
    genesis_utxo,
)
from timecoin.crypto import MuHash3072, address_from_public_key
from timecoin.encoding import decode, encode
from timecoin.ledger import MemoryUtxoSet, compute_utxo_commitment, connect_block, errors
from timecoin.masternode import next_voting_set_hash, registry_from_genesis
from timecoin.params import COIN, DEVNET, MAX_MONEY, MINIMAL, SizeLimits, Tier
from timecoin.types import (
    NO_COLLATERAL,
    ZERO_HASH,
    Block,
    InvalidBlock,
    MasternodeRegistration,
    OutPoint,
    compute_attestations_hash,
    compute_block_hash,
    compute_evidence_hash,
    compute_tx_roots,
    compute_txid,
)

TIMESTAMP_MS = 1_767_225_600_000


def masternode(n: int, tier: Tier = Tier.BRONZE) -> GenesisMasternode:
    return GenesisMasternode(
        tier=tier,
        owner_key=make_key(100 + n).public_key,
        operator_key=make_key(200 + n).public_key,
        reward_address=address_of(make_key(100 + n)),
        network_address=f"127.0.0.1:{24300 + n}".encode(),
    )


def spec(**changes: object) -> GenesisSpec:
    base = GenesisSpec(
        params=DEVNET,
        timestamp_ms=TIMESTAMP_MS,
        allocations=((address_of(ALICE), 1_000 * COIN), (address_of(BOB), 5 * COIN)),
        masternodes=(masternode(0), masternode(1, Tier.GOLD), masternode(2, Tier.FREE)),
    )
    return dc_replace(base, **changes)  # type: ignore[arg-type]


def bad_genesis(**changes: object) -> str:
    with pytest.raises(InvalidBlock) as info:
        build_genesis(spec(**changes))
    assert info.value.reject_code == errors.REJECT_BAD_GENESIS
    return info.value.message


def test_deterministic() -> None:
    assert encode(build_genesis(spec())) == encode(build_genesis(spec()))


def test_differs_per_network_and_time() -> None:
    hashes = {
        compute_block_hash(build_genesis(spec(params=p)).header) for p in (DEVNET, MINIMAL)
    } | {compute_block_hash(build_genesis(spec(timestamp_ms=1)).header)}
    assert len(hashes) == 3


def test_header_fields() -> None:
    block = build_genesis(spec())
    header = block.header
    assert (header.height, header.epoch, header.prev_hash) == (0, 0, ZERO_HASH)
    assert header.chain_id == DEVNET.chain_id
    assert header.timestamp_ms == TIMESTAMP_MS
    assert header.proposer == GENESIS_PROPOSER == bytes(32)
    assert (header.tx_root, header.witness_root) == compute_tx_roots(block.transactions)
    assert header.prev_certificate_hash == ZERO_HASH
    assert header.evidence_hash == compute_evidence_hash([])
    assert header.attestations_hash == compute_attestations_hash([])
    registry = registry_from_genesis(block, DEVNET)
    assert header.next_voting_set_hash == next_voting_set_hash(registry)
    assert header.next_voting_set_hash != ZERO_HASH
    assert block.prev_certificate is None
    assert block.evidence == [] and block.attestations == []


def test_transaction_layout() -> None:
    block = build_genesis(spec())
    allocation, *registrations = block.transactions
    assert allocation.inputs == [] and allocation.lock_time == 0 and allocation.payload is None
    assert [(o.address, o.amount) for o in allocation.outputs] == list(spec().allocations)
    assert len(registrations) == 3
    for tx, mn in zip(registrations, spec().masternodes, strict=True):
        assert tx.inputs == [] and tx.signatures == [] and tx.owner_signature is None
        payload = tx.payload
        assert isinstance(payload, MasternodeRegistration)
        assert (payload.tier, payload.owner_key, payload.operator_key) == (
            mn.tier,
            mn.owner_key,
            mn.operator_key,
        )
        if mn.tier == Tier.FREE:
            assert tx.outputs == [] and payload.collateral_index == NO_COLLATERAL
        else:
            assert payload.collateral_index == 0
            assert tx.outputs[0].amount == DEVNET.tier_params(mn.tier).collateral
            assert tx.outputs[0].address == address_from_public_key(mn.owner_key)


def test_block_round_trips_through_the_codec() -> None:
    block = build_genesis(spec())
    data = encode(block)
    assert decode(data, Block, len(data)) == block


def test_utxo_commitment_matches_the_set() -> None:
    state = build_genesis_state(spec())
    coins, utxo_state = genesis_utxo(spec())
    assert coins == state.delta.created
    assert len(coins) == 2 + 2  # two allocations, two staked collaterals
    assert all(coin.height == 0 for coin in coins.values())
    assert state.block.header.utxo_commitment == compute_utxo_commitment(coins.items())
    assert utxo_state.digest() == state.block.header.utxo_commitment


def test_empty_spec() -> None:
    block = build_genesis(spec(allocations=(), masternodes=()))
    assert len(block.transactions) == 1
    assert block.header.utxo_commitment == MuHash3072().digest()


def test_allocations_are_spendable_at_height_one() -> None:
    coins, utxo_state = genesis_utxo(spec())
    allocation_txid = compute_txid(build_genesis(spec()).transactions[0])
    tx = make_tx(
        [(OutPoint(txid=allocation_txid, index=0), ALICE)],
        [(1_000 * COIN - FEE, address_of(CAROL))],
        params=DEVNET,
    )
    result = connect_block([tx], 1, MemoryUtxoSet(coins), utxo_state, DEVNET)
    assert result.fees == FEE


def test_rule_bad_genesis_address_length() -> None:
    assert "allocation 0" in bad_genesis(allocations=((b"\x01" * 19, COIN),))


def test_rule_bad_genesis_dust_allocation() -> None:
    bad_genesis(allocations=((address_of(ALICE), DEVNET.dust_limit - 1),))


def test_rule_bad_genesis_allocation_above_max_money() -> None:
    bad_genesis(allocations=((address_of(ALICE), MAX_MONEY + 1),))


def test_rule_bad_genesis_total_above_max_money() -> None:
    message = bad_genesis(allocations=((address_of(ALICE), MAX_MONEY),))
    assert "total supply" in message


def test_rule_bad_genesis_too_many_allocations() -> None:
    params = dc_replace(DEVNET, sizes=SizeLimits(max_tx_outputs=1))
    bad_genesis(params=params)


def test_rule_bad_genesis_too_many_masternodes() -> None:
    params = dc_replace(DEVNET, sizes=SizeLimits(max_block_transactions=3))
    bad_genesis(params=params)


def test_rule_bad_genesis_timestamp() -> None:
    bad_genesis(timestamp_ms=-1)


def test_rule_bad_genesis_duplicate_operator_key() -> None:
    bad_genesis(masternodes=(masternode(0), masternode(0)))


def test_rule_bad_genesis_key_length() -> None:
    bad_genesis(masternodes=(dc_replace(masternode(0), owner_key=b"\x01" * 31),))
    bad_genesis(masternodes=(dc_replace(masternode(0), reward_address=b"\x01" * 21),))


def test_rule_bad_genesis_network_address() -> None:
    too_long = b"a" * (DEVNET.sizes.max_network_address_bytes + 1)
    message = bad_genesis(masternodes=(dc_replace(masternode(0), network_address=too_long),))
    assert "masternode 0" in message


def test_rule_bad_genesis_tier() -> None:
    bad_genesis(masternodes=(dc_replace(masternode(0), tier=7),))
