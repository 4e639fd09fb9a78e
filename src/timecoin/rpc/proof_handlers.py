"""Proof methods: bitcoind's gettxoutproof and verifytxoutproof (merkle
branches of txids in a block), and TimeCoin's getfinalityproof (a light
proof a client checks offline with `timecoin verify-proof`,
docs/spec/light.md) and getvotingset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Protocol

import msgspec
from msgspec import Meta

from timecoin.crypto import MerkleProof, merkle_proof, verify_merkle_proof
from timecoin.encoding import DecodeError, decode, encode
from timecoin.rpc.api import NodeApi, NodeApiError
from timecoin.rpc.arguments import Method, Param, int_in_range, is_hex, to_hash
from timecoin.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RpcError,
)
from timecoin.rpc.jsonshape import voting_set_json
from timecoin.types import BlockHeader, VotingSet, compute_block_hash, compute_txid

MAX_EPOCH: Final = 2**63 - 1
MAX_PROOF_TXIDS: Final = 1_000
MAX_TXOUTPROOF_BYTES: Final = 4_000_000


class TxBranch(msgspec.Struct, array_like=True, frozen=True):
    """A txid, leaf `index` of the block's txid tree, and its merkle siblings."""

    txid: Annotated[bytes, Meta(min_length=32, max_length=32)]
    index: Annotated[int, Meta(ge=0, le=0xFFFF_FFFF)]
    siblings: Annotated[list[bytes], Meta(max_length=64)]


class TxOutProof(msgspec.Struct, array_like=True, frozen=True):
    """`gettxoutproof`'s result: a block header, its transaction count, and
    a branch from each txid to the header's `tx_root` (docs/rpc.md)."""

    header: BlockHeader
    tx_count: Annotated[int, Meta(ge=1, le=0xFFFF_FFFF)]
    branches: Annotated[list[TxBranch], Meta(max_length=MAX_PROOF_TXIDS)]


class ProofUnavailableError(NodeApiError):
    """The node cannot build the proof asked for; the message says why."""


@dataclass(frozen=True, slots=True)
class LightProofInfo:
    """An encoded light proof and what it claims."""

    data: bytes
    final_epoch: int | None
    included_height: int | None
    header_count: int


class ProofNodeApi(NodeApi, Protocol):
    """`NodeApi` plus light proofs and historic voting sets."""

    async def get_light_proof(self, txid: bytes, checkpoint_height: int) -> LightProofInfo:
        """A light proof of `txid` from the block at `checkpoint_height`.

        Raises ProofUnavailableError (unknown transaction, no proof held and
        not in a recent block, checkpoint out of range).
        """
        ...

    async def get_voting_set(self, epoch: int | None) -> VotingSet | None:
        """The voting set of `epoch` (None: the current epoch's), None if unknown."""
        ...


async def getfinalityproof(api: ProofNodeApi, txid: bytes, checkpoint_height: int) -> object:
    """A light proof that a transaction is final (its finality proof and the
    headers committing its voting set) and/or in a block (a merkle branch),
    from the block at `checkpoint_height` (default genesis); check it offline
    with `timecoin verify-proof`."""
    try:
        info = await api.get_light_proof(txid, checkpoint_height)
    except ProofUnavailableError as exc:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, str(exc)) from None
    checkpoint_hash = await api.get_block_hash(checkpoint_height)
    voting_set = None
    if info.final_epoch is not None:
        voting_set = await api.get_voting_set(info.final_epoch)
    return {
        "txid": txid.hex(),
        "proof": info.data.hex(),
        "finalepoch": info.final_epoch,
        "votingset": None if voting_set is None else voting_set_json(voting_set),
        "includedheight": info.included_height,
        "checkpoint": f"{checkpoint_height}:{checkpoint_hash.hex() if checkpoint_hash else ''}",
        "headers": info.header_count,
    }


async def getvotingset(api: ProofNodeApi, epoch: int | None) -> object:
    """The voting set of `epoch` (default: the current epoch): voters, weights, hash."""
    voting_set = await api.get_voting_set(epoch)
    if voting_set is None:
        raise RpcError(RPC_INVALID_PARAMETER, f"the voting set of epoch {epoch} is not known")
    return voting_set_json(voting_set)


def _to_proof_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected a hex string")
    return value


def _to_txids(value: object, name: str) -> list[bytes]:
    if not isinstance(value, list):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an array of txids")
    if not value or len(value) > MAX_PROOF_TXIDS:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name}: 1 to {MAX_PROOF_TXIDS} txids")
    txids = [to_hash(item, "txid") for item in value]
    if len(set(txids)) != len(txids):
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, duplicated txid")
    return txids


async def gettxoutproof(api: ProofNodeApi, txids: list[bytes], blockhash: bytes | None) -> object:
    """Hex of a proof that the txids are in one block (the block `blockhash`,
    or the one holding the first txid): its header and a merkle branch per txid."""
    if blockhash is None:
        found = await api.get_transaction(txids[0])
        if found is None or found.block_hash is None:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not yet in block")
        blockhash = found.block_hash
    block = await api.get_block(blockhash)
    if block is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    leaves = [compute_txid(tx) for tx in block.transactions]
    position = {txid: index for index, txid in enumerate(leaves)}
    if any(txid not in position for txid in txids):
        raise RpcError(
            RPC_INVALID_ADDRESS_OR_KEY, "Not all transactions found in specified or retrieved block"
        )
    branches = []
    for txid in txids:
        branch = merkle_proof(leaves, position[txid])
        branches.append(TxBranch(txid, branch.index, list(branch.siblings)))
    return encode(TxOutProof(block.header, len(leaves), branches)).hex()


async def verifytxoutproof(api: ProofNodeApi, proof: str) -> object:
    """The txids a gettxoutproof proof commits to; -5 when its block is not
    in the active chain, -22 when it is not a proof, [] when a branch fails."""
    if len(proof) > 2 * MAX_TXOUTPROOF_BYTES or not is_hex(proof):
        raise RpcError(RPC_DESERIALIZATION_ERROR, "Proof must be a hex string")
    try:
        decoded = decode(bytes.fromhex(proof), TxOutProof, MAX_TXOUTPROOF_BYTES)
    except DecodeError as exc:
        raise RpcError(RPC_DESERIALIZATION_ERROR, f"Not a transaction proof: {exc}") from None
    header = decoded.header
    if await api.get_block_hash(header.height) != compute_block_hash(header):
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found in chain")
    for branch in decoded.branches:
        merkle = MerkleProof(branch.index, decoded.tx_count, tuple(branch.siblings))
        if not verify_merkle_proof(header.tx_root, branch.txid, merkle):
            return []
    return [branch.txid.hex() for branch in decoded.branches]


def _method(handler: Any, *params: Param, category: str = "Finality") -> Method:
    summary = " ".join((handler.__doc__ or "").split())
    return Method(handler.__name__, handler, params, category, summary)


PROOF_METHODS: Final[tuple[Method, ...]] = (
    _method(
        gettxoutproof,
        Param("txids", _to_txids, help="txids, all in one block"),
        Param("blockhash", to_hash, None, is_text=True, help="the block to look in"),
        category="Blockchain",
    ),
    _method(
        verifytxoutproof,
        Param("proof", _to_proof_text, is_text=True, help="hex from gettxoutproof"),
        category="Blockchain",
    ),
    _method(
        getfinalityproof,
        Param("txid", to_hash, is_text=True, help="transaction id, 64 hex digits"),
        Param("checkpoint_height", int_in_range(0, MAX_EPOCH), 0, help="trusted block height"),
    ),
    _method(
        getvotingset,
        Param("epoch", int_in_range(0, MAX_EPOCH), None, help="epoch (default: current)"),
    ),
)
"""The proof methods, merged into the method table by `handlers`."""
