"""A deterministic chain of synthetic blocks for storage tests.

Blocks are well-formed objects (they encode and decode) but not valid
consensus blocks: keys, signatures and most hashes are random bytes, and the
"UTXO state" is a hash chain, not a MuHash. From one seed, every process
builds exactly the same sequence, so a test can tell which state a store
must be in after any height.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from timecoin.params import MINIMAL
from timecoin.types import (
    BLOCK_VERSION,
    TX_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    BlockUndo,
    Coin,
    OutPoint,
    SpentCoin,
    Transaction,
    TxInput,
    TxOutput,
    compute_attestations_hash,
    compute_block_hash,
    compute_evidence_hash,
    compute_tx_roots,
    compute_txid,
)

EMPTY_UTXO_STATE = hashlib.shake_256(b"synthetic empty utxo set").digest(384)


@dataclass(frozen=True)
class BlockStep:
    """Everything `ChainStore.commit_block` takes for one block."""

    block: Block
    block_hash: bytes
    undo: BlockUndo
    created: dict[OutPoint, Coin]
    spent: list[OutPoint]
    utxo_state: bytes

    @property
    def height(self) -> int:
        return self.block.header.height


def next_utxo_state(state: bytes, block_hash: bytes) -> bytes:
    """A stand-in for the MuHash state after a block: 384 bytes chained by hash."""
    return hashlib.shake_256(state + block_hash).digest(384)


def make_outputs(rng: random.Random, count: int) -> list[TxOutput]:
    return [
        TxOutput(amount=rng.randrange(1, 10**12), address=rng.randbytes(20)) for _ in range(count)
    ]


class SyntheticChain:
    """Generates blocks one after another and tracks the resulting UTXO set."""

    def __init__(self, seed: int, *, max_spends: int = 30, max_creates: int = 30) -> None:
        self.seed = seed
        self.max_spends = max_spends
        self.max_creates = max_creates
        self.coins: dict[OutPoint, Coin] = {}
        self.height = -1
        self.tip_hash = ZERO_HASH
        self.utxo_state = EMPTY_UTXO_STATE
        self.last_undo: BlockUndo | None = None

    def _rng(self, height: int) -> random.Random:
        return random.Random(f"synthetic-chain:{self.seed}:{height}")

    def next_block(self) -> BlockStep:
        """Build the next block (genesis first) and apply it to `coins`."""
        height = self.height + 1
        rng = self._rng(height)
        transactions: list[Transaction] = []
        spent: list[OutPoint] = []
        if height > 0:
            n_spend = rng.randint(0, min(self.max_spends, len(self.coins)))
            spent = rng.sample(list(self.coins), n_spend)
        coinbase = Transaction(
            version=TX_VERSION,
            inputs=[],
            outputs=make_outputs(rng, 1 if height > 0 else 20),
            lock_time=height,
            payload=None,
            signatures=[],
            owner_signature=None,
        )
        transactions.append(coinbase)
        if spent:
            transactions.append(
                Transaction(
                    version=TX_VERSION,
                    inputs=[TxInput(prevout=op, public_key=rng.randbytes(32)) for op in spent],
                    outputs=make_outputs(rng, rng.randint(1, self.max_creates)),
                    lock_time=0,
                    payload=None,
                    signatures=[rng.randbytes(64) for _ in spent],
                    owner_signature=None,
                )
            )
        created: dict[OutPoint, Coin] = {}
        for tx in transactions:
            txid = compute_txid(tx)
            for index, out in enumerate(tx.outputs):
                created[OutPoint(txid=txid, index=index)] = Coin(
                    amount=out.amount, address=out.address, height=height
                )
        # The header commits to the body, as the store checks on every read.
        tx_root, witness_root = compute_tx_roots(transactions)
        header = BlockHeader(
            version=BLOCK_VERSION,
            chain_id=MINIMAL.chain_id,
            height=height,
            epoch=MINIMAL.epoch_of(height),
            prev_hash=self.tip_hash,
            timestamp_ms=1_700_000_000_000 + height * MINIMAL.block_interval_ms,
            proposer=rng.randbytes(32),
            tx_root=tx_root,
            witness_root=witness_root,
            prev_certificate_hash=ZERO_HASH,
            evidence_hash=compute_evidence_hash([]),
            attestations_hash=compute_attestations_hash([]),
            utxo_commitment=rng.randbytes(32),
            next_voting_set_hash=rng.randbytes(32),
        )
        block = Block(
            header=header,
            transactions=transactions,
            prev_certificate=None,
            evidence=[],
            attestations=[],
        )
        block_hash = compute_block_hash(header)
        undo = BlockUndo(
            spent=[SpentCoin(outpoint=op, coin=self.coins[op]) for op in spent],
            utxo_state_before=self.utxo_state,
        )
        utxo_state = next_utxo_state(self.utxo_state, block_hash)
        for op in spent:
            del self.coins[op]
        self.coins.update(created)
        self.height = height
        self.tip_hash = block_hash
        self.utxo_state = utxo_state
        self.last_undo = undo
        return BlockStep(block, block_hash, undo, created, spent, utxo_state)

    def advance_to(self, height: int) -> None:
        """Generate (without returning) blocks up to and including `height`."""
        while self.height < height:
            self.next_block()
