"""What heartbeats do to the registry: reward eligibility over windows,
removal from the next epoch's voting set (with the genesis grace period and
the no-heartbeats fallback), and exact undo."""

from __future__ import annotations

import msgspec
from heartbeat_helpers import MASTERNODE_IDS, OPERATORS, PARAMS, STAKED, Node

from timecoin.encoding import decode, encode
from timecoin.masternode import (
    RegistryState,
    RegistryUndo,
    compute_last_seen_window,
    compute_reward_window,
    get_entry,
    is_heartbeat_overdue,
    is_reward_eligible,
    undo_block_registry,
)

SILENT = 4
"""A Bronze genesis masternode that never sends a heartbeat."""
MAX_BYTES = 10_000_000


def voters(node: Node) -> set[bytes]:
    return {v.operator_key for v in node.state.registry.voting_set.voters}


def test_reward_window_arithmetic() -> None:
    assert [compute_reward_window(h, PARAMS) for h in range(6)] == [0, 0, 1, 1, 2, 2]


def test_eligibility_needs_a_heartbeat_within_the_grace_windows() -> None:
    node = Node.from_genesis()
    node.step(heartbeats_from=[0])  # block 1, window 0
    entry = get_entry(node.state.registry, MASTERNODE_IDS[0])
    silent = get_entry(node.state.registry, MASTERNODE_IDS[SILENT])
    assert entry is not None and silent is not None
    grace_end = (PARAMS.heartbeat_grace_windows + 1) * PARAMS.reward_window_blocks
    assert all(is_reward_eligible(entry, h, PARAMS) for h in range(2, grace_end))
    assert not is_reward_eligible(entry, grace_end, PARAMS)
    # No heartbeat ever: no rewards, even inside the removal grace period.
    assert not is_reward_eligible(silent, 2, PARAMS)
    assert compute_last_seen_window(silent, PARAMS) == 0
    # Banned: no rewards from the ban's epoch.
    banned = msgspec.structs.replace(entry, banned_from_epoch=1)
    assert is_reward_eligible(banned, PARAMS.epoch_length - 1, PARAMS)
    assert not is_reward_eligible(banned, PARAMS.epoch_length, PARAMS)


def test_silent_masternode_leaves_the_voting_set_after_the_grace_and_comes_back() -> None:
    node = Node.from_genesis()
    talking = [i for i in STAKED if i != SILENT]
    removal_height = (PARAMS.heartbeat_removal_windows + 1) * PARAMS.reward_window_blocks
    # Genesis grace: still a voter at every boundary before the removal window ends.
    while node.state.height < removal_height - 1:
        node.step(heartbeats_from=talking)
        if node.state.height < removal_height:
            assert OPERATORS[SILENT].public_key in voters(node)
    # The first boundary after the window has passed drops it.
    while node.state.registry.voting_set.epoch == PARAMS.epoch_of(node.state.height):
        node.step(heartbeats_from=talking)
    silent = get_entry(node.state.registry, MASTERNODE_IDS[SILENT])
    assert silent is not None and is_heartbeat_overdue(silent, node.state.height, PARAMS)
    assert OPERATORS[SILENT].public_key not in voters(node)
    assert {OPERATORS[i].public_key for i in talking} == voters(node)
    # It stays registered, heartbeats again (witnessed by the committee), and
    # is back at the next boundary.
    node.step(heartbeats_from=[*talking, SILENT])
    epoch = node.state.registry.voting_set.epoch
    while node.state.registry.voting_set.epoch == epoch:
        node.step(heartbeats_from=talking)
    assert OPERATORS[SILENT].public_key in voters(node)


def test_without_any_heartbeat_on_chain_nobody_is_removed() -> None:
    node = Node.from_genesis()
    everyone = voters(node)
    for _ in range(6 * PARAMS.epoch_length):
        node.step()
    assert voters(node) == everyone


def test_heartbeat_blocks_undo_exactly_and_round_trip() -> None:
    node = Node.from_genesis()
    states: list[RegistryState] = [node.state.registry]
    for height in range(1, 14):
        node.step(heartbeats_from=STAKED if height % 3 else [0, 5])
        states.append(node.state.registry)
    registry = node.state.registry
    for applied, before in zip(reversed(node.applied), reversed(states[:-1]), strict=True):
        undo = applied.registry_undo
        assert decode(encode(undo), RegistryUndo, MAX_BYTES) == undo
        assert decode(encode(registry), RegistryState, MAX_BYTES) == registry
        registry = undo_block_registry(registry, undo)
        assert registry == before
