"""Identifiers of consensus objects: txid, witness hash, block hash, merkle roots."""

from __future__ import annotations

from collections.abc import Sequence

from timecoin.crypto import merkle_root, sha256
from timecoin.encoding import encode
from timecoin.types.block import AttestedHeartbeat, Block, BlockHeader, Certificate, Evidence
from timecoin.types.finality import PackedReport, ReportEntry
from timecoin.types.primitives import ZERO_HASH
from timecoin.types.transaction import OutPoint, Transaction


def encode_tx_body(tx: Transaction) -> bytes:
    """The transaction without its witness (signatures): what the txid covers."""
    return encode((tx.version, tx.inputs, tx.outputs, tx.lock_time, tx.payload))


_TXID_MEMO_SIZE = 65_536
_txid_memo: dict[int, tuple[Transaction, bytes]] = {}
"""id(tx) -> (tx, txid) of recently hashed transactions. Holding `tx` keeps
its id from being reused while the entry exists, so an entry found for an
id whose object is `tx` itself is its txid (Transaction is immutable)."""


def compute_txid(tx: Transaction) -> bytes:
    """SHA-256 of the body; signatures excluded, so a txid is not malleable.

    A transaction is hashed once however often it is asked for (a node
    asks at admission, relay, voting, block building, validation and
    commit): recent results are memoized by object identity.
    """
    entry = _txid_memo.get(id(tx))
    if entry is not None and entry[0] is tx:
        return entry[1]
    txid = sha256(encode_tx_body(tx))
    memo = _txid_memo
    if len(memo) >= _TXID_MEMO_SIZE:
        # Start over rather than evict one by one: removing a dict's first
        # key each time makes finding the next first key ever slower.
        memo.clear()
    memo[id(tx)] = (tx, txid)
    return txid


def compute_witness_hash(tx: Transaction) -> bytes:
    """SHA-256 of the full encoding, signatures included."""
    return sha256(encode(tx))


def compute_block_hash(header: BlockHeader) -> bytes:
    """The block hash: SHA-256 of the header's encoding."""
    return sha256(encode(header))


def compute_certificate_hash(certificate: Certificate | None) -> bytes:
    """Hash of the previous block's certificate; ZERO_HASH when absent (genesis, height 1)."""
    if certificate is None:
        return ZERO_HASH
    return sha256(encode(certificate))


def compute_evidence_hash(evidence: Sequence[Evidence]) -> bytes:
    """Hash of a block's evidence list."""
    return sha256(encode(list(evidence)))


def compute_attestations_hash(attestations: Sequence[AttestedHeartbeat]) -> bytes:
    """Hash of a block's attested heartbeats."""
    return sha256(encode(list(attestations)))


def compute_reports_hash(
    report_entries: Sequence[ReportEntry],
    reports: Sequence[PackedReport],
    reported_transactions: Sequence[Transaction],
) -> bytes:
    """Hash of a block's report table, packed reports and reported
    transactions: ``sha256(encode((report_entries, reports,
    reported_transactions)))``."""
    return sha256(encode((list(report_entries), list(reports), list(reported_transactions))))


def compute_tx_roots(transactions: Sequence[Transaction]) -> tuple[bytes, bytes]:
    """(txid merkle root, witness merkle root) of a block's transactions."""
    txids = [compute_txid(tx) for tx in transactions]
    wids = [compute_witness_hash(tx) for tx in transactions]
    return merkle_root(txids), merkle_root(wids)


def find_body_mismatch(block: Block) -> str | None:
    """The first commitment of `block.header` that its body does not
    reproduce ("transaction roots", "certificate hash", "evidence hash",
    "attestations hash", "reports hash"), or None when the body is the
    header's."""
    header = block.header
    if (header.tx_root, header.witness_root) != compute_tx_roots(block.transactions):
        return "transaction roots"
    if header.prev_certificate_hash != compute_certificate_hash(block.prev_certificate):
        return "certificate hash"
    if header.evidence_hash != compute_evidence_hash(block.evidence):
        return "evidence hash"
    if header.attestations_hash != compute_attestations_hash(block.attestations):
        return "attestations hash"
    reports_hash = compute_reports_hash(
        block.report_entries, block.reports, block.reported_transactions
    )
    if header.reports_hash != reports_hash:
        return "reports hash"
    return None


def encode_outpoint_key(outpoint: OutPoint) -> bytes:
    """36 bytes identifying an outpoint: txid || index (4 bytes, big-endian)."""
    return outpoint.txid + outpoint.index.to_bytes(4, "big")
