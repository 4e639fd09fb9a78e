"""The UTXO view that new transactions are validated against: the tip's set
plus the outputs of final transactions not yet in a block.

Outputs of a final transaction are spendable at once (docs/spec/finality.md),
and a coin spent by a final transaction is gone even before its block.
"""

from __future__ import annotations

from collections.abc import Iterable

from timecoin.ledger import UtxoView
from timecoin.types import Coin, OutPoint, Transaction, compute_txid

__all__ = ["FinalUtxoView"]


class FinalUtxoView:
    """`base` (the tip's UTXO set) with the final-but-unblocked transactions applied.

    Coins created by those transactions carry `height` (the next block's
    height, where they will land). Call `add_final` as transactions become
    final; build a new view after each committed block.
    """

    __slots__ = ("_base", "_created", "_height", "_spent", "_spent_created")

    def __init__(self, base: UtxoView, final: Iterable[Transaction], height: int) -> None:
        """The view of `base` after `final` (in the order they became final)."""
        self._base = base
        self._height = height
        self._created: dict[OutPoint, Coin] = {}
        self._spent: set[OutPoint] = set()
        # Outputs of final transactions that later final ones spend: not in
        # `base`, not in `_created`; they enter `_spent` once their
        # transaction is in a block (`apply_block`).
        self._spent_created: set[OutPoint] = set()
        for tx in final:
            self.add_final(tx)

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The coin at `outpoint` after the final transactions, or None."""
        if outpoint in self._spent:
            return None
        coin = self._created.get(outpoint)
        if coin is not None:
            return coin
        return self._base.get_coin(outpoint)

    def add_final(self, tx: Transaction, txid: bytes | None = None) -> None:
        """Apply final transaction `tx`: its inputs are spent, its outputs exist."""
        if txid is None:
            txid = compute_txid(tx)
        for txin in tx.inputs:
            if self._created.pop(txin.prevout, None) is None:
                self._spent.add(txin.prevout)
            else:
                self._spent_created.add(txin.prevout)
        for index, txout in enumerate(tx.outputs):
            self._created[OutPoint(txid=txid, index=index)] = Coin(
                amount=txout.amount, address=txout.address, height=self._height
            )

    def apply_block(self, transactions: Iterable[tuple[bytes, Transaction]], height: int) -> None:
        """`base` now includes a block with `transactions` (txid, tx): move
        what the view held for them into `base`'s hands, so that the view
        equals one rebuilt over the new base from the final transactions
        still unblocked (cost: the block's size, not the backlog's).
        `height` is the next block's height (for outputs created from now on).

        Every final transaction that is not in the block must still be
        applied here; a block transaction the view never saw changes only
        `base`.
        """
        for txid, tx in transactions:
            for txin in tx.inputs:
                self._spent.discard(txin.prevout)
            for index in range(len(tx.outputs)):
                outpoint = OutPoint(txid=txid, index=index)
                if self._created.pop(outpoint, None) is None and (outpoint in self._spent_created):
                    self._spent_created.discard(outpoint)
                    self._spent.add(outpoint)
        self._height = height
