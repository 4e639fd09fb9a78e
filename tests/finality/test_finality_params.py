"""Every preset's block has room for a block of final transactions beside its
largest certificate, evidence, attestations and epoch reports (ADR 0006),
and the epoch-report rule is active where it must be."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from timecoin.chain import compute_block_overhead_bytes, pack_epoch_reports
from timecoin.crypto import SigningKey, address_from_public_key, sha256
from timecoin.encoding import encode
from timecoin.ledger import compute_input_signing_message, compute_tx_size
from timecoin.masternode import WITNESS_COUNT
from timecoin.params import COIN, PRESETS, ChainParams
from timecoin.types import (
    TX_VERSION,
    AttestedHeartbeat,
    EpochReport,
    Heartbeat,
    OutPoint,
    ReportEntry,
    Transaction,
    TxInput,
    TxOutput,
    WitnessSignature,
    compute_txid,
)

MAX_U64 = 2**63 - 1
MAX_U32 = 0xFFFF_FFFF


def typical_tx_bytes(params: ChainParams) -> int:
    """The encoded size of a signed transfer: one input, a payment and change."""
    key = SigningKey.from_seed(sha256(b"params/typical"))
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=OutPoint(sha256(b"coin"), 1), public_key=key.public_key)],
        outputs=[
            TxOutput(amount=12 * COIN, address=address_from_public_key(key.public_key)),
            TxOutput(amount=987 * COIN, address=address_from_public_key(sha256(b"payee"))),
        ],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    signature = key.sign(compute_input_signing_message(params.chain_id, compute_txid(unsigned), 0))
    signed = Transaction(
        version=unsigned.version,
        inputs=unsigned.inputs,
        outputs=unsigned.outputs,
        lock_time=0,
        payload=None,
        signatures=[signature],
        owner_signature=None,
    )
    return compute_tx_size(signed)


def largest_attestation() -> AttestedHeartbeat:
    """An attested heartbeat at its largest valid size (every witness attests)."""
    return AttestedHeartbeat(
        heartbeat=Heartbeat(
            masternode_id=b"\xff" * 32,
            sequence=MAX_U64,
            timestamp_ms=MAX_U64,
            signature=b"\xff" * 64,
        ),
        attestations=[WitnessSignature(witness=b"\xff" * 32, signature=b"\xff" * 64)]
        * WITNESS_COUNT,
    )


@dataclass(frozen=True)
class Budget:
    """A preset's block, in bytes, by part."""

    overhead: int
    attestations: int
    reports: int
    per_block_txs: int
    typical_tx: int

    @property
    def transactions(self) -> int:
        return self.per_block_txs * self.typical_tx


def budget_of(params: ChainParams) -> Budget:
    """The parts of the honest worst case: `max_voters` members each report
    `max_report_entries` entries, the same ones (one table), each entry at
    its largest encoding."""
    sizes = params.sizes
    attestations = [largest_attestation()] * sizes.max_block_attestations
    entries = [
        ReportEntry(outpoint=OutPoint(sha256(b"%d" % i), MAX_U32), txid=sha256(b"tx %d" % i))
        for i in range(sizes.max_report_entries)
    ]
    entries.sort(key=lambda e: e.outpoint.txid + e.txid)
    reports = [
        EpochReport(
            epoch=MAX_U64,
            prev_hash=b"\xff" * 32,
            entries=entries,
            voter=sha256(b"voter %d" % i),
            signature=b"\xff" * 64,
        )
        for i in range(params.max_voters)
    ]
    table, packed = pack_epoch_reports(reports)
    # Each list replaces an empty one (one byte) of the overhead's block.
    return Budget(
        overhead=compute_block_overhead_bytes(params),
        attestations=len(encode(attestations)) - 1,
        reports=len(encode(table)) - 1 + len(encode(packed)) - 1,
        per_block_txs=params.block_interval_ms * params.max_final_tps // 1000,
        typical_tx=typical_tx_bytes(params),
    )


@pytest.mark.parametrize("params", list(PRESETS.values()), ids=list(PRESETS))
def test_a_block_of_final_transactions_fits_beside_the_rest(params: ChainParams) -> None:
    budget = budget_of(params)
    assert params.sizes.max_block_transactions - 1 >= budget.per_block_txs
    used = budget.overhead + budget.attestations + budget.reports + budget.transactions
    assert used <= params.sizes.max_block_bytes, budget
    # a transaction with the most inputs can always be voted for
    assert params.sizes.max_report_entries >= params.sizes.max_tx_inputs
    # a member's report holds at least a block of one-input transactions
    assert params.sizes.max_report_entries >= budget.per_block_txs


@pytest.mark.parametrize("name", ["devnet", "testnet", "mainnet"])
def test_epoch_reports_are_active_from_the_start(name: str) -> None:
    assert PRESETS[name].activation.epoch_reports_height == 1


def test_minimal_leaves_the_rule_off_for_unit_tests() -> None:
    assert PRESETS["minimal"].activation.epoch_reports_height is None
