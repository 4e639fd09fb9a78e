"""gettxoutproof and verifytxoutproof against the in-memory node: a proof
round-trips to its txids, a forged one does not."""

from __future__ import annotations

import msgspec
from rpc_helpers import ChainFacts, MemoryNode, RpcHttp

from timecoin.encoding import decode, encode
from timecoin.rpc.proof_handlers import TxOutProof
from timecoin.types import compute_txid


async def test_txoutproof_round_trip(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    payment = compute_txid(chain.payment_tx).hex()
    coinbase = compute_txid(chain.coinbase_tx).hex()
    proof = await rpc.call("gettxoutproof", [payment])
    assert await rpc.call("verifytxoutproof", proof) == [payment]
    both = await rpc.call("gettxoutproof", [coinbase, payment], chain.block1_hash.hex())
    assert await rpc.call("verifytxoutproof", both) == [coinbase, payment]

    decoded = decode(bytes.fromhex(proof), TxOutProof, 1 << 20)
    (branch,) = decoded.branches
    moved = msgspec.structs.replace(branch, index=1 - branch.index)
    forged = msgspec.structs.replace(decoded, branches=[moved])
    assert await rpc.call("verifytxoutproof", encode(forged).hex()) == []
    other_header = node.blocks[chain.genesis_hash].header
    elsewhere = msgspec.structs.replace(
        decoded, header=msgspec.structs.replace(other_header, height=5)
    )
    assert (await rpc.error("verifytxoutproof", encode(elsewhere).hex()))["code"] == -5


async def test_txoutproof_errors(rpc: RpcHttp, chain: ChainFacts) -> None:
    payment = compute_txid(chain.payment_tx).hex()
    assert (await rpc.error("gettxoutproof", []))["code"] == -8
    assert (await rpc.error("gettxoutproof", [payment, payment]))["code"] == -8
    assert (await rpc.error("gettxoutproof", ["00" * 32]))["code"] == -5
    error = await rpc.error("gettxoutproof", [payment], chain.genesis_hash.hex())
    assert error["code"] == -5 and error["message"].startswith("Not all transactions")
    assert (await rpc.error("verifytxoutproof", "zz"))["code"] == -22
    assert (await rpc.error("verifytxoutproof", "00"))["code"] == -22
