"""Every block rule broken once, each rejected with its reject code.

The base is a chain of 9 blocks (epoch 2 of MINIMAL, 4 Bronze voters) and a
valid block 10 with a transfer; each case changes that block (recomputing
the body commitments unless the case is about them) so that exactly one
rule breaks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace as dc_replace

import msgspec
import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    FEE,
    OPERATORS,
    PARAMS,
    Node,
    address_of,
    allocation,
    make_certificate,
    make_key,
    make_tx,
    proposal_evidence,
    registration,
    reseal,
    transfer,
    vote_evidence,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin.chain import (
    AppliedBlock,
    build_block,
    check_block,
    errors,
    validate_block,
)
from timecoin.crypto import sha256, verify
from timecoin.encoding import DecodeError, decode, encode
from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import errors as masternode_errors
from timecoin.params import COIN, SizeLimits
from timecoin.types import (
    AttestedHeartbeat,
    Block,
    Certificate,
    CommitSignature,
    DuplicateVoteEvidence,
    Evidence,
    Heartbeat,
    InvalidBlock,
    OutPoint,
    Transaction,
    TxOutput,
    compute_txid,
)

replace = msgspec.structs.replace


def build_base() -> tuple[Node, AppliedBlock]:
    node = Node.from_genesis()
    for height in range(1, 10):
        txs = (
            [transfer(allocation(height % 4), ALLOCATION_AMOUNT, ALICE, BOB)] if height < 4 else []
        )
        node.accept(node.build(txs))
    # Block 10 spends allocation 5 (still unspent).
    return node, node.build([transfer(allocation(5), ALLOCATION_AMOUNT, ALICE, BOB)])


BASE, NEXT = build_base()
BLOCK = NEXT.block


def reject_code(block: Block, node: Node = BASE) -> str:
    with pytest.raises(InvalidBlock) as info:
        node.validate(block)
    return info.value.reject_code


def with_header(block: Block, **changes: object) -> Block:
    """Header fields changed without recomputing anything."""
    return replace(block, header=replace(block.header, **changes))


def with_coinbase(block: Block, **changes: object) -> Block:
    coinbase = replace(block.transactions[0], **changes)
    return replace(block, transactions=[coinbase, *block.transactions[1:]])


def with_certificate(block: Block, certificate: Certificate | None) -> Block:
    return reseal(replace(block, prev_certificate=certificate))


def with_evidence(block: Block, *evidence: object) -> Block:
    return reseal(replace(block, evidence=list(evidence)))


def with_transactions(block: Block, *extra: Transaction) -> Block:
    """`block` with `extra` appended and their fees added to the coinbase, so
    that only the rule under test breaks. No masternode of these tests is
    reward-eligible (none has a heartbeat), so the coinbase has one output,
    the proposer's; inputs that no coin backs add nothing."""
    coins = {op: BASE.view.get_coin(op) for tx in extra for op in (i.prevout for i in tx.inputs)}
    fees = sum(coin.amount for coin in coins.values() if coin is not None) - sum(
        out.amount for tx in extra for out in tx.outputs
    )
    coinbase = block.transactions[0]
    if extra and coinbase.outputs and fees > 0:
        paid = coinbase.outputs[0]
        coinbase = replace(coinbase, outputs=[replace(paid, amount=paid.amount + fees)])
    return reseal(replace(block, transactions=[coinbase, *block.transactions[1:], *extra]))


def cert() -> Certificate:
    assert BLOCK.prev_certificate is not None
    return BLOCK.prev_certificate


def flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


HEARTBEAT = AttestedHeartbeat(
    heartbeat=Heartbeat(masternode_id=bytes(32), sequence=1, timestamp_ms=1, signature=bytes(64)),
    attestations=[],
)
STRANGER = make_key("stranger")
SECOND_SPEND = make_tx([(allocation(5), ALICE)], [(ALLOCATION_AMOUNT - 2 * FEE, address_of(ALICE))])

# (name, change to block 10, expected reject code)
CASES: list[tuple[str, Callable[[Block], Block], str]] = [
    # check_block, in order
    ("version", lambda b: reseal(b, version=2), errors.REJECT_BAD_BLOCK_VERSION),
    ("chain id", lambda b: reseal(b, chain_id=PARAMS.chain_id + 1), errors.REJECT_WRONG_CHAIN_ID),
    (
        "no coinbase",
        lambda b: reseal(replace(b, transactions=b.transactions[1:])),
        errors.REJECT_MISSING_COINBASE,
    ),
    (
        "coinbase lock time",
        lambda b: reseal(with_coinbase(b, lock_time=9)),
        ledger_errors.REJECT_COINBASE_LOCK_TIME,
    ),
    (
        "second coinbase",
        lambda b: with_transactions(b, replace(b.transactions[0], lock_time=11)),
        ledger_errors.REJECT_COINBASE_POSITION,
    ),
    ("no certificate", lambda b: with_certificate(b, None), errors.REJECT_MISSING_CERTIFICATE),
    (
        "tx root",
        lambda b: with_header(b, tx_root=sha256(b"x")),
        errors.REJECT_BAD_TX_ROOT,
    ),
    (
        "witness root (a signature swapped in the body)",
        lambda b: replace(
            b,
            transactions=[
                b.transactions[0],
                replace(b.transactions[1], signatures=[bytes(64)]),
            ],
        ),
        errors.REJECT_BAD_WITNESS_ROOT,
    ),
    (
        "certificate hash",
        lambda b: replace(b, prev_certificate=replace(cert(), round=1)),
        errors.REJECT_BAD_CERTIFICATE_HASH,
    ),
    (
        "evidence hash",
        lambda b: replace(b, evidence=[vote_evidence(OPERATORS[0], 9)]),
        errors.REJECT_BAD_EVIDENCE_HASH,
    ),
    (
        "attestations hash",
        lambda b: with_header(b, attestations_hash=sha256(b"x")),
        errors.REJECT_BAD_ATTESTATIONS_HASH,
    ),
    # header context
    (
        "height",
        lambda b: reseal(with_coinbase(b, lock_time=11), height=11),
        errors.REJECT_BAD_HEIGHT,
    ),
    ("previous hash", lambda b: reseal(b, prev_hash=sha256(b"x")), errors.REJECT_BAD_PREV_HASH),
    ("epoch", lambda b: reseal(b, epoch=3), errors.REJECT_BAD_EPOCH),
    (
        "timestamp too early",
        lambda b: reseal(b, timestamp_ms=BASE.state.header.timestamp_ms + 999),
        errors.REJECT_TIMESTAMP_TOO_EARLY,
    ),
    (
        "unknown proposer",
        lambda b: reseal(b, proposer=STRANGER.public_key),
        errors.REJECT_UNKNOWN_PROPOSER,
    ),
    # the previous block's certificate
    (
        "certificate signature",
        lambda b: with_certificate(
            b,
            replace(
                cert(),
                signatures=[
                    replace(cert().signatures[0], signature=flip(cert().signatures[0].signature)),
                    *cert().signatures[1:],
                ],
            ),
        ),
        errors.REJECT_BAD_SIGNATURE,
    ),
    (
        "certificate weight (2 of 4)",
        lambda b: with_certificate(b, make_certificate(BASE.state, voters=[0, 1])),
        errors.REJECT_INSUFFICIENT_WEIGHT,
    ),
    (
        "certificate of another block",
        lambda b: with_certificate(b, replace(cert(), block_hash=sha256(b"other"))),
        errors.REJECT_WRONG_BLOCK,
    ),
    (
        "certificate of another height",
        lambda b: with_certificate(b, replace(cert(), height=8)),
        errors.REJECT_WRONG_HEIGHT,
    ),
    (
        "certificate voter twice",
        lambda b: with_certificate(
            b, replace(cert(), signatures=[cert().signatures[0], *cert().signatures])
        ),
        errors.REJECT_DUPLICATE_VOTER,
    ),
    (
        "certificate voters out of order",
        lambda b: with_certificate(b, replace(cert(), signatures=cert().signatures[::-1])),
        errors.REJECT_UNORDERED_SIGNATURES,
    ),
    (
        "certificate voter index out of range",
        lambda b: with_certificate(
            b,
            replace(cert(), signatures=[*cert().signatures, CommitSignature(9, bytes(64))]),
        ),
        errors.REJECT_UNKNOWN_VOTER,
    ),
    # evidence
    (
        "evidence from the future",
        lambda b: with_evidence(b, vote_evidence(OPERATORS[0], 10)),
        errors.REJECT_FUTURE_EVIDENCE,
    ),
    (
        "evidence older than the previous epoch",
        lambda b: with_evidence(b, vote_evidence(OPERATORS[0], 3)),
        errors.REJECT_STALE_EVIDENCE,
    ),
    (
        "evidence twice",
        lambda b: with_evidence(b, vote_evidence(OPERATORS[0], 9), vote_evidence(OPERATORS[0], 8)),
        errors.REJECT_DUPLICATE_EVIDENCE,
    ),
    (
        "evidence signature",
        lambda b: with_evidence(
            b,
            DuplicateVoteEvidence(
                vote_a=vote_evidence(OPERATORS[0], 9).vote_a,
                vote_b=replace(
                    vote_evidence(OPERATORS[0], 9).vote_b,
                    signature=flip(vote_evidence(OPERATORS[0], 9).vote_b.signature),
                ),
            ),
        ),
        errors.REJECT_BAD_SIGNATURE,
    ),
    (
        "evidence of one vote twice",
        lambda b: with_evidence(
            b,
            DuplicateVoteEvidence(
                vote_a=vote_evidence(OPERATORS[0], 9).vote_a,
                vote_b=vote_evidence(OPERATORS[0], 9).vote_a,
            ),
        ),
        errors.REJECT_NOT_CONFLICTING,
    ),
    (
        "evidence pair out of order",
        lambda b: with_evidence(
            b,
            DuplicateVoteEvidence(
                vote_a=vote_evidence(OPERATORS[0], 9).vote_b,
                vote_b=vote_evidence(OPERATORS[0], 9).vote_a,
            ),
        ),
        errors.REJECT_NON_CANONICAL_EVIDENCE,
    ),
    (
        "evidence of votes at two rounds",
        lambda b: with_evidence(
            b,
            DuplicateVoteEvidence(
                vote_a=vote_evidence(OPERATORS[0], 9, round=0).vote_a,
                vote_b=vote_evidence(OPERATORS[0], 9, round=1).vote_b,
            ),
        ),
        errors.REJECT_EVIDENCE_MISMATCH,
    ),
    (
        "evidence against a non-member",
        lambda b: with_evidence(b, vote_evidence(STRANGER, 9)),
        errors.REJECT_UNKNOWN_VOTER,
    ),
    # attested heartbeats (tests/heartbeat covers every heartbeat rule)
    (
        "heartbeat of an unknown masternode",
        lambda b: reseal(replace(b, attestations=[HEARTBEAT])),
        masternode_errors.REJECT_HEARTBEAT_UNKNOWN_MASTERNODE,
    ),
    # transactions, coinbase, registry
    (
        "double spend in the block",
        lambda b: with_transactions(b, SECOND_SPEND),
        ledger_errors.REJECT_DOUBLE_SPEND,
    ),
    (
        "transaction signature",
        lambda b: reseal(
            replace(
                b,
                transactions=[
                    b.transactions[0],
                    replace(b.transactions[1], signatures=[bytes(64)]),
                ],
            )
        ),
        ledger_errors.REJECT_BAD_SIGNATURE,
    ),
    (
        "coinbase paying more than the rewards",
        lambda b: reseal(
            with_coinbase(
                b,
                outputs=[
                    TxOutput(
                        amount=b.transactions[0].outputs[0].amount + 1,
                        address=b.transactions[0].outputs[0].address,
                    )
                ],
            )
        ),
        errors.REJECT_BAD_COINBASE,
    ),
    (
        "registration reusing a live operator key",
        lambda b: with_transactions(
            b,
            registration(allocation(6), ALLOCATION_AMOUNT, ALICE, make_key("o2"), OPERATORS[1]),
        ),
        masternode_errors.REJECT_DUPLICATE_OPERATOR_KEY,
    ),
    # the header's state commitments
    (
        "utxo commitment",
        lambda b: with_header(b, utxo_commitment=sha256(b"x")),
        errors.REJECT_BAD_UTXO_COMMITMENT,
    ),
    (
        "next voting set hash",
        lambda b: with_header(b, next_voting_set_hash=sha256(b"x")),
        errors.REJECT_BAD_NEXT_VOTING_SET_HASH,
    ),
]


def test_the_base_block_is_valid() -> None:
    applied = BASE.validate(BLOCK)
    assert applied.block_hash == NEXT.block_hash
    assert applied.state_after.height == 10


@pytest.mark.parametrize(("change", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(change: Callable[[Block], Block], code: str) -> None:
    assert reject_code(change(BLOCK)) == code


def test_a_body_that_does_not_match_its_header_is_told_apart() -> None:
    # A peer sending a wrong body is at fault, not the header's block.
    swapped = replace(
        BLOCK,
        transactions=[
            BLOCK.transactions[0],
            replace(BLOCK.transactions[1], signatures=[bytes(64)]),
        ],
    )
    assert reject_code(swapped) in errors.BODY_MISMATCH_CODES
    tampered = with_header(BLOCK, utxo_commitment=sha256(b"x"))
    assert reject_code(tampered) not in errors.BODY_MISMATCH_CODES


@pytest.mark.parametrize(
    ("limits", "block", "code"),
    [
        (
            SizeLimits(max_block_transactions=1),
            BLOCK,
            ledger_errors.REJECT_TOO_MANY_TRANSACTIONS,
        ),
        (
            SizeLimits(max_block_evidence=0),
            with_evidence(BLOCK, vote_evidence(OPERATORS[0], 9)),
            errors.REJECT_TOO_MANY_EVIDENCE,
        ),
        (
            SizeLimits(max_block_attestations=0),
            reseal(replace(BLOCK, attestations=[HEARTBEAT])),
            errors.REJECT_TOO_MANY_ATTESTATIONS,
        ),
        (
            SizeLimits(max_block_bytes=len(encode(BLOCK)) - 1),
            BLOCK,
            errors.REJECT_OVERSIZED_BLOCK,
        ),
    ],
    ids=["transactions", "evidence", "attestations", "bytes"],
)
def test_size_limits(limits: SizeLimits, block: Block, code: str) -> None:
    with pytest.raises(InvalidBlock) as info:
        check_block(block, dc_replace(PARAMS, sizes=limits))
    assert info.value.reject_code == code


def test_certificate_at_height_one_is_rejected() -> None:
    node = Node.from_genesis()
    block = node.build().block
    assert block.prev_certificate is None
    forged = with_certificate(block, cert())
    assert reject_code(forged, node) == errors.REJECT_UNEXPECTED_CERTIFICATE


def test_coinbase_must_pay_exactly_the_rewards() -> None:
    paid = BLOCK.transactions[0].outputs[0]
    cheap = reseal(with_coinbase(BLOCK, outputs=[TxOutput(amount=COIN, address=paid.address)]))
    assert reject_code(cheap) == errors.REJECT_BAD_COINBASE
    elsewhere = reseal(
        with_coinbase(BLOCK, outputs=[TxOutput(amount=paid.amount, address=address_of(BOB))])
    )
    assert reject_code(elsewhere) == errors.REJECT_BAD_COINBASE
    empty = reseal(with_coinbase(BLOCK, outputs=[]))
    assert reject_code(empty) == errors.REJECT_BAD_COINBASE


def test_valid_evidence_bans_the_offender_from_the_next_epoch() -> None:
    evidence: list[Evidence] = [vote_evidence(OPERATORS[0], 9), proposal_evidence(OPERATORS[2], 8)]
    applied = BASE.build(evidence=evidence)
    checked = BASE.validate(applied.block)
    banned = [e for e in checked.state_after.registry.entries if e.banned_from_epoch is not None]
    assert sorted(e.operator_key for e in banned) == sorted(
        [OPERATORS[0].public_key, OPERATORS[2].public_key]
    )
    assert all(e.banned_from_epoch == 3 for e in banned)
    # The same evidence again, in the next block, is a duplicate.
    node = Node(BASE.state, BASE.view.__class__(BASE.view.coins))
    node.accept(checked)
    with pytest.raises(InvalidBlock) as info:
        node.build(evidence=evidence[:1])
    assert info.value.reject_code == errors.REJECT_DUPLICATE_EVIDENCE


def test_build_block_reports_the_broken_rule() -> None:
    double = [
        transfer(allocation(5), ALLOCATION_AMOUNT, ALICE, BOB),
        SECOND_SPEND,
    ]
    with pytest.raises(InvalidBlock) as info:
        BASE.build(double)
    assert info.value.reject_code == ledger_errors.REJECT_DOUBLE_SPEND
    with pytest.raises(InvalidBlock) as info:
        BASE.build(timestamp_ms=BASE.state.header.timestamp_ms)
    assert info.value.reject_code == errors.REJECT_TIMESTAMP_TOO_EARLY
    with pytest.raises(InvalidBlock) as info:
        build_block(
            BASE.state,
            BASE.view,
            [],
            timestamp_ms=BASE.state.header.timestamp_ms + PARAMS.block_interval_ms,
            proposer=OPERATORS[0].public_key,
            prev_certificate=None,
            verifier=verify,
        )
    assert info.value.reject_code == errors.REJECT_MISSING_CERTIFICATE


def test_missing_input_and_spend_of_a_coin_created_later() -> None:
    later = transfer(allocation(6), ALLOCATION_AMOUNT, ALICE, BOB)
    child = transfer(OutPoint(compute_txid(later), 0), ALLOCATION_AMOUNT // 2, BOB, ALICE)
    # The child spends an output of a transaction that comes after it.
    block = with_transactions(BLOCK, child, later)
    assert reject_code(block) == ledger_errors.REJECT_MISSING_INPUT


def test_a_verifier_that_rejects_everything_fails_the_certificate() -> None:
    with pytest.raises(InvalidBlock) as info:
        validate_block(BLOCK, BASE.state, BASE.view, verifier=lambda *_: False)
    assert info.value.reject_code == errors.REJECT_BAD_SIGNATURE
    assert "previous certificate" in info.value.message


def snapshot(node: Node) -> tuple[object, ...]:
    state = node.state
    return (
        state.height,
        state.block_hash,
        encode(state.header),
        encode(state.registry),
        state.utxo_state.copy().to_bytes(),
        dict(node.view.coins),
    )


BEFORE = snapshot(BASE)


@pytest.mark.parametrize(
    "change",
    [lambda b: b, *(c[1] for c in CASES)],
    ids=["valid", *(c[0] for c in CASES)],
)
def test_validate_block_changes_neither_state_nor_view(change: Callable[[Block], Block]) -> None:
    with contextlib.suppress(InvalidBlock):
        BASE.validate(change(BLOCK))
    assert snapshot(BASE) == BEFORE


@settings(max_examples=60)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_a_flipped_bit_is_rejected_and_changes_nothing(position: int, bit: int) -> None:
    data = bytearray(encode(BLOCK))
    data[position % len(data)] ^= 1 << bit
    try:
        block = decode(bytes(data), Block, PARAMS.sizes.max_block_bytes)
    except DecodeError:
        return
    try:
        BASE.validate(block)
    except InvalidBlock:
        pass
    else:
        # Only a later timestamp keeps a block valid: it is not committed to
        # by anything but the block hash.
        assert block.header.timestamp_ms > BLOCK.header.timestamp_ms
        assert with_header(block, timestamp_ms=BLOCK.header.timestamp_ms) == BLOCK
    assert snapshot(BASE) == BEFORE
