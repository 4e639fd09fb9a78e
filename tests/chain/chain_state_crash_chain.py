"""The deterministic chain of the chain-state crash test: transfers, a
registration and a deregistration across several epoch boundaries, so the
registry, the voting sets and the coins all change while the child is
killed. Every process that calls `build_crash_chain` gets the same blocks."""

from __future__ import annotations

from functools import cache

from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    FEE,
    GENESIS_MASTERNODE_IDS,
    OWNERS,
    Node,
    address_of,
    allocation,
    collateral_of,
    make_key,
    make_tx,
    registration,
    transfer,
)

from timecoin.chain import AppliedBlock
from timecoin.params import COIN

CRASH_CHAIN_BLOCKS = 40


@cache
def build_crash_chain() -> tuple[AppliedBlock, ...]:
    """CRASH_CHAIN_BLOCKS valid blocks after the test genesis."""
    node = Node.from_genesis()
    for height in range(1, CRASH_CHAIN_BLOCKS + 1):
        if height == 2:
            owner, operator = make_key("crash/owner"), make_key("crash/operator")
            txs = [registration(allocation(1), ALLOCATION_AMOUNT, ALICE, owner, operator)]
        elif height == 9:
            collateral = collateral_of(GENESIS_MASTERNODE_IDS[0])
            txs = [
                make_tx([(collateral, OWNERS[0])], [(1_000 * COIN - FEE, address_of(OWNERS[0]))])
            ]
        elif height % 3 == 0 and 2 + height // 3 < 8:
            txs = [transfer(allocation(2 + height // 3), ALLOCATION_AMOUNT, ALICE, BOB)]
        else:
            txs = []
        node.accept(node.build(txs))
    return tuple(node.applied)
