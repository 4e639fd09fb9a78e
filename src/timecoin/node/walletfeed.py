"""Keeps the node's wallet in step with final transactions and blocks.

Outputs of a final transaction are spendable at once (docs/spec/finality.md
section 2), and a final transaction can never be conflicted: the wallet
treats finality like a committed spend. When a transaction becomes final,
`apply_final_transaction` forgets the coins it spends (a coin the wallet
marked for it is journaled as spent, which settles the wallet's pending
transaction) and adds its outputs paying the wallet. When a block commits,
`apply_block` does the same with the block's UTXO change, except for coins
that final-but-unblocked transactions have already spent: adding those back
would make the wallet sign a second spend of them.

Both functions read coins through the node's `FinalUtxoView` (the tip plus
the final-but-unblocked transactions), so the wallet holds exactly the
coins of that view that pay it, whatever the order of the two calls.
Applying the same transaction or block twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from timecoin.ledger import UtxoView
from timecoin.types import Coin, OutPoint, Transaction
from timecoin.wallet import Wallet

__all__ = ["apply_block", "apply_final_transaction"]


def apply_final_transaction(wallet: Wallet, view: UtxoView, tx: Transaction, txid: bytes) -> int:
    """Feed `wallet` the final transaction `tx` (`txid`): forget the coins it
    spends and add its outputs that pay the wallet and are unspent in `view`
    (the UTXO view with `tx` applied). Return how many coins were added."""
    wallet.remove_coins(txin.prevout for txin in tx.inputs)
    added = 0
    for index, txout in enumerate(tx.outputs):
        if not wallet.is_mine(txout.address):
            continue
        outpoint = OutPoint(txid=txid, index=index)
        coin = view.get_coin(outpoint)
        if coin is None:
            continue  # spent already by a later final transaction
        wallet.add_coin(outpoint, coin)
        added += 1
    return added


def apply_block(
    wallet: Wallet,
    view: UtxoView | None,
    spent: Iterable[OutPoint],
    created: Mapping[OutPoint, Coin],
) -> int:
    """Feed `wallet` a committed block's UTXO change: forget `spent`, add the
    coins of `created` that pay the wallet, skipping those `view` (the tip
    after the block plus the final-but-unblocked transactions; None: the tip
    alone) shows spent. Return how many coins were added."""
    wallet.remove_coins(spent)
    added = 0
    for outpoint, coin in created.items():
        if not wallet.is_mine(coin.address):
            continue
        if view is not None and view.get_coin(outpoint) is None:
            continue  # a final transaction not yet in a block spends it
        wallet.add_coin(outpoint, coin)
        added += 1
    return added
