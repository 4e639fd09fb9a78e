"""Coin selection: which owned coins pay for a payment, and the fee.

A pure, deterministic function of its inputs (the order of the coin list
does not matter). The rule, in order:

1. The smallest single coin that covers the amount plus the fee of a
   one-input transaction. One input keeps the transaction small, and the
   smallest such coin keeps the large ones free: a signed coin stays locked
   until its transaction settles (docs/spec/wallet.md).
2. Otherwise the largest coins first, until they cover the amount plus the
   fee: the fewest inputs that can pay.

Ties are broken by outpoint (txid, then index). The fee is computed from the
encoded size of the signed transaction: the ledger's minimum
(`ledger.compute_min_fee`), or more where the fee policy asks for more. The
change output's amount is sized at its widest encoding, so the estimate
never falls short.

Change at or above the dust limit becomes an output back to the wallet;
below it, it is added to the fee.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from timecoin.ledger import compute_min_fee, compute_tx_size
from timecoin.params import MAX_MONEY, ChainParams
from timecoin.types import TX_VERSION, Coin, OutPoint, Transaction, TxInput, TxOutput
from timecoin.wallet.errors import (
    InsufficientFundsError,
    InvalidPaymentError,
    TransactionTooLargeError,
)

_PLACEHOLDER_PUBLIC_KEY: Final = bytes(32)
_PLACEHOLDER_SIGNATURE: Final = bytes(64)
_PLACEHOLDER_ADDRESS: Final = bytes(20)
_WIDEST_AMOUNT: Final = MAX_MONEY
"""An amount whose encoding is as long as any amount's (a full 64-bit integer)."""


@dataclass(frozen=True, slots=True)
class FeePolicy:
    """What the sender is willing to pay beyond the chain's minimum fee.

    The fee is the largest of the consensus minimum, `min_fee`, and
    `fee_per_kb * size / 1000` rounded up (base units per 1000 bytes).
    """

    fee_per_kb: int = 0
    min_fee: int = 0

    def __post_init__(self) -> None:
        for name, value in (("fee_per_kb", self.fee_per_kb), ("min_fee", self.min_fee)):
            if type(value) is not int or not 0 <= value <= MAX_MONEY:
                raise ValueError(f"fee policy {name} {value!r} outside 0 .. {MAX_MONEY}")


DEFAULT_FEE_POLICY: Final = FeePolicy()
"""Pay exactly the chain's minimum fee."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The result of coin selection.

    `inputs` are in the order the transaction lists them (by outpoint);
    `change` is 0 when there is no change output; `size_bytes` is an upper
    bound of the signed transaction's encoded size, and `fee` meets the fee
    rule for that size. sum(inputs) == amount + fee + change.
    """

    inputs: tuple[tuple[OutPoint, Coin], ...]
    amount: int
    fee: int
    change: int
    size_bytes: int

    @property
    def total_in(self) -> int:
        """Sum of the selected coins."""
        return sum(coin.amount for _, coin in self.inputs)


def compute_required_fee(size_bytes: int, policy: FeePolicy, params: ChainParams) -> int:
    """The smallest fee a transaction of `size_bytes` may pay under `policy` and `params`."""
    by_policy_rate = -(-policy.fee_per_kb * size_bytes // 1000)
    return max(compute_min_fee(size_bytes, params), policy.min_fee, by_policy_rate)


def compute_min_output(params: ChainParams) -> int:
    """The smallest amount an output may carry: the dust limit, and at least 1."""
    return max(params.dust_limit, 1)


def compute_signed_size(
    outpoints: Sequence[OutPoint],
    amount: int,
    with_change: bool,
    extra_outputs: Sequence[TxOutput] = (),
) -> int:
    """Encoded size of a signed payment spending `outpoints`, paying `amount`
    (and `extra_outputs` after it).

    Public keys, signatures and addresses have fixed lengths, so
    zero-filled ones give their exact size; a change output is counted at the
    widest amount encoding, making the result an upper bound.
    """
    outputs = [TxOutput(amount, _PLACEHOLDER_ADDRESS), *extra_outputs]
    if with_change:
        outputs.append(TxOutput(_WIDEST_AMOUNT, _PLACEHOLDER_ADDRESS))
    template = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(op, _PLACEHOLDER_PUBLIC_KEY) for op in outpoints],
        outputs=outputs,
        lock_time=0,
        payload=None,
        signatures=[_PLACEHOLDER_SIGNATURE] * len(outpoints),
        owner_signature=None,
    )
    return compute_tx_size(template)


def _sort_key(item: tuple[OutPoint, Coin]) -> tuple[int, bytes, int]:
    outpoint, coin = item
    return (coin.amount, outpoint.txid, outpoint.index)


def _outpoint_key(item: tuple[OutPoint, Coin]) -> tuple[bytes, int]:
    return (item[0].txid, item[0].index)


class _Finisher:
    """Turns a candidate set of coins into a Selection, if it can pay."""

    def __init__(
        self,
        amount: int,
        policy: FeePolicy,
        params: ChainParams,
        extra_outputs: Sequence[TxOutput] = (),
    ) -> None:
        self.amount = amount
        self.policy = policy
        self.params = params
        self.extra_outputs = extra_outputs

    def fee_without_change(self, chosen: Sequence[tuple[OutPoint, Coin]]) -> tuple[int, int]:
        outpoints = [op for op, _ in chosen]
        size = compute_signed_size(
            outpoints, self.amount, with_change=False, extra_outputs=self.extra_outputs
        )
        return compute_required_fee(size, self.policy, self.params), size

    def finish(self, chosen: Sequence[tuple[OutPoint, Coin]], total: int) -> Selection | None:
        """A Selection spending exactly `chosen`, or None if they do not cover the payment."""
        fee_plain, size_plain = self.fee_without_change(chosen)
        if total < self.amount + fee_plain:
            return None
        max_bytes = self.params.sizes.max_tx_bytes
        inputs = tuple(sorted(chosen, key=_outpoint_key))
        outpoints = [op for op, _ in inputs]
        size_change = compute_signed_size(
            outpoints, self.amount, with_change=True, extra_outputs=self.extra_outputs
        )
        fee_change = compute_required_fee(size_change, self.policy, self.params)
        change = total - self.amount - fee_change
        if change >= compute_min_output(self.params) and size_change <= max_bytes:
            return Selection(inputs, self.amount, fee_change, change, size_change)
        if size_plain > max_bytes:
            return None
        return Selection(inputs, self.amount, total - self.amount, 0, size_plain)


def select_coins(
    coins: Iterable[tuple[OutPoint, Coin]],
    amount: int,
    policy: FeePolicy,
    params: ChainParams,
    *,
    extra_outputs: Sequence[TxOutput] = (),
) -> Selection:
    """Choose coins from `coins` to pay `amount` (see the module docstring).

    `extra_outputs` are outputs the transaction carries besides the payment
    (their amounts already counted in `amount`: a transaction with several
    recipients passes their total as `amount` and all but the first here),
    so the fee covers their bytes.

    Raises InvalidPaymentError for an amount below the dust limit or above
    MAX_MONEY, InsufficientFundsError when the coins cannot cover amount and
    fee, and TransactionTooLargeError when they could only within more inputs
    or bytes than one transaction may hold.
    """
    min_output = compute_min_output(params)
    if type(amount) is not int or not min_output <= amount <= MAX_MONEY:
        raise InvalidPaymentError(
            f"amount {amount!r} outside {min_output} (dust limit) .. {MAX_MONEY}"
        )
    ascending = sorted(coins, key=_sort_key)
    available = sum(coin.amount for _, coin in ascending)
    finisher = _Finisher(amount, policy, params, extra_outputs)
    lower_bound = amount + max(compute_min_fee(0, params), policy.min_fee)

    for item in ascending:
        if item[1].amount >= lower_bound:
            single = finisher.finish([item], item[1].amount)
            if single is not None:
                return single

    chosen: list[tuple[OutPoint, Coin]] = []
    total = 0
    for item in reversed(ascending):
        if len(chosen) >= params.sizes.max_tx_inputs:
            break
        chosen.append(item)
        total += item[1].amount
        if total >= lower_bound:
            selection = finisher.finish(chosen, total)
            if selection is not None:
                return selection
        if finisher.fee_without_change(chosen)[1] > params.sizes.max_tx_bytes:
            break

    fee_estimate, _ = finisher.fee_without_change(chosen or ascending[:1])
    needed = amount + fee_estimate
    if available < needed:
        raise InsufficientFundsError(needed, available)
    raise TransactionTooLargeError(
        f"paying {amount} units needs more than {len(chosen)} of the {len(ascending)} coins "
        f"(limits: {params.sizes.max_tx_inputs} inputs, {params.sizes.max_tx_bytes} bytes); "
        "consolidate small coins into larger ones first"
    )
