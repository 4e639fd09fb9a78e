"""Attested heartbeats in blocks: signing bytes, witnesses, every block rule
broken once with its reject code, selection for builders, and what the
registry records."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace as dc_replace

import msgspec
import pytest
from heartbeat_helpers import (
    FREE,
    MASTERNODE_IDS,
    OPERATORS,
    PARAMS,
    Node,
    attest,
    make_key,
)

from timecoin.chain import get_next_block_witnesses, select_next_block_heartbeats
from timecoin.crypto import DOMAIN_ATTESTATION, DOMAIN_HEARTBEAT, sha256, signing_message, verify
from timecoin.encoding import encode
from timecoin.masternode import (
    compute_attestation_signing_message,
    compute_heartbeat_signing_message,
    compute_required_attestations,
    get_entry,
    select_witnesses,
    sign_attestation,
)
from timecoin.masternode import errors as mn_errors
from timecoin.types import AttestedHeartbeat, Block, InvalidBlock, Voter, VotingSet

replace = msgspec.structs.replace


def _chain(blocks: int) -> Node:
    node = Node.from_genesis()
    for _ in range(blocks):
        node.step()
    return node


BASE = _chain(4)  # the next block, height 5, is the second of window 2


def reject_code(node: Node, attestations: list[AttestedHeartbeat]) -> str:
    """The code `build_block` reports: the code `validate_block` gives any
    block with these attestations (both run the same transition)."""
    with pytest.raises(InvalidBlock) as info:
        node.build(attestations=attestations)
    return info.value.reject_code


def test_signing_bytes_layout() -> None:
    message = compute_heartbeat_signing_message(PARAMS.chain_id, bytes(32), 7, 1_000)
    assert message == signing_message(
        DOMAIN_HEARTBEAT, PARAMS.chain_id, encode((bytes(32), 7, 1_000))
    )
    heartbeat = attest(BASE.state, 0, 9).heartbeat
    attestation = compute_attestation_signing_message(PARAMS.chain_id, heartbeat, 3, bytes(32))
    payload = encode((heartbeat.masternode_id, 9, heartbeat.timestamp_ms, 3, bytes(32)))
    assert attestation == signing_message(DOMAIN_ATTESTATION, PARAMS.chain_id, payload)
    # Bound to the window and its seed.
    assert attestation != compute_attestation_signing_message(
        PARAMS.chain_id, heartbeat, 4, bytes(32)
    )
    assert attestation != compute_attestation_signing_message(
        PARAMS.chain_id, heartbeat, 3, sha256(b"x")
    )


def _voting_set(weights: list[int]) -> VotingSet:
    voters = [Voter(sha256(bytes([i])), sha256(bytes([100 + i])), w) for i, w in enumerate(weights)]
    return VotingSet(0, voters)


def test_witnesses_are_three_others_by_weight_or_all_others() -> None:
    voting_set = _voting_set([100, 10, 1, 1, 1])
    me = voting_set.voters[0].masternode_id
    chosen = select_witnesses(voting_set, sha256(b"seed"), 5, me)
    assert len(chosen) == 3 == len({v.operator_key for v in chosen})
    assert me not in {v.masternode_id for v in chosen}
    assert chosen == select_witnesses(voting_set, sha256(b"seed"), 5, me)  # deterministic
    small = _voting_set([1, 1, 1])
    assert select_witnesses(small, sha256(b"seed"), 5, small.voters[1].masternode_id) == [
        small.voters[0],
        small.voters[2],
    ]
    assert select_witnesses(_voting_set([]), sha256(b"seed"), 5, me) == []
    # Heavier members are drawn more often (the draw is by weight).
    counts: Counter[int] = Counter()
    heavy = _voting_set([1, 1, 1, 1, 1, 50])
    for window in range(300):
        for voter in select_witnesses(heavy, sha256(b"s"), window, bytes(32)):
            counts[voter.weight] += 1
    assert counts[50] == 300  # a weight of 50 among 55 is (almost) always drawn
    # Windows and seeds change the draw.
    draws = {
        tuple(v.operator_key for v in select_witnesses(voting_set, sha256(bytes([s])), w, me))
        for s in range(4)
        for w in range(4)
    }
    assert len(draws) > 1


def test_required_attestations_two_of_three_or_all() -> None:
    assert [compute_required_attestations(n) for n in range(5)] == [0, 1, 2, 2, 2]


def test_a_verified_heartbeat_is_recorded_and_validated_by_a_peer() -> None:
    node = _chain(4)
    applied = node.step(heartbeats_from=[0, 5], sequence=42)
    assert len(applied.block.attestations) == 2
    for index in (0, 5):
        entry = get_entry(node.state.registry, MASTERNODE_IDS[index])
        assert entry is not None
        assert (entry.last_heartbeat_sequence, entry.last_heartbeat_window) == (42, 2)
    # 2 of 3 attestations are enough.
    node.step()
    node.step()
    two = attest(node.state, 1, 50, witnesses=2)
    assert len(two.attestations) == 2
    node.accept(node.validate(node.build(attestations=[two]).block))


def _sorted(*items: AttestedHeartbeat) -> list[AttestedHeartbeat]:
    return sorted(items, key=lambda a: a.heartbeat.masternode_id)


def test_every_heartbeat_rule() -> None:
    state = BASE.state
    good = attest(state, 0, 10)
    other = attest(state, 1, 10)
    first, second = _sorted(good, other)
    assert reject_code(BASE, [second, first]) == mn_errors.REJECT_UNORDERED_HEARTBEATS
    assert reject_code(BASE, [first, first]) == mn_errors.REJECT_UNORDERED_HEARTBEATS
    unknown = replace(good, heartbeat=replace(good.heartbeat, masternode_id=sha256(b"nobody")))
    assert reject_code(BASE, [unknown]) == mn_errors.REJECT_HEARTBEAT_UNKNOWN_MASTERNODE
    assert reject_code(BASE, [attest(state, 0, 10, witnesses=1)]) == (
        mn_errors.REJECT_TOO_FEW_ATTESTATIONS
    )
    stranger = make_key("stranger")
    forged = sign_attestation(stranger, PARAMS.chain_id, good.heartbeat, 2, state.block_hash)
    with_stranger = replace(
        good, attestations=sorted([*good.attestations[:2], forged], key=lambda a: a.witness)
    )
    assert reject_code(BASE, [with_stranger]) == mn_errors.REJECT_UNEXPECTED_WITNESS
    reversed_order = replace(good, attestations=list(reversed(good.attestations)))
    assert reject_code(BASE, [reversed_order]) == mn_errors.REJECT_UNORDERED_ATTESTATIONS
    twice = replace(good, attestations=[good.attestations[0], good.attestations[0]])
    assert reject_code(BASE, [twice]) == mn_errors.REJECT_UNORDERED_ATTESTATIONS
    bad_sig = replace(good, heartbeat=replace(good.heartbeat, signature=bytes(64)))
    assert reject_code(BASE, [bad_sig]) == mn_errors.REJECT_BAD_HEARTBEAT_SIGNATURE
    signed_by_other = replace(
        good,
        heartbeat=replace(good.heartbeat, signature=OPERATORS[1].sign(b"not the heartbeat")),
    )
    assert reject_code(BASE, [signed_by_other]) == mn_errors.REJECT_BAD_HEARTBEAT_SIGNATURE
    bad_attestation = replace(
        good,
        attestations=[replace(good.attestations[0], signature=bytes(64)), *good.attestations[1:]],
    )
    assert reject_code(BASE, [bad_attestation]) == mn_errors.REJECT_BAD_ATTESTATION_SIGNATURE


def test_one_heartbeat_per_window_sequence_monotonic_and_bound_to_the_window() -> None:
    node = _chain(3)  # block 4 starts window 2
    late = attest(node.state, 0, 10)  # attested for window 2
    node.step(heartbeats_from=[0], sequence=10)
    # Block 5, same window: a second heartbeat is a duplicate.
    assert reject_code(node, [attest(node.state, 0, 11)]) == mn_errors.REJECT_DUPLICATE_HEARTBEAT
    node.step()
    # Block 6, window 3: sequence must grow; an attestation of window 2 is void.
    assert reject_code(node, [attest(node.state, 0, 10)]) == mn_errors.REJECT_STALE_HEARTBEAT
    # The old attestations under a new sequence: the witnesses of window 3
    # differ or their signatures (over window 2) do not verify.
    moved = replace(attest(node.state, 0, 11), attestations=late.attestations)
    assert reject_code(node, [moved]) in {
        mn_errors.REJECT_UNEXPECTED_WITNESS,
        mn_errors.REJECT_UNORDERED_ATTESTATIONS,
        mn_errors.REJECT_BAD_ATTESTATION_SIGNATURE,
    }
    node.step(heartbeats_from=[0], sequence=11)


@pytest.mark.parametrize("field", ["banned_from_epoch", "deregistered_from_epoch"])
def test_banned_or_deregistered_masternodes_cannot_heartbeat(field: str) -> None:
    node = _chain(4)
    entry = get_entry(node.state.registry, MASTERNODE_IDS[2])
    assert entry is not None
    changed = replace(entry, **{field: 2})
    entries = tuple(changed if e is entry else e for e in node.state.registry.entries)
    node.state = dc_replace(node.state, registry=replace(node.state.registry, entries=entries))
    code = reject_code(node, [attest(node.state, 2, 10)])
    assert code == mn_errors.REJECT_HEARTBEAT_INACTIVE_MASTERNODE


def test_builders_select_the_best_valid_heartbeat_per_masternode() -> None:
    state = BASE.state
    low, high = attest(state, 0, 10), attest(state, 0, 12)
    broken = replace(attest(state, 1, 12), attestations=[])
    other = attest(state, 3, 1)
    chosen = select_next_block_heartbeats([other, low, broken, high], state, verifier=verify)
    assert chosen == _sorted(high, other)
    assert select_next_block_heartbeats([low, high], state, verifier=verify, max_count=0) == []
    BASE.validate(BASE.build(attestations=chosen).block)


def test_witnesses_for_the_next_block_come_from_the_committee() -> None:
    window, seed, witnesses = get_next_block_witnesses(BASE.state, MASTERNODE_IDS[0])
    assert window == 2 and seed == BASE.state.registry.window_seed
    members = {v.operator_key for v in BASE.state.registry.voting_set.voters}
    assert len(witnesses) == 3 and {v.operator_key for v in witnesses} <= members
    assert OPERATORS[0].public_key not in {v.operator_key for v in witnesses}
    # A Free masternode is witnessed by three committee members too.
    _, _, free_witnesses = get_next_block_witnesses(BASE.state, MASTERNODE_IDS[FREE[0]])
    assert len(free_witnesses) == 3 and {v.operator_key for v in free_witnesses} <= members


def test_window_seed_is_the_hash_before_the_window() -> None:
    node = _chain(3)
    tip = node.state.block_hash  # block 3 ends window 1
    node.step()
    assert node.state.registry.window_seed == tip
    node.step()
    assert node.state.registry.window_seed == tip
    node.step()
    assert node.state.registry.window_seed == node.applied[-1].block.header.prev_hash


def test_unchecked_blocks_never_reach_the_registry() -> None:
    block: Block = BASE.build(attestations=[attest(BASE.state, 0, 10)]).block
    tampered = replace(block, attestations=[])
    with pytest.raises(InvalidBlock):
        BASE.validate(tampered)
