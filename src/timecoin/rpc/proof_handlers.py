"""TimeCoin's proof methods: getfinalityproof (a light proof a client checks
offline with `timecoin verify-proof`, docs/spec/light.md) and getvotingset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

from timecoin.rpc.api import NodeApi, NodeApiError
from timecoin.rpc.arguments import Method, Param, int_in_range, to_hash
from timecoin.rpc.errors import RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER, RpcError
from timecoin.rpc.jsonshape import voting_set_json
from timecoin.types import VotingSet

MAX_EPOCH: Final = 2**63 - 1


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
    return {
        "txid": txid.hex(),
        "proof": info.data.hex(),
        "finalepoch": info.final_epoch,
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


def _method(handler: Any, *params: Param) -> Method:
    summary = " ".join((handler.__doc__ or "").split())
    return Method(handler.__name__, handler, params, "Finality", summary)


PROOF_METHODS: Final[tuple[Method, ...]] = (
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
