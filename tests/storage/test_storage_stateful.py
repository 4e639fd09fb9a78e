"""Hypothesis state machine: ChainStore's UTXO set against a dict model.

Rules commit blocks that spend and create coins (some of them refused
because they spend absent coins or recreate present ones), revert the tip,
and, on LMDB, close and reopen the store. After every step the store's UTXO
set, count, tip and state must equal the model's.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from timecoin.params import MINIMAL
from timecoin.storage import ChainStore, ChainTip, KVStore, LmdbStore, MemoryStore, StorageError
from timecoin.types import (
    BLOCK_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    BlockUndo,
    Coin,
    OutPoint,
    SpentCoin,
    compute_attestations_hash,
    compute_block_hash,
    compute_evidence_hash,
    compute_tx_roots,
)

# A small txid space, so that generated blocks often try to recreate a coin.
TXIDS = [hashlib.sha256(bytes([i])).digest() for i in range(6)]

coins_st = st.builds(
    Coin,
    amount=st.integers(0, 10**12),
    address=st.sampled_from([bytes(20), b"\x01" * 20]),
    height=st.integers(0, 1_000),
)
outpoints_st = st.builds(OutPoint, txid=st.sampled_from(TXIDS), index=st.integers(0, 3))


@dataclass
class ModelBlock:
    block_hash: bytes
    created: dict[OutPoint, Coin]
    spent: dict[OutPoint, Coin]
    state_before: bytes


def make_block(height: int, prev_hash: bytes) -> tuple[Block, bytes]:
    """An empty block whose header commits to its body (the store checks that)."""
    tx_root, witness_root = compute_tx_roots([])
    header = BlockHeader(
        version=BLOCK_VERSION,
        chain_id=MINIMAL.chain_id,
        height=height,
        epoch=0,
        prev_hash=prev_hash,
        timestamp_ms=height,
        proposer=bytes(32),
        tx_root=tx_root,
        witness_root=witness_root,
        prev_certificate_hash=ZERO_HASH,
        evidence_hash=compute_evidence_hash([]),
        attestations_hash=compute_attestations_hash([]),
        utxo_commitment=ZERO_HASH,
        next_voting_set_hash=ZERO_HASH,
    )
    block = Block(
        header=header, transactions=[], prev_certificate=None, evidence=[], attestations=[]
    )
    return block, compute_block_hash(header)


def state_of(coins: dict[OutPoint, Coin]) -> bytes:
    """A stand-in for the commitment state: depends on the whole set."""
    items = sorted((op.txid, op.index, c.amount, c.address, c.height) for op, c in coins.items())
    return hashlib.shake_256(repr(items).encode()).digest(384)


class ChainStoreMachine(RuleBasedStateMachine):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="chainstore-")) if self.is_lmdb() else None
        self.kv = self.open_kv()
        self.store = ChainStore(self.kv)
        self.model: dict[OutPoint, Coin] = {}
        self.blocks: list[ModelBlock] = []
        genesis, genesis_hash = make_block(0, ZERO_HASH)
        empty_state = state_of({})
        self.store.init_genesis(
            genesis,
            genesis_hash,
            BlockUndo(spent=[], utxo_state_before=empty_state),
            {},
            empty_state,
        )
        self.tip = ChainTip(0, genesis_hash)

    def is_lmdb(self) -> bool:
        return self.backend == "lmdb"

    def open_kv(self) -> KVStore:
        if self.tmpdir is None:
            return MemoryStore()
        return LmdbStore(self.tmpdir / "db", map_size_bytes=64 * 1024, sync=False)

    @rule(
        spend_picks=st.lists(st.integers(0, 2**16), max_size=4),
        created=st.dictionaries(outpoints_st, coins_st, max_size=4),
    )
    def commit_block(self, spend_picks: list[int], created: dict[OutPoint, Coin]) -> None:
        existing = list(self.model)
        spent = list(dict.fromkeys(existing[i % len(existing)] for i in spend_picks if existing))
        block, block_hash = make_block(self.tip.height + 1, self.tip.block_hash)
        state_before = state_of(self.model)
        undo = BlockUndo(
            spent=[SpentCoin(outpoint=op, coin=self.model[op]) for op in spent],
            utxo_state_before=state_before,
        )
        after = {op: c for op, c in self.model.items() if op not in spent}
        fits = all(op not in self.model for op in created)
        after.update(created)
        try:
            self.store.commit_block(block, block_hash, undo, created, spent, state_of(after))
        except StorageError:
            assert not fits, "a fitting block was refused"
            event("commit refused")
            return
        assert fits, "a block recreating a present coin was accepted"
        event("commit accepted" if not spent else "commit accepted, spending coins")
        self.blocks.append(
            ModelBlock(
                block_hash, dict(created), {op: self.model[op] for op in spent}, state_before
            )
        )
        self.model = after
        self.tip = ChainTip(self.tip.height + 1, block_hash)

    @precondition(lambda self: self.blocks)
    @rule()
    def revert_tip(self) -> None:
        top = self.blocks.pop()
        new_tip = self.store.revert_tip(
            top.block_hash, top.spent, list(top.created), top.state_before
        )
        for op in top.created:
            del self.model[op]
        self.model.update(top.spent)
        assert new_tip.height == self.tip.height - 1
        self.tip = new_tip
        event("revert")

    @rule(outpoint=outpoints_st)
    def get_coin(self, outpoint: OutPoint) -> None:
        assert self.store.get_coin(outpoint) == self.model.get(outpoint)

    @invariant()
    def store_matches_model(self) -> None:
        assert dict(self.store.iter_utxos()) == self.model
        assert self.store.utxo_count() == len(self.model)
        assert self.store.get_tip() == self.tip
        assert self.store.get_utxo_state() == state_of(self.model)
        assert self.store.get_block_hash(self.tip.height + 1) is None

    def teardown(self) -> None:
        self.kv.close()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


class LmdbChainStoreMachine(ChainStoreMachine):
    backend = "lmdb"

    @rule()
    def reopen(self) -> None:
        self.kv.close()
        self.kv = self.open_kv()
        self.store = ChainStore(self.kv)
        event("reopen")


MACHINE_SETTINGS = settings(max_examples=100, stateful_step_count=40, deadline=None)

TestMemoryChainStore = ChainStoreMachine.TestCase
TestMemoryChainStore.settings = MACHINE_SETTINGS
TestLmdbChainStore = LmdbChainStoreMachine.TestCase
TestLmdbChainStore.settings = MACHINE_SETTINGS
