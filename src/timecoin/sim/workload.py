"""The simulated users: funded wallets sending transfers, and masternode churn.

Wallets are keys funded by genesis allocations. The workload tracks their
coins from the committed chain (the first commit of each height by any
honest node), signs transfers between wallets, and sometimes signs two
conflicting transfers of one coin and submits them to different nodes (a
double-spend attempt the chain must resolve). Spare nodes are registered as
Bronze masternodes (collateral funded from a wallet, owner-signed
registration), later deregistered by spending the collateral, then
registered again, so that epochs really change the voting set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.ledger import (
    compute_input_signing_message,
    compute_min_fee,
    compute_owner_signing_message,
    compute_tx_size,
)
from timecoin.params import COIN, ChainParams, Tier
from timecoin.types import (
    TX_VERSION,
    Block,
    MasternodeRegistration,
    OutPoint,
    Payload,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

WALLET_OUTPUTS: Final = 4
"""Genesis outputs per wallet (independent coins to spend concurrently)."""

WALLET_OUTPUT_AMOUNT: Final = 5_000 * COIN
"""Amount of each genesis output of a wallet."""

FEE_MARGIN: Final = 500
"""Base units paid above the minimum fee (encoded sizes vary by a few bytes)."""

DOUBLE_SPEND_PROBABILITY: Final = 0.15
"""Share of transfers submitted together with a conflicting twin (a double
spend attempt: the coin may stay locked, the owner's fault)."""

RESUBMIT_HEIGHTS: Final = 4
"""Heights after which a churn transaction not yet in a block is resubmitted."""


@dataclass(slots=True)
class SimWallet:
    """A funded key: its committed unspent coins and the ones it has spent
    in transactions not yet committed (outpoint -> chain height when sent)."""

    key: SigningKey
    address: bytes
    coins: dict[OutPoint, int] = field(default_factory=dict)
    pending: dict[OutPoint, int] = field(default_factory=dict)


@dataclass(slots=True)
class SpareNode:
    """A spare node's masternode lifecycle.

    `masternode_id` is set while registered; `pending` is the registration
    or deregistration submitted and not yet committed.
    """

    node: int
    operator_key: bytes
    owner: SigningKey
    masternode_id: bytes | None = None
    registered_height: int = 0
    next_action_height: int = 0
    pending: Transaction | None = None
    pending_height: int = 0
    registrations: int = 0
    deregistrations: int = 0


def sign_transaction(
    params: ChainParams,
    spends: list[tuple[OutPoint, SigningKey]],
    outputs: list[TxOutput],
    payload: Payload | None = None,
    owner: SigningKey | None = None,
) -> Transaction:
    """A transaction spending `spends` (each signed by its key) to `outputs`,
    with an optional payload signed by `owner`."""
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=op, public_key=key.public_key) for op, key in spends],
        outputs=outputs,
        lock_time=0,
        payload=payload,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    chain_id = params.chain_id
    signatures = [
        key.sign(compute_input_signing_message(chain_id, txid, index))
        for index, (_, key) in enumerate(spends)
    ]
    owner_signature = (
        None if owner is None else owner.sign(compute_owner_signing_message(chain_id, txid))
    )
    return Transaction(
        version=TX_VERSION,
        inputs=unsigned.inputs,
        outputs=outputs,
        lock_time=0,
        payload=payload,
        signatures=signatures,
        owner_signature=owner_signature,
    )


def compute_fee(
    params: ChainParams, input_count: int, outputs: list[TxOutput], payload: Payload | None
) -> int:
    """A fee above the minimum for a transaction of this shape (signatures have
    a fixed size, so a draft with zero-filled signatures has the real size)."""
    draft = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=OutPoint(bytes(32), 0), public_key=bytes(32))] * input_count,
        outputs=outputs,
        lock_time=0,
        payload=payload,
        signatures=[bytes(64)] * input_count,
        owner_signature=None if payload is None else bytes(64),
    )
    return compute_min_fee(compute_tx_size(draft), params) + FEE_MARGIN


class Workload:
    """Wallets and spare masternodes, driven by the simulator.

    `observe_block` is called once per height with the committed block;
    `make_transfers` and `make_churn` return transactions to submit.
    """

    def __init__(
        self,
        params: ChainParams,
        rng: random.Random,
        wallet_count: int,
        spares: list[tuple[int, bytes]],
    ) -> None:
        """Draw `wallet_count` wallet keys and one owner key per spare
        (node id, operator public key) from `rng`."""
        self.params = params
        self.wallets = [_new_wallet(rng) for _ in range(wallet_count)]
        self.spares = [
            SpareNode(node, operator_key, SigningKey.from_seed(rng.randbytes(32)))
            for node, operator_key in spares
        ]
        for spare in self.spares:
            spare.next_action_height = rng.randint(1, 2 * params.epoch_length)
        self._by_address = {w.address: w for w in self.wallets}
        self.height = 0
        self.submitted = 0
        self.double_spends = 0

    def genesis_allocations(self) -> tuple[tuple[bytes, int], ...]:
        """The genesis allocations funding the wallets."""
        return tuple(
            (w.address, WALLET_OUTPUT_AMOUNT) for w in self.wallets for _ in range(WALLET_OUTPUTS)
        )

    def observe_block(self, block: Block) -> None:
        """Track the wallets' coins and the spares' registrations through a
        committed block (called once per height, in height order)."""
        height = block.header.height
        self.height = height
        for tx in block.transactions:
            txid = compute_txid(tx)
            for txin in tx.inputs:
                for wallet in self.wallets:
                    wallet.coins.pop(txin.prevout, None)
                    wallet.pending.pop(txin.prevout, None)
                self._observe_spare_spend(txin.prevout, height)
            for index, txout in enumerate(tx.outputs):
                owner = self._by_address.get(txout.address)
                if owner is not None:
                    owner.coins[OutPoint(txid=txid, index=index)] = txout.amount
            self._observe_registration(tx, txid, height)

    def _observe_spare_spend(self, prevout: OutPoint, height: int) -> None:
        for spare in self.spares:
            if spare.masternode_id is not None and prevout == OutPoint(spare.masternode_id, 0):
                spare.masternode_id = None
                spare.pending = None
                spare.deregistrations += 1
                spare.next_action_height = height + self.params.epoch_length

    def _observe_registration(self, tx: Transaction, txid: bytes, height: int) -> None:
        payload = tx.payload
        if not isinstance(payload, MasternodeRegistration):
            return
        for spare in self.spares:
            if payload.operator_key == spare.operator_key and spare.masternode_id is None:
                spare.masternode_id = txid
                spare.registered_height = height
                spare.pending = None
                spare.registrations += 1
                spare.next_action_height = height + 3 * self.params.epoch_length

    def _spendable(self, wallet: SimWallet, minimum: int) -> list[OutPoint]:
        return [
            op
            for op, amount in wallet.coins.items()
            if op not in wallet.pending and amount >= minimum
        ]

    def make_transfers(self, rng: random.Random) -> list[Transaction]:
        """A transfer between two wallets, sometimes with a conflicting twin
        (same coin, other recipient); empty when no wallet has a coin."""
        params = self.params
        minimum = 4 * (params.dust_limit + params.min_fee + FEE_MARGIN)
        order = list(range(len(self.wallets)))
        rng.shuffle(order)
        for index in order:
            sender = self.wallets[index]
            coins = self._spendable(sender, minimum)
            if not coins:
                continue
            outpoint = rng.choice(coins)
            value = sender.coins[outpoint]
            first = self._transfer(sender, outpoint, value, rng)
            sender.pending[outpoint] = self.height
            self.submitted += 1
            if rng.random() >= DOUBLE_SPEND_PROBABILITY:
                return [first]
            self.double_spends += 1
            return [first, self._transfer(sender, outpoint, value, rng)]
        return []

    def _transfer(
        self, sender: SimWallet, outpoint: OutPoint, value: int, rng: random.Random
    ) -> Transaction:
        params = self.params
        recipient = rng.choice(self.wallets)
        dust = max(params.dust_limit, 1)
        fee = compute_fee(params, 1, [TxOutput(value, recipient.address)] * 2, None)
        amount = rng.randint(dust, max(dust, (value - fee) // 2))
        change = value - amount - fee
        outputs = [TxOutput(amount=amount, address=recipient.address)]
        if change >= dust:
            outputs.append(TxOutput(amount=change, address=sender.address))
        else:
            outputs = [TxOutput(amount=value - fee, address=recipient.address)]
        return sign_transaction(params, [(outpoint, sender.key)], outputs)

    def make_churn(self, rng: random.Random) -> list[Transaction]:
        """Registrations and deregistrations of spare nodes due at the current height."""
        out: list[Transaction] = []
        for spare in self.spares:
            if spare.pending is not None:
                if self.height > spare.pending_height + RESUBMIT_HEIGHTS:
                    spare.pending_height = self.height
                    out.append(spare.pending)
                continue
            if self.height < spare.next_action_height:
                continue
            tx = (
                self._register(spare, rng)
                if spare.masternode_id is None
                else self._deregister(spare, rng)
            )
            if tx is not None:
                spare.pending = tx
                spare.pending_height = self.height
                out.append(tx)
        return out

    def _register(self, spare: SpareNode, rng: random.Random) -> Transaction | None:
        params = self.params
        collateral = params.tier_params(Tier.BRONZE).collateral
        payload = MasternodeRegistration(
            tier=int(Tier.BRONZE),
            collateral_index=0,
            owner_key=spare.owner.public_key,
            operator_key=spare.operator_key,
            reward_address=address_from_public_key(spare.owner.public_key),
            network_address=f"sim:{spare.node}".encode(),
        )
        owner_address = address_from_public_key(spare.owner.public_key)
        for wallet in rng.sample(self.wallets, len(self.wallets)):
            fee = compute_fee(params, 1, [TxOutput(collateral, owner_address)] * 2, payload)
            coins = self._spendable(wallet, collateral + fee + 2 * params.dust_limit)
            if not coins:
                continue
            outpoint = coins[0]
            change = wallet.coins[outpoint] - collateral - fee
            outputs = [
                TxOutput(amount=collateral, address=owner_address),
                TxOutput(amount=change, address=wallet.address),
            ]
            wallet.pending[outpoint] = self.height
            return sign_transaction(params, [(outpoint, wallet.key)], outputs, payload, spare.owner)
        return None

    def _deregister(self, spare: SpareNode, rng: random.Random) -> Transaction:
        params = self.params
        if spare.masternode_id is None:
            raise AssertionError("deregistering a spare that is not registered")
        collateral = params.tier_params(Tier.BRONZE).collateral
        recipient = rng.choice(self.wallets)
        fee = compute_fee(params, 1, [TxOutput(collateral, recipient.address)], None)
        outputs = [TxOutput(amount=collateral - fee, address=recipient.address)]
        return sign_transaction(params, [(OutPoint(spare.masternode_id, 0), spare.owner)], outputs)


def _new_wallet(rng: random.Random) -> SimWallet:
    key = SigningKey.from_seed(rng.randbytes(32))
    return SimWallet(key=key, address=address_from_public_key(key.public_key))
