"""Heartbeats, their witnesses and attestations, reward windows and eligibility.

A masternode proves it is alive with a heartbeat signed by its operator key
(every `params.heartbeat_interval_ms`, sequence strictly increasing). Three
committee members, drawn by voting weight per reward window from the
window's seed, are its witnesses; a heartbeat with the attestations of two
of them (all of them when fewer than three exist) is verified, and a block
may carry it: at most one per masternode per reward window. The registry
records the last one of each masternode, which decides reward eligibility
and, when too old, exclusion from the next epoch's voting set.

Everything here is pure: time is the chain's height, randomness the chain's
hashes. docs/spec/heartbeats.md states the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from timecoin.crypto import (
    DOMAIN_ATTESTATION,
    DOMAIN_HEARTBEAT,
    SigningKey,
    sha256,
    signing_message,
)
from timecoin.encoding import encode, u32be, u64be
from timecoin.masternode import errors
from timecoin.masternode.state import MasternodeEntry, RegistryState, get_entry, is_active
from timecoin.params import ChainParams
from timecoin.types import (
    AttestedHeartbeat,
    Heartbeat,
    InvalidBlock,
    InvalidVote,
    Voter,
    VotingSet,
    WitnessSignature,
)

__all__ = [
    "REQUIRED_ATTESTATIONS",
    "WITNESS_COUNT",
    "HeartbeatVerifier",
    "check_block_heartbeats",
    "compute_attestation_signing_message",
    "compute_heartbeat_signing_message",
    "compute_last_seen_window",
    "compute_required_attestations",
    "compute_reward_window",
    "get_window_seed",
    "is_first_height_of_window",
    "is_heartbeat_overdue",
    "is_reward_eligible",
    "select_block_heartbeats",
    "select_witnesses",
    "sign_attestation",
    "sign_heartbeat",
    "verify_attested_heartbeat",
    "verify_heartbeat_signature",
]

WITNESS_COUNT: Final = 3
"""Witnesses drawn per masternode and reward window."""

REQUIRED_ATTESTATIONS: Final = 2
"""Attestations a heartbeat needs when it has `WITNESS_COUNT` witnesses: one
witness may be offline or slow without costing the masternode its window."""

HeartbeatVerifier = Callable[[bytes, bytes, bytes], bool]
"""``verifier(public_key, message, signature) -> bool``: the consensus
signature rule (`timecoin.crypto.verify` or a caching wrapper around it)."""


# --- reward windows -------------------------------------------------------


def compute_reward_window(height: int, params: ChainParams) -> int:
    """The reward window of block `height`: `height // params.reward_window_blocks`."""
    return height // params.reward_window_blocks


def is_first_height_of_window(height: int, params: ChainParams) -> bool:
    """True when block `height` starts a reward window (genesis starts window 0)."""
    return height % params.reward_window_blocks == 0


def get_window_seed(
    state: RegistryState, height: int, prev_hash: bytes, params: ChainParams
) -> bytes:
    """The seed of the reward window of block `height`, the block after `state`.

    It is the `prev_hash` of the window's first block: `prev_hash` itself when
    block `height` starts the window, else the seed the state recorded when
    the window started. Witnesses of the whole window are drawn from it, so a
    masternode knows them as soon as the window's first block is proposed.

    Raises:
        ValueError: `height` is not `state.height + 1`.
    """
    if height != state.height + 1:
        raise ValueError(f"height: expected {state.height + 1}, got {height}")
    if is_first_height_of_window(height, params):
        return prev_hash
    return state.window_seed


def compute_last_seen_window(entry: MasternodeEntry, params: ChainParams) -> int:
    """The window of the entry's last verified heartbeat; before its first one,
    the window of its registration (the grace period of new and genesis
    masternodes)."""
    if entry.last_heartbeat_window is not None:
        return entry.last_heartbeat_window
    return compute_reward_window(entry.registered_height, params)


def is_reward_eligible(entry: MasternodeEntry, height: int, params: ChainParams) -> bool:
    """True when `entry` may be drawn for the rewards of block `height`.

    It must be active in the block's epoch (`is_active`: not banned, not
    deregistered, registered before) and have a verified heartbeat on chain
    at most `params.heartbeat_grace_windows` windows before the block's
    window. A masternode that never had a heartbeat verified earns nothing.
    `entry` is read from the registry after block `height - 1`.
    """
    if not is_active(entry, params.epoch_of(height)):
        return False
    last = entry.last_heartbeat_window
    if last is None:
        return False
    return compute_reward_window(height, params) - last <= params.heartbeat_grace_windows


def is_heartbeat_overdue(entry: MasternodeEntry, height: int, params: ChainParams) -> bool:
    """True when, after block `height`, the entry has had no verified heartbeat
    for more than `params.heartbeat_removal_windows` windows (counted from its
    registration while it has none). The epoch boundary leaves such staked
    entries out of the next voting set."""
    elapsed = compute_reward_window(height, params) - compute_last_seen_window(entry, params)
    return elapsed > params.heartbeat_removal_windows


# --- signing bytes ---------------------------------------------------------


def compute_heartbeat_signing_message(
    chain_id: int, masternode_id: bytes, sequence: int, timestamp_ms: int
) -> bytes:
    """The bytes an operator key signs for a heartbeat:
    `signing_message(DOMAIN_HEARTBEAT, chain_id, encode((masternode_id, sequence, timestamp_ms)))`.
    """
    payload = encode((masternode_id, sequence, timestamp_ms))
    return signing_message(DOMAIN_HEARTBEAT, chain_id, payload)


def compute_attestation_signing_message(
    chain_id: int, heartbeat: Heartbeat, window: int, window_seed: bytes
) -> bytes:
    """The bytes a witness signs to attest `heartbeat` in reward window `window`:
    `signing_message(DOMAIN_ATTESTATION, chain_id, encode((masternode_id,
    sequence, timestamp_ms, window, window_seed)))`.

    The window and its seed bind the attestation to one window of one chain:
    it cannot be carried by a block of a later window or of another branch.
    """
    payload = encode(
        (heartbeat.masternode_id, heartbeat.sequence, heartbeat.timestamp_ms, window, window_seed)
    )
    return signing_message(DOMAIN_ATTESTATION, chain_id, payload)


def sign_heartbeat(
    operator_key: SigningKey, chain_id: int, masternode_id: bytes, sequence: int, timestamp_ms: int
) -> Heartbeat:
    """A heartbeat of `masternode_id` signed by its operator key."""
    message = compute_heartbeat_signing_message(chain_id, masternode_id, sequence, timestamp_ms)
    return Heartbeat(masternode_id, sequence, timestamp_ms, operator_key.sign(message))


def sign_attestation(
    witness_key: SigningKey, chain_id: int, heartbeat: Heartbeat, window: int, window_seed: bytes
) -> WitnessSignature:
    """A witness's attestation of `heartbeat` for reward window `window`."""
    message = compute_attestation_signing_message(chain_id, heartbeat, window, window_seed)
    return WitnessSignature(witness_key.public_key, witness_key.sign(message))


# --- witnesses -------------------------------------------------------------


def _compute_witness_draw(window_seed: bytes, window: int, masternode_id: bytes, draw: int) -> int:
    # 32 + 8 + 32 + 4 = 76 bytes: never the input of another draw's hash
    # (committee tie-breaks hash 64 bytes, reward draws 36).
    message = window_seed + u64be(window) + masternode_id + u32be(draw)
    return int.from_bytes(sha256(message), "big")


def select_witnesses(
    voting_set: VotingSet, prev_block_hash: bytes, window: int, masternode_id: bytes
) -> list[Voter]:
    """The witnesses of `masternode_id`'s heartbeats in reward window `window`.

    The candidates are the members of `voting_set` other than the masternode
    itself, in the set's canonical order. With at most `WITNESS_COUNT` of
    them, all are witnesses. Otherwise `WITNESS_COUNT` are drawn by voting
    weight without replacement: draw i takes r = sha256(prev_block_hash ||
    u64be(window) || masternode_id || u32be(i)) mod the weight of the
    candidates left, and picks the one whose cumulative-weight interval
    contains r. The result is in draw order.

    Parameters:
        voting_set: the voting set in force for the blocks of the window.
        prev_block_hash: the window seed (`get_window_seed`): the hash of the
            block before the window's first block.
        window: the reward window (`compute_reward_window`).
        masternode_id: the heartbeat's masternode.
    """
    candidates = [v for v in voting_set.voters if v.masternode_id != masternode_id]
    if len(candidates) <= WITNESS_COUNT:
        return candidates
    chosen: list[Voter] = []
    for draw in range(WITNESS_COUNT):
        total = sum(v.weight for v in candidates)
        if total <= 0:
            break
        r = _compute_witness_draw(prev_block_hash, window, masternode_id, draw) % total
        cumulative = 0
        for index, voter in enumerate(candidates):
            cumulative += voter.weight
            if r < cumulative:
                chosen.append(candidates.pop(index))
                break
    return chosen


def compute_required_attestations(witness_count: int) -> int:
    """Attestations a heartbeat with `witness_count` witnesses needs:
    `REQUIRED_ATTESTATIONS` (2 of 3), or all of them when fewer exist."""
    return min(witness_count, REQUIRED_ATTESTATIONS)


# --- verification ----------------------------------------------------------


def verify_heartbeat_signature(
    heartbeat: Heartbeat, operator_key: bytes, chain_id: int, verifier: HeartbeatVerifier
) -> None:
    """Check the heartbeat's operator signature.

    Raises:
        InvalidVote: bad-heartbeat-signature.
    """
    message = compute_heartbeat_signing_message(
        chain_id, heartbeat.masternode_id, heartbeat.sequence, heartbeat.timestamp_ms
    )
    if not verifier(operator_key, message, heartbeat.signature):
        raise InvalidVote(
            errors.REJECT_BAD_HEARTBEAT_SIGNATURE,
            f"heartbeat signature: expected a signature of operator key {operator_key.hex()}, "
            "verification failed",
        )


def verify_attested_heartbeat(
    attested: AttestedHeartbeat,
    registry: RegistryState,
    voting_set: VotingSet,
    height: int,
    window_seed: bytes,
    chain_id: int,
    verifier: HeartbeatVerifier,
    params: ChainParams,
) -> MasternodeEntry:
    """Check that a block at `height` after `registry` may carry `attested`.

    In order (cheap checks first, signatures last):

    1. heartbeat-unknown-masternode: the masternode is in the registry;
    2. heartbeat-inactive-masternode: it is neither banned nor deregistered;
    3. duplicate-heartbeat: the chain has no heartbeat of it in the window
       of `height` yet;
    4. stale-heartbeat: the sequence is above its last verified one;
    5. unexpected-witness: every attestation's key is one of the witnesses
       (`select_witnesses`);
    6. unordered-attestations: the witness keys strictly ascend (so no
       witness twice and one encoding per set of attestations);
    7. too-few-attestations: at least `compute_required_attestations`;
    8. bad-heartbeat-signature: the operator signature, under the entry's
       current operator key;
    9. bad-attestation-signature: every attestation's signature.

    The same check serves the block rule, block builders and the gossip of
    attested heartbeats (with `height` the next block's).

    Parameters:
        attested: the heartbeat and its attestations.
        registry: the registry after block `height - 1`.
        voting_set: the voting set in force for block `height`.
        height: the height of the block that would carry it.
        window_seed: `get_window_seed(registry, height, prev_hash, params)`.
        chain_id: the chain id of the signing bytes.
        verifier: the consensus signature rule.
        params: the chain parameters.

    Returns:
        The masternode's registry entry.

    Raises:
        InvalidVote: the code of the first broken rule.
    """
    heartbeat = attested.heartbeat
    masternode_id = heartbeat.masternode_id
    entry = get_entry(registry, masternode_id)
    if entry is None:
        raise InvalidVote(
            errors.REJECT_HEARTBEAT_UNKNOWN_MASTERNODE,
            f"heartbeat masternode: expected a registered masternode, {masternode_id.hex()} is not",
        )
    if entry.banned_from_epoch is not None or entry.deregistered_from_epoch is not None:
        raise InvalidVote(
            errors.REJECT_HEARTBEAT_INACTIVE_MASTERNODE,
            f"heartbeat masternode: expected one neither banned nor deregistered, "
            f"{masternode_id.hex()} is banned from epoch {entry.banned_from_epoch} and "
            f"deregistered from epoch {entry.deregistered_from_epoch}",
        )
    window = compute_reward_window(height, params)
    if entry.last_heartbeat_window == window:
        raise InvalidVote(
            errors.REJECT_DUPLICATE_HEARTBEAT,
            f"heartbeat window: expected the first heartbeat of {masternode_id.hex()} in "
            f"window {window}, the chain has one already",
        )
    last_sequence = entry.last_heartbeat_sequence
    if last_sequence is not None and heartbeat.sequence <= last_sequence:
        raise InvalidVote(
            errors.REJECT_STALE_HEARTBEAT,
            f"heartbeat sequence: expected above {last_sequence}, got {heartbeat.sequence}",
        )
    witnesses = select_witnesses(voting_set, window_seed, window, masternode_id)
    witness_keys = {v.operator_key for v in witnesses}
    previous_key = b""
    for index, attestation in enumerate(attested.attestations):
        if attestation.witness not in witness_keys:
            raise InvalidVote(
                errors.REJECT_UNEXPECTED_WITNESS,
                f"attestation {index}: expected one of the {len(witnesses)} witnesses of window "
                f"{window}, {attestation.witness.hex()} is not",
            )
        if attestation.witness <= previous_key:
            raise InvalidVote(
                errors.REJECT_UNORDERED_ATTESTATIONS,
                f"attestation {index}: expected witness keys in strictly ascending order, "
                f"{attestation.witness.hex()} follows {previous_key.hex()}",
            )
        previous_key = attestation.witness
    required = compute_required_attestations(len(witnesses))
    if len(attested.attestations) < required:
        raise InvalidVote(
            errors.REJECT_TOO_FEW_ATTESTATIONS,
            f"attestations: expected at least {required} of {len(witnesses)} witnesses, "
            f"got {len(attested.attestations)}",
        )
    verify_heartbeat_signature(heartbeat, entry.operator_key, chain_id, verifier)
    message = compute_attestation_signing_message(chain_id, heartbeat, window, window_seed)
    for index, attestation in enumerate(attested.attestations):
        if not verifier(attestation.witness, message, attestation.signature):
            raise InvalidVote(
                errors.REJECT_BAD_ATTESTATION_SIGNATURE,
                f"attestation {index}: expected a signature of witness "
                f"{attestation.witness.hex()} for window {window}, verification failed",
            )
    return entry


def check_block_heartbeats(
    attestations: Sequence[AttestedHeartbeat],
    registry: RegistryState,
    voting_set: VotingSet,
    height: int,
    prev_hash: bytes,
    chain_id: int,
    verifier: HeartbeatVerifier,
    params: ChainParams,
) -> list[Heartbeat]:
    """Check the attested heartbeats of the block at `height`; return the heartbeats.

    The masternode ids must strictly ascend (unordered-heartbeats: so at
    most one heartbeat per masternode per block, in one order), and each
    attested heartbeat must pass `verify_attested_heartbeat`. With the
    per-window rule this carries at most one verified heartbeat per
    masternode per reward window.

    Parameters:
        attestations: the block's `attestations` field.
        registry: the registry after block `height - 1`.
        voting_set: the voting set in force for block `height`.
        height: the block's height; prev_hash: its `prev_hash`.
        chain_id, verifier, params: as for `verify_attested_heartbeat`.

    Raises:
        InvalidBlock: unordered-heartbeats, or the code of
            `verify_attested_heartbeat`, with the heartbeat's index.
    """
    window_seed = get_window_seed(registry, height, prev_hash, params)
    heartbeats: list[Heartbeat] = []
    previous_id = b""
    for index, attested in enumerate(attestations):
        masternode_id = attested.heartbeat.masternode_id
        if masternode_id <= previous_id:
            raise InvalidBlock(
                errors.REJECT_UNORDERED_HEARTBEATS,
                f"heartbeat {index}: expected masternode ids in strictly ascending order, "
                f"{masternode_id.hex()} follows {previous_id.hex()}",
            )
        previous_id = masternode_id
        try:
            verify_attested_heartbeat(
                attested, registry, voting_set, height, window_seed, chain_id, verifier, params
            )
        except InvalidVote as exc:
            raise InvalidBlock(exc.reject_code, f"heartbeat {index}: {exc.message}") from exc
        heartbeats.append(attested.heartbeat)
    return heartbeats


def select_block_heartbeats(
    candidates: Iterable[AttestedHeartbeat],
    registry: RegistryState,
    voting_set: VotingSet,
    height: int,
    prev_hash: bytes,
    chain_id: int,
    verifier: HeartbeatVerifier,
    params: ChainParams,
    *,
    max_count: int | None = None,
) -> list[AttestedHeartbeat]:
    """The attested heartbeats a block at `height` should carry, in block order.

    Of the candidates that pass `verify_attested_heartbeat`, one per
    masternode: the one with the highest sequence (the first seen on a tie).
    The result is sorted by masternode id and holds at most
    `params.sizes.max_block_attestations` (and `max_count`) items, the
    lowest ids first; it passes `check_block_heartbeats`. Invalid candidates
    are skipped.

    Parameters: as for `check_block_heartbeats`; `candidates` in any order.
    """
    window_seed = get_window_seed(registry, height, prev_hash, params)
    best: dict[bytes, AttestedHeartbeat] = {}
    for attested in candidates:
        heartbeat = attested.heartbeat
        current = best.get(heartbeat.masternode_id)
        if current is not None and current.heartbeat.sequence >= heartbeat.sequence:
            continue
        try:
            verify_attested_heartbeat(
                attested, registry, voting_set, height, window_seed, chain_id, verifier, params
            )
        except InvalidVote:
            continue
        best[heartbeat.masternode_id] = attested
    limit = params.sizes.max_block_attestations
    if max_count is not None:
        limit = min(limit, max_count)
    return [best[masternode_id] for masternode_id in sorted(best)][: max(limit, 0)]
