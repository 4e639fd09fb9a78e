"""The node's wallet follows the chain from its stored coins and scan height
instead of rescanning the UTXO set at each start (real LMDB, real wallet)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from timecoin.node.walletstate import record_block, rescan_blocks, restore_wallet
from timecoin.params import get_preset
from timecoin.storage import ChainStore, LmdbStore, WriteBatch
from timecoin.storage.schema import utxo_key
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
from timecoin.wallet import KdfParams, Wallet
from timecoin.wallet.keyfile import MIN_MEMLIMIT_BYTES, MIN_OPSLIMIT

PARAMS = get_preset("devnet")
FAST_KDF = KdfParams(MIN_OPSLIMIT, MIN_MEMLIMIT_BYTES)
STRANGER = bytes(20)


def _state(n: int) -> bytes:
    return hashlib.shake_256(n.to_bytes(8, "big")).digest(384)


class TinyChain:
    """Blocks that pay and spend chosen coins, committed to a real store
    (well-formed, not consensus-valid: the wallet reads only coins)."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store
        self.coins: dict[OutPoint, Coin] = {}
        self.height = -1
        self.tip = ZERO_HASH

    def add(self, pays: list[bytes], spends: Sequence[OutPoint] = ()) -> tuple[Block, bytes]:
        height = self.height + 1
        txs = [
            Transaction(
                TX_VERSION,
                [],
                [TxOutput(5_000 + i, a) for i, a in enumerate(pays)],
                height,
                None,
                [],
                None,
            )
        ]
        if spends:
            txs.append(
                Transaction(
                    TX_VERSION,
                    [TxInput(op, bytes(32)) for op in spends],
                    [TxOutput(1_000, STRANGER)],
                    0,
                    None,
                    [bytes(64)] * len(spends),
                    None,
                )
            )
        created = {
            OutPoint(compute_txid(tx), i): Coin(o.amount, o.address, height)
            for tx in txs
            for i, o in enumerate(tx.outputs)
        }
        tx_root, witness_root = compute_tx_roots(txs)  # the store checks bodies on read
        header = BlockHeader(
            BLOCK_VERSION,
            PARAMS.chain_id,
            height,
            0,
            self.tip,
            height,
            bytes(32),
            tx_root,
            witness_root,
            bytes(32),
            compute_evidence_hash([]),
            compute_attestations_hash([]),
            bytes(32),
            bytes(32),
        )
        block = Block(header, txs, None, [], [])
        block_hash = compute_block_hash(header)
        undo = BlockUndo([SpentCoin(op, self.coins[op]) for op in spends], _state(height))
        if height == 0:
            self.store.init_genesis(block, block_hash, undo, created, _state(height + 1))
        else:
            self.store.commit_block(
                block, block_hash, undo, created, list(spends), _state(height + 1)
            )
        for op in spends:
            del self.coins[op]
        self.coins.update(created)
        self.height, self.tip = height, block_hash
        return block, block_hash

    def paying(self, addresses: list[bytes]) -> dict[OutPoint, Coin]:
        return {op: c for op, c in self.coins.items() if c.address in addresses}


def _follow(
    wallet: Wallet, chain: TinyChain, block: Block, block_hash: bytes, spends: list[OutPoint]
) -> None:
    created = {op: c for op, c in chain.coins.items() if c.height == block.header.height}
    record_block(wallet, chain.store, block.header.height, block_hash, spends, created)


def test_the_wallet_restarts_from_its_record_and_follows_missed_blocks(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    with LmdbStore(tmp_path / "chain") as kv:
        store = ChainStore(kv)
        chain = TinyChain(store)
        with Wallet.create(path, "pw", PARAMS, kdf=FAST_KDF) as wallet:
            mine = [wallet.new_address() for _ in range(3)]
            chain.add([mine[0], STRANGER, mine[1]])
            first = restore_wallet(wallet, store)
            assert first.full_scan and dict(wallet.coins()) == chain.paying(mine)
            block, block_hash = chain.add([mine[2]])
            _follow(wallet, chain, block, block_hash, [])
        # blocks committed while the wallet was not recording (a crash):
        # one spends a wallet coin, one pays the wallet
        spent = min(chain.paying(mine), key=lambda op: (op.txid, op.index))
        chain.add([STRANGER], [spent])
        chain.add([mine[1], STRANGER])
        # a damaged record of a coin not the wallet's: a rescan would meet it
        stranger = next(op for op, c in chain.coins.items() if c.address == STRANGER)
        batch = WriteBatch()
        batch.put(utxo_key(stranger), b"\x93\x00\xc4\x14" + bytes(20) + b"\x00" + bytes(8))
        kv.write(batch)
        with Wallet.open(path, "pw", PARAMS) as wallet:
            restored = restore_wallet(wallet, store)
            assert not restored.full_scan
            assert restored.followed_blocks == 2
            assert dict(wallet.coins()) == chain.paying(mine)
            assert spent not in dict(wallet.coins())
        with Wallet.open(path, "pw", PARAMS) as wallet:
            again = restore_wallet(wallet, store)
            assert (again.full_scan, again.followed_blocks) == (False, 0)
            assert dict(wallet.coins()) == chain.paying(mine)


def test_a_record_off_the_chain_means_one_scan(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    with LmdbStore(tmp_path / "chain") as kv:
        store = ChainStore(kv)
        chain = TinyChain(store)
        with Wallet.create(path, "pw", PARAMS, kdf=FAST_KDF) as wallet:
            address = wallet.new_address()
            chain.add([address])
            restore_wallet(wallet, store)
            record_block(wallet, store, 0, bytes(32), [], {})  # a block not on the chain
        with Wallet.open(path, "pw", PARAMS) as wallet:
            assert restore_wallet(wallet, store).full_scan
            assert dict(wallet.coins()) == chain.paying([address])


def test_rescan_finds_coins_the_record_missed(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    with LmdbStore(tmp_path / "chain") as kv:
        store = ChainStore(kv)
        chain = TinyChain(store)
        with Wallet.create(path, "pw", PARAMS, kdf=FAST_KDF) as wallet:
            mine = [wallet.new_address()]
            chain.add([mine[0], STRANGER])
            block, block_hash = chain.add([mine[0]])
            # a record at the tip that knows no coin (a wallet restored from its seed)
            record_block(wallet, store, block.header.height, block_hash, [], {})
        with Wallet.open(path, "pw", PARAMS) as wallet:
            restored = restore_wallet(wallet, store)
            assert (restored.full_scan, wallet.coins()) == (False, [])
            assert rescan_blocks(wallet, store, 0, chain.height) == 2
            assert dict(wallet.coins()) == chain.paying(mine)
        with Wallet.open(path, "pw", PARAMS) as wallet:
            restore_wallet(wallet, store)
            assert dict(wallet.coins()) == chain.paying(mine)
