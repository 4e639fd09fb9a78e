"""Block rewards: the coinbase pays subsidy plus fees to masternodes drawn by
reward weight among the eligible ones, Free ones only from the Free pool;
the proposer when none is eligible; exactly, or the block is invalid; and a
reward output is spendable in the next block."""

from __future__ import annotations

import msgspec
import pytest
from heartbeat_helpers import (
    FREE,
    FUNDING,
    FUNDS,
    GENESIS,
    MASTERNODE_IDS,
    OWNERS,
    PARAMS,
    STAKED,
    TIERS,
    Node,
    address_of,
)

from timecoin.chain import errors
from timecoin.ledger import compute_input_signing_message
from timecoin.masternode import (
    compute_free_pool,
    compute_reward_outputs,
    get_entry,
    get_reward_eligible_entries,
)
from timecoin.params import Tier
from timecoin.types import (
    TX_VERSION,
    Block,
    InvalidBlock,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    compute_tx_roots,
    compute_txid,
)

replace = msgspec.structs.replace
EVERYONE = [*STAKED, *FREE]
FEE = 10_000
REWARD_ADDRESSES = {address_of(OWNERS[i]): i for i in range(len(TIERS))}


def spend(outpoint: OutPoint, amount: int, key_index: int, fee: int = FEE) -> Transaction:
    """Spend `outpoint` (of `amount`, owned by OWNERS[key_index]) to FUNDS."""
    key = OWNERS[key_index]
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=outpoint, public_key=key.public_key)],
        outputs=[TxOutput(amount=amount - fee, address=address_of(FUNDS))],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    signature = key.sign(compute_input_signing_message(PARAMS.chain_id, txid, 0))
    return replace(unsigned, signatures=[signature])


def live_chain(blocks: int) -> Node:
    node = Node.from_genesis()
    for _ in range(blocks):
        node.step(heartbeats_from=EVERYONE)
    return node


def operator_owner(node: Node, operator_key: bytes) -> int:
    """The index of the masternode whose operator key is `operator_key`."""
    for i, masternode_id in enumerate(MASTERNODE_IDS):
        entry = get_entry(node.state.registry, masternode_id)
        if entry is not None and entry.operator_key == operator_key:
            return i
    raise LookupError(operator_key.hex())


def test_without_eligible_masternodes_the_proposer_takes_all() -> None:
    node = Node.from_genesis()
    before = node.state
    applied = node.step()
    assert get_reward_eligible_entries(before.registry, 1, PARAMS) == []
    owner = operator_owner(node, applied.block.header.proposer)
    assert applied.block.transactions[0].outputs == [
        TxOutput(amount=PARAMS.block_subsidy, address=address_of(OWNERS[owner]))
    ]


def test_drawn_eligible_masternodes_share_subsidy_and_fees() -> None:
    node = live_chain(3)
    coin = next(op for op in node.view if op.txid == compute_txid(GENESIS.transactions[0]))
    applied = node.step([spend_funds(coin)], heartbeats_from=EVERYONE)
    outputs = applied.block.transactions[0].outputs
    assert sum(o.amount for o in outputs) == PARAMS.block_subsidy + FEE
    paid_free = sum(o.amount for o in outputs if TIERS[REWARD_ADDRESSES[o.address]] == Tier.FREE)
    assert paid_free == compute_free_pool(PARAMS)  # Free masternodes share exactly the Free pool
    assert len({o.address for o in outputs}) == len(outputs)  # one output per address
    # Exactly the function's result, from the state before the block.
    before = node.applied[-2].state_after
    proposer_owner = operator_owner(node, applied.block.header.proposer)
    assert outputs == compute_reward_outputs(
        before.registry,
        before.height + 1,
        before.block_hash,
        FEE,
        address_of(OWNERS[proposer_owner]),
        PARAMS,
    )


def spend_funds(coin: OutPoint, fee: int = FEE) -> Transaction:
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=coin, public_key=FUNDS.public_key)],
        outputs=[TxOutput(amount=FUNDING - fee, address=address_of(FUNDS))],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    return replace(
        unsigned, signatures=[FUNDS.sign(compute_input_signing_message(PARAMS.chain_id, txid, 0))]
    )


def test_reward_output_is_spendable_in_the_next_block() -> None:
    node = live_chain(2)
    applied = node.step(heartbeats_from=EVERYONE)
    coinbase = applied.block.transactions[0]
    paid = coinbase.outputs[0]
    owner = REWARD_ADDRESSES[paid.address]
    child = spend(OutPoint(compute_txid(coinbase), 0), paid.amount, owner)
    spent = node.step([child], heartbeats_from=EVERYONE)
    assert spent.block.transactions[1] == child
    assert node.view.get_coin(OutPoint(compute_txid(coinbase), 0)) is None
    assert node.view.get_coin(OutPoint(compute_txid(child), 0)) is not None


def test_a_coinbase_paying_anyone_else_is_rejected() -> None:
    node = live_chain(3)
    built = node.build()
    coinbase = built.block.transactions[0]
    swapped = [replace(o, address=address_of(FUNDS)) for o in coinbase.outputs]
    for outputs in (swapped, list(reversed(coinbase.outputs)), coinbase.outputs[:-1]):
        if outputs == coinbase.outputs:
            continue
        block = reseal_coinbase(built.block, outputs)
        with pytest.raises(InvalidBlock) as info:
            node.validate(block)
        assert info.value.reject_code == errors.REJECT_BAD_COINBASE


def reseal_coinbase(block: Block, outputs: list[TxOutput]) -> Block:
    """`block` with other coinbase outputs and its roots recomputed."""
    coinbase = replace(block.transactions[0], outputs=outputs)
    transactions = [coinbase, *block.transactions[1:]]
    tx_root, witness_root = compute_tx_roots(transactions)
    header = replace(block.header, tx_root=tx_root, witness_root=witness_root)
    return replace(block, header=header, transactions=transactions)
