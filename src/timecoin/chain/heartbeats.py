"""Attested heartbeats in blocks, seen from the chain state.

Thin wrappers over `timecoin.masternode.heartbeat` that read the registry,
the voting set and the window seed from a `ChainState`: what a block
builder calls to choose the heartbeats of the next block, and what the
gossip of attested heartbeats calls to check one. The block rule itself is
`check_block_heartbeats`, run by `validate_block`. docs/spec/heartbeats.md
states the rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from timecoin.chain.certificate import Verifier
from timecoin.chain.state import ChainState, voting_set_at
from timecoin.masternode import (
    MasternodeEntry,
    compute_reward_window,
    get_window_seed,
    select_block_heartbeats,
    select_witnesses,
    verify_attested_heartbeat,
)
from timecoin.types import AttestedHeartbeat, Voter, VotingSet

__all__ = [
    "get_next_block_witnesses",
    "select_next_block_heartbeats",
    "verify_next_block_heartbeat",
]


def _next_block_context(state: ChainState) -> tuple[int, VotingSet, bytes]:
    height = state.height + 1
    voting_set = voting_set_at(state, height)
    if voting_set is None:
        # The registry after block h always holds the voting set of h + 1.
        raise AssertionError(f"chain state at {state.height} holds no voting set for {height}")
    seed = get_window_seed(state.registry, height, state.block_hash, state.params)
    return height, voting_set, seed


def get_next_block_witnesses(
    state: ChainState, masternode_id: bytes
) -> tuple[int, bytes, list[Voter]]:
    """The reward window of the block after `state`'s tip, its seed, and the
    witnesses of `masternode_id` in it (`select_witnesses`).

    A masternode sends its heartbeat to these witnesses; a witness signs
    `compute_attestation_signing_message(chain_id, heartbeat, window, seed)`
    when it finds itself among them.
    """
    height, voting_set, seed = _next_block_context(state)
    window = compute_reward_window(height, state.params)
    return window, seed, select_witnesses(voting_set, seed, window, masternode_id)


def verify_next_block_heartbeat(
    attested: AttestedHeartbeat, state: ChainState, *, verifier: Verifier
) -> MasternodeEntry:
    """Check that the block after `state`'s tip may carry `attested`
    (`verify_attested_heartbeat`); return the masternode's entry.

    Raises:
        InvalidVote: the code of the first broken rule.
    """
    height, voting_set, seed = _next_block_context(state)
    return verify_attested_heartbeat(
        attested,
        state.registry,
        voting_set,
        height,
        seed,
        state.params.chain_id,
        verifier,
        state.params,
    )


def select_next_block_heartbeats(
    candidates: Iterable[AttestedHeartbeat],
    state: ChainState,
    *,
    verifier: Verifier,
    max_count: int | None = None,
) -> list[AttestedHeartbeat]:
    """The attested heartbeats the block after `state`'s tip should carry
    (`select_block_heartbeats`): valid ones only, the highest sequence per
    masternode, sorted by masternode id. Pass the result as `build_block`'s
    `attestations`."""
    height, voting_set, _seed = _next_block_context(state)
    return select_block_heartbeats(
        candidates,
        state.registry,
        voting_set,
        height,
        state.block_hash,
        state.params.chain_id,
        verifier,
        state.params,
        max_count=max_count,
    )
