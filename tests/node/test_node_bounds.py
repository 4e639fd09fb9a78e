"""The node's per-transaction maps are bounded by params, not by a fixed
count that takes the better part of an hour to fill under load: committed
transactions remembered by the finality service, the signature cache."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis, chain_state_from_genesis
from timecoin.crypto import SigningKey, address_from_public_key, sha256
from timecoin.node.bounds import (
    compute_recent_txids,
    compute_relay_cache_items,
    compute_seen_cache_size,
    compute_signature_cache_entries,
    describe_bounds,
)
from timecoin.node.config import NodeConfig
from timecoin.node.finality import CountingSignatureCache, FinalityNetwork, FinalityService
from timecoin.node.node import Node
from timecoin.params import COIN, MINIMAL, Tier, get_preset
from timecoin.types import (
    BLOCK_VERSION,
    TX_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    compute_block_hash,
    compute_txid,
)

MIB = 1 << 20
TXS_PER_BLOCK = 1_000
KEYS = [SigningKey.from_seed(bytes([n]) * 32) for n in range(1, 5)]


def test_bounds_follow_the_chain_rate_and_stay_small_on_mainnet() -> None:
    mainnet = get_preset("mainnet")
    # 60 s of the highest finality rate, or three blocks: whichever is longer
    assert compute_recent_txids(mainnet) == mainnet.max_final_tps * 180
    assert compute_recent_txids(MINIMAL) == MINIMAL.max_final_tps * 60
    assert compute_signature_cache_entries(mainnet) == mainnet.max_final_tps * 180 * 2
    assert compute_relay_cache_items(mainnet) == mainnet.max_final_tps * 30
    assert compute_seen_cache_size(mainnet) == mainnet.max_final_tps * 180 * 2
    # the four maps that held the growth under load, in bytes per node
    assert sum(describe_bounds(mainnet).values()) < 64 * MIB


def test_the_node_sizes_its_signature_cache_from_params(tmp_path: Path) -> None:
    async def build() -> Node:
        return Node(NodeConfig(), tmp_path)

    node = asyncio.run(build())
    assert node.sig_cache.max_entries == compute_signature_cache_entries(node.params)
    node.executor.shutdown()
    node.rpc_executor.shutdown()
    node.batch_verifier.close()


def _transfer(n: int) -> Transaction:
    """A transaction spending a made-up coin (the service does not validate committed ones)."""
    return Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=OutPoint(sha256(n.to_bytes(8, "big")), 0), public_key=bytes(32))],
        outputs=[TxOutput(amount=COIN, address=bytes(20))],
        lock_time=0,
        payload=None,
        signatures=[bytes(64)],
        owner_signature=None,
    )


def test_committed_transactions_remembered_stay_within_the_bound() -> None:
    genesis = build_genesis(
        GenesisSpec(
            params=MINIMAL,
            timestamp_ms=1_700_000_000_000,
            allocations=(),
            masternodes=tuple(
                GenesisMasternode(
                    tier=Tier.BRONZE,
                    owner_key=key.public_key,
                    operator_key=key.public_key,
                    reward_address=address_from_public_key(key.public_key),
                    network_address=f"127.0.0.{i + 1}:24300".encode(),
                )
                for i, key in enumerate(KEYS)
            ),
        )
    )
    state, _ = chain_state_from_genesis(genesis, MINIMAL)
    bound = compute_recent_txids(MINIMAL)

    async def run() -> None:
        service = FinalityService(
            params=MINIMAL,
            chain=None,  # type: ignore[arg-type]
            state=state,
            key=None,
            wal=None,  # type: ignore[arg-type]
            final_store=None,  # type: ignore[arg-type]
            network=FinalityNetwork(lambda m: None, lambda t, p: None, lambda e: None),
            executor=ThreadPoolExecutor(max_workers=1),
            sig_cache=CountingSignatureCache(),
            voting_sets={},
        )
        blocks = bound // TXS_PER_BLOCK + 5
        txids: list[bytes] = []
        for number in range(blocks):
            txs = [_transfer(number * TXS_PER_BLOCK + i) for i in range(TXS_PER_BLOCK)]
            txids.extend(compute_txid(tx) for tx in txs)
            header = BlockHeader(
                version=BLOCK_VERSION,
                chain_id=MINIMAL.chain_id,
                height=1,  # the height the service reads for the status only
                epoch=0,
                prev_hash=ZERO_HASH,
                timestamp_ms=number,
                proposer=bytes(32),
                tx_root=ZERO_HASH,
                witness_root=ZERO_HASH,
                prev_certificate_hash=ZERO_HASH,
                evidence_hash=ZERO_HASH,
                attestations_hash=ZERO_HASH,
                utxo_commitment=ZERO_HASH,
                next_voting_set_hash=ZERO_HASH,
            )
            block = Block(
                header=header, transactions=txs, prev_certificate=None, evidence=[], attestations=[]
            )
            service.on_block_committed(block, compute_block_hash(header), state)
        assert len(txids) > bound
        assert service.is_confirmed(txids[-1])
        assert not service.is_confirmed(txids[0])
        remembered = sum(service.is_confirmed(txid) for txid in txids)
        assert remembered == bound
        await service.stop()

    asyncio.run(run())
