"""Helpers of the masternode RPC tests: fund a collateral, commit a pooled transaction."""

from __future__ import annotations

from rpc_helpers import MemoryNode, make_key

from timecoin.crypto import sha256
from timecoin.masternode import process_block_registry
from timecoin.params import Tier
from timecoin.types import Coin, OutPoint, compute_txid

NEW_OPERATOR = make_key(40)


def fund_collateral(
    node: MemoryNode, tier: Tier = Tier.BRONZE, amount: int | None = None
) -> OutPoint:
    """Give the node's wallet an unspent coin of `amount` (default: the tier's collateral)."""
    assert node.wallet is not None
    units = node.params.tier_params(tier).collateral if amount is None else amount
    outpoint = OutPoint(sha256(b"collateral" + units.to_bytes(8, "big")), 0)
    coin = Coin(units, node.wallet.addresses()[0], 1)
    node.utxo.coins[outpoint] = coin
    node.wallet.add_coin(outpoint, coin)
    return outpoint


def commit_pooled(node: MemoryNode, txid_hex: str) -> None:
    """Put the pooled transaction `txid_hex` through the registry rules as block 2."""
    tx = node.mempool.pop(bytes.fromhex(txid_hex)).tx
    txid = compute_txid(tx)
    node.registry, _ = process_block_registry(
        node.registry, node.registry.height + 1, bytes(32), [tx], [txid], (), node.params
    )
    assert node.wallet is not None
    node.wallet.remove_coins(txin.prevout for txin in tx.inputs)
    for index, txout in enumerate(tx.outputs):
        if node.wallet.is_mine(txout.address):
            outpoint = OutPoint(txid, index)
            coin = Coin(txout.amount, txout.address, node.registry.height)
            node.utxo.coins[outpoint] = coin
            node.wallet.add_coin(outpoint, coin)
