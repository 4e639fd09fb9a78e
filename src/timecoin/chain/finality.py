"""Signing bytes and offline checks of instant finality: transaction votes,
finality proofs and epoch reports.

These live in the chain layer because blocks carry transaction-vote
equivocation evidence and (at an epoch's end) reports, and because a block
may need a finality proof checked against an epoch's voting set; the
finality state machine (`timecoin.consensus.finality`) builds on them.

- vote leaf of a transaction: ``sha256(txid || inputs_root)``, with
  ``inputs_root = merkle_root([sha256(encode_outpoint_key(prevout)) for
  each input])`` (`compute_inputs_root`, `compute_vote_leaf`);
- a vote batch signs ``signing_message(DOMAIN_TXVOTE, chain_id,
  encode((epoch, root, count)))`` where `root` is the merkle root of its
  `count` leaves;
- an epoch report signs ``signing_message(DOMAIN_REPORT, chain_id,
  encode((epoch, prev_hash, entries)))``.

docs/spec/finality.md states the rules; every check raises `InvalidVote`
with a reject code of `timecoin.chain.errors`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence

from timecoin.chain.certificate import Verifier, check_quorum_indices
from timecoin.chain.errors import (
    REJECT_BAD_BRANCH,
    REJECT_BAD_REPORT,
    REJECT_BAD_REPORT_SELECTION,
    REJECT_BAD_SIGNATURE,
    REJECT_INSUFFICIENT_REPORTS,
    REJECT_NON_CANONICAL_REPORT,
    REJECT_OVERSIZED_REPORT,
    REJECT_UNKNOWN_VOTER,
    REJECT_UNREPORTED_TRANSACTION,
    REJECT_UNUSED_REPORT_ENTRY,
    REJECT_WRONG_EPOCH,
    REJECT_WRONG_TRANSACTION,
)
from timecoin.crypto import (
    DOMAIN_REPORT,
    DOMAIN_TXVOTE,
    MerkleProof,
    merkle_root,
    sha256,
    signing_message,
    verify_merkle_proof,
)
from timecoin.encoding import encode
from timecoin.ledger import SignatureCache, UtxoView, check_transaction, validate_transaction
from timecoin.ledger import errors as ledger_errors
from timecoin.params import ChainParams
from timecoin.types import (
    Coin,
    EpochReport,
    FinalityProof,
    InputProof,
    InvalidBlock,
    InvalidTransaction,
    InvalidVote,
    OutPoint,
    PackedReport,
    ProofVote,
    ReportEntry,
    Transaction,
    TxVote,
    TxVoteBatch,
    Voter,
    VotingSet,
    compute_txid,
    encode_outpoint_key,
    is_quorum,
)

__all__ = [
    "LOCK_ELEMENT_MARKER",
    "compute_carried_order",
    "compute_input_leaf",
    "compute_inputs_root",
    "compute_report_signing_message",
    "compute_reported_locks",
    "compute_txvote_signing_message",
    "compute_vote_leaf",
    "encode_lock_element",
    "is_input_proof_valid",
    "is_report_canonical",
    "pack_epoch_reports",
    "report_entry_key",
    "select_epoch_reports",
    "select_report_quorum",
    "unpack_epoch_reports",
    "verify_epoch_report",
    "verify_finality_proof",
    "verify_tx_vote",
    "verify_tx_vote_batch_signature",
]


def compute_input_leaf(outpoint: OutPoint) -> bytes:
    """The leaf of `outpoint` in an inputs tree: ``sha256(encode_outpoint_key(outpoint))``."""
    return sha256(encode_outpoint_key(outpoint))


def compute_inputs_root(tx: Transaction) -> bytes:
    """The merkle root of the input leaves of `tx`, in input order."""
    return merkle_root([compute_input_leaf(txin.prevout) for txin in tx.inputs])


def compute_vote_leaf(txid: bytes, inputs_root: bytes) -> bytes:
    """The leaf a vote batch holds for a transaction: ``sha256(txid || inputs_root)``."""
    return sha256(txid + inputs_root)


def compute_txvote_signing_message(chain_id: int, epoch: int, root: bytes, count: int) -> bytes:
    """The exact bytes a voter signs for a vote batch of `count` leaves with merkle `root`."""
    return signing_message(DOMAIN_TXVOTE, chain_id, encode((epoch, root, count)))


def compute_report_signing_message(
    chain_id: int, epoch: int, prev_hash: bytes, entries: Sequence[ReportEntry]
) -> bytes:
    """The exact bytes a voter signs for its epoch report."""
    return signing_message(DOMAIN_REPORT, chain_id, encode((epoch, prev_hash, list(entries))))


def report_entry_key(entry: ReportEntry) -> bytes:
    """The sort key of a report entry: outpoint key (36 bytes) then txid."""
    return encode_outpoint_key(entry.outpoint) + entry.txid


def is_report_canonical(entries: Sequence[ReportEntry]) -> bool:
    """Whether report entries are in strictly ascending `report_entry_key` order."""
    keys = [report_entry_key(entry) for entry in entries]
    return all(a < b for a, b in itertools.pairwise(keys))


def verify_tx_vote_batch_signature(batch: TxVoteBatch, chain_id: int, verifier: Verifier) -> None:
    """Check that `batch.signature` is the voter's signature of (epoch, root, count).

    Membership of the voter is not checked here.
    Raises InvalidVote (bad-signature).
    """
    message = compute_txvote_signing_message(chain_id, batch.epoch, batch.root, batch.count)
    if not verifier(batch.voter, message, batch.signature):
        raise InvalidVote(
            REJECT_BAD_SIGNATURE,
            f"tx vote batch of epoch {batch.epoch} by {batch.voter.hex()}: signature does "
            "not verify",
        )


def _check_branch(
    root: bytes, count: int, index: int, branch: Sequence[bytes], leaf: bytes, what: str
) -> None:
    proof = MerkleProof(index=index, leaf_count=count, siblings=tuple(branch))
    if not verify_merkle_proof(root, leaf, proof):
        raise InvalidVote(
            REJECT_BAD_BRANCH, f"{what}: merkle branch does not lead to the signed root"
        )


def verify_tx_vote(vote: TxVote, chain_id: int, verifier: Verifier) -> None:
    """Check a standalone transaction vote: the leaf of (txid, inputs_root) is at
    `index` of the batch's `count` leaves under `root`, and the voter signed
    (epoch, root, count).

    Membership of the voter is not checked here.
    Raises InvalidVote (bad-branch, bad-signature).
    """
    leaf = compute_vote_leaf(vote.txid, vote.inputs_root)
    _check_branch(vote.root, vote.count, vote.index, vote.branch, leaf, "tx vote")
    message = compute_txvote_signing_message(chain_id, vote.epoch, vote.root, vote.count)
    if not verifier(vote.voter, message, vote.signature):
        raise InvalidVote(
            REJECT_BAD_SIGNATURE,
            f"tx vote for {vote.txid.hex()} by {vote.voter.hex()}: signature does not verify",
        )


def is_input_proof_valid(inputs_root: bytes, outpoint: OutPoint, proof: InputProof) -> bool:
    """Whether `proof` shows `outpoint` among the inputs committed by `inputs_root`."""
    merkle = MerkleProof(index=proof.index, leaf_count=proof.count, siblings=tuple(proof.branch))
    return verify_merkle_proof(inputs_root, compute_input_leaf(outpoint), merkle)


def verify_finality_proof(
    proof: FinalityProof,
    tx_or_txid: Transaction | bytes,
    voting_set: VotingSet,
    chain_id: int,
    verifier: Verifier,
) -> None:
    """Check, offline, that `proof` shows the transaction final in its epoch.

    Cheap checks first: the proof names `voting_set`'s epoch and the
    transaction (its txid, and its inputs root when the transaction itself
    is given), voter indices are known and strictly increasing, and their
    weight is more than 2/3 of the voting set's; then every vote's merkle
    branch and signature.

    Parameters:
        proof: the finality proof, as decoded.
        tx_or_txid: the transaction, or only its txid (then the proof's
            inputs root is taken as given: an honest voter signs only the
            true one).
        voting_set: the voting set of `proof.epoch` (from the chain).
        chain_id: the network's chain id.
        verifier: the consensus signature rule.

    Raises:
        InvalidVote: wrong-epoch, wrong-transaction, unknown-voter,
            duplicate-voter, unordered-signatures, insufficient-weight,
            bad-branch, bad-signature.
    """
    if proof.epoch != voting_set.epoch:
        raise InvalidVote(
            REJECT_WRONG_EPOCH,
            f"finality proof of epoch {proof.epoch}, voting set of epoch {voting_set.epoch}",
        )
    if isinstance(tx_or_txid, Transaction):
        txid = compute_txid(tx_or_txid)
        inputs_root = compute_inputs_root(tx_or_txid)
        if proof.inputs_root != inputs_root:
            raise InvalidVote(
                REJECT_WRONG_TRANSACTION,
                f"finality proof inputs root {proof.inputs_root.hex()}, the transaction's "
                f"is {inputs_root.hex()}",
            )
    else:
        txid = tx_or_txid
    if proof.txid != txid:
        raise InvalidVote(
            REJECT_WRONG_TRANSACTION,
            f"finality proof for {proof.txid.hex()}, expected {txid.hex()}",
        )
    check_quorum_indices([vote.voter_index for vote in proof.votes], voting_set, "finality proof")
    voters = voting_set.voters
    leaf = compute_vote_leaf(proof.txid, proof.inputs_root)
    for vote in proof.votes:
        _verify_proof_vote(vote, leaf, voters[vote.voter_index], proof.epoch, chain_id, verifier)


def _verify_proof_vote(
    vote: ProofVote, leaf: bytes, voter: Voter, epoch: int, chain_id: int, verifier: Verifier
) -> None:
    _check_branch(
        vote.root, vote.count, vote.index, vote.branch, leaf, f"vote of voter {vote.voter_index}"
    )
    message = compute_txvote_signing_message(chain_id, epoch, vote.root, vote.count)
    if not verifier(voter.operator_key, message, vote.signature):
        raise InvalidVote(
            REJECT_BAD_SIGNATURE,
            f"finality proof signature of voter {vote.voter_index} does not verify",
        )


def verify_epoch_report(
    report: EpochReport,
    voting_set: VotingSet,
    chain_id: int,
    verifier: Verifier,
    *,
    max_entries: int | None = None,
) -> Voter:
    """Check an epoch report against the voting set of its epoch; return its voter.

    Checks: the epoch is the voting set's, at most `max_entries` entries
    (when given: `params.sizes.max_report_entries`; a longer report does
    not count), entries in strictly ascending (outpoint key, txid) order (so
    one outpoint appears once per txid and a report has one encoding), the
    signer is a voter, the signature verifies. Whether each entry's
    transaction validly spends its outpoint is checked where the
    transactions are known (the block carrying the report).

    Raises:
        InvalidVote: wrong-epoch, oversized-report, non-canonical-report,
            unknown-voter, bad-signature.
    """
    if report.epoch != voting_set.epoch:
        raise InvalidVote(
            REJECT_WRONG_EPOCH,
            f"report of epoch {report.epoch}, voting set of epoch {voting_set.epoch}",
        )
    if max_entries is not None and len(report.entries) > max_entries:
        raise InvalidVote(
            REJECT_OVERSIZED_REPORT,
            f"report of {len(report.entries)} entries, expected at most {max_entries}",
        )
    if not is_report_canonical(report.entries):
        raise InvalidVote(
            REJECT_NON_CANONICAL_REPORT,
            "report entries are not in strictly ascending (outpoint, txid) order",
        )
    index = voting_set.index_of(report.voter)
    if index is None:
        raise InvalidVote(REJECT_UNKNOWN_VOTER, f"report signer {report.voter.hex()} is no voter")
    message = compute_report_signing_message(
        chain_id, report.epoch, report.prev_hash, report.entries
    )
    if not verifier(report.voter, message, report.signature):
        raise InvalidVote(
            REJECT_BAD_SIGNATURE, f"report of epoch {report.epoch}: signature does not verify"
        )
    return voting_set.voters[index]


def pack_epoch_reports(
    reports: Sequence[EpochReport],
) -> tuple[list[ReportEntry], list[PackedReport]]:
    """The block form of `reports` (ADR 0006): the report table, every entry
    any of them lists, once, in strictly ascending `report_entry_key`
    order; and per report, in ascending voter key order, its voter,
    signature and selection bitmap over the table (`PackedReport`).

    `reports` must be verified reports (canonical entries) of one epoch and
    one `prev_hash`, one per voter, as `select_epoch_reports` keeps them:
    `unpack_epoch_reports` with that epoch and hash gives them back.
    Raises ValueError when two reports have one voter.
    """
    distinct: dict[ReportEntry, None] = {}
    for report in reports:
        distinct.update(dict.fromkeys(report.entries))
    table = sorted(distinct, key=report_entry_key)
    position = {entry: index for index, entry in enumerate(table)}
    size_bytes = (len(table) + 7) // 8
    packed: list[PackedReport] = []
    for report in sorted(reports, key=lambda r: r.voter):
        if packed and packed[-1].voter == report.voter:
            raise ValueError(f"two reports of voter {report.voter.hex()}")
        bits = bytearray(size_bytes)
        for entry in report.entries:
            index = position[entry]
            bits[index >> 3] |= 1 << (index & 7)
        packed.append(
            PackedReport(voter=report.voter, signature=report.signature, selection=bytes(bits))
        )
    return table, packed


_SET_BITS: tuple[tuple[int, ...], ...] = tuple(
    tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256)
)
"""The set bits of each byte value, least significant first."""


def unpack_epoch_reports(
    report_entries: Sequence[ReportEntry],
    reports: Sequence[PackedReport],
    epoch: int,
    prev_hash: bytes,
) -> list[EpochReport]:
    """The epoch reports a block carries, rebuilt from its report table and
    packed reports (ADR 0006): each report's entries are the table entries
    its bitmap selects, in table order, with the block's `epoch` and
    `prev_hash`; its signature is then checked as that of any report.

    Checks that the packing is the canonical one (`pack_epoch_reports`), so
    a set of reports has one block form: the table strictly ascends (no
    entry twice), voters strictly ascend (one report per voter), each
    bitmap is exactly ``ceil(len(table) / 8)`` bytes with its padding bits
    zero, and every table entry is selected by at least one report.

    Raises:
        InvalidBlock: non-canonical-report (table or voters out of order or
            repeated), bad-report-selection (a bitmap's length or padding),
            unused-report-entry (a table entry no report selects).
    """
    keys = [report_entry_key(entry) for entry in report_entries]
    for index in range(1, len(keys)):
        if keys[index - 1] >= keys[index]:
            raise InvalidBlock(
                REJECT_NON_CANONICAL_REPORT,
                f"report table: expected strictly ascending (outpoint, txid) entries, entry "
                f"{index} is not above entry {index - 1}",
            )
    for index in range(1, len(reports)):
        if reports[index - 1].voter >= reports[index].voter:
            raise InvalidBlock(
                REJECT_NON_CANONICAL_REPORT,
                f"reports: expected strictly ascending voter keys (one report per voter), "
                f"report {index} is not above report {index - 1}",
            )
    count = len(report_entries)
    size_bytes = (count + 7) // 8
    padding_bits = -count % 8
    full = bytes([0xFF] * (count // 8)) + (bytes([0xFF >> padding_bits]) if padding_bits else b"")
    table = list(report_entries)
    selected = 0
    unpacked: list[EpochReport] = []
    for number, packed in enumerate(reports):
        selection = packed.selection
        if len(selection) != size_bytes:
            raise InvalidBlock(
                REJECT_BAD_REPORT_SELECTION,
                f"report {number}: expected a selection of {size_bytes} bytes for a table of "
                f"{count} entries, got {len(selection)}",
            )
        if padding_bits and selection[-1] >> (8 - padding_bits):
            raise InvalidBlock(
                REJECT_BAD_REPORT_SELECTION,
                f"report {number}: selection bits past the table's {count} entries are set",
            )
        if selection == full:
            entries = table
        else:
            entries = [
                table[(offset << 3) + bit]
                for offset, value in enumerate(selection)
                if value
                for bit in _SET_BITS[value]
            ]
        selected |= int.from_bytes(selection, "little")
        unpacked.append(
            EpochReport(
                epoch=epoch,
                prev_hash=prev_hash,
                entries=entries,
                voter=packed.voter,
                signature=packed.signature,
            )
        )
    unused = ~selected & ((1 << count) - 1)
    if unused:
        index = (unused & -unused).bit_length() - 1
        raise InvalidBlock(
            REJECT_UNUSED_REPORT_ENTRY,
            f"report table entry {index} is selected by no report",
        )
    return unpacked


LOCK_ELEMENT_MARKER = b"\xc4\x20"
"""Bytes after the outpoint key in a lock element: a msgpack bin8 header of
32 bytes (a coin element has the array header 0x93 there)."""


def encode_lock_element(outpoint: OutPoint, txid: bytes | None) -> bytes:
    """The UTXO-commitment element of a reported lock (ADR 0004):
    ``encode_outpoint_key(outpoint) || 0xc4 0x20 || txid`` (32 zero bytes for
    a lock to no transaction). It never equals a coin element, whose 37th
    byte is 0x93."""
    return encode_outpoint_key(outpoint) + LOCK_ELEMENT_MARKER + (txid or bytes(32))


def compute_reported_locks(
    reports: Sequence[EpochReport],
    reported_transactions: Sequence[Transaction],
    voting_set: VotingSet,
    prev_hash: bytes,
    view: UtxoView,
    params: ChainParams,
    height: int,
    verifier: Verifier,
    *,
    sig_cache: SignatureCache | None = None,
    existing_locks: Mapping[OutPoint, bytes | None] | None = None,
) -> dict[OutPoint, bytes | None]:
    """The locks that an epoch's last block establishes from its reports (ADR 0004).

    The *overlay* is `view` (the UTXO set after the block) plus the outputs
    of the valid carried transactions: these are validated in topological
    order (parents within the carried set first, ties by ascending txid)
    against the overlay as it grows; their outputs are added and nothing is
    spent (carried transactions may conflict with one another: that is what
    a lock to none records). A report entry (outpoint, txid) is:

    - *live* when its outpoint is in the overlay and its transaction is
      carried, spends the outpoint and is valid against the overlay: it
      makes a lock;
    - *dead* when its outpoint is not in the overlay, or when its carried
      transaction spends the outpoint and fails against the overlay with
      `missing-input` (another input is neither in the chain nor an output
      of a valid carried transaction): no lock. Such a transaction cannot
      be final (docs/spec/finality.md section 10.3), so it needs none;
    - otherwise (outpoint in the overlay, and the transaction not carried,
      not spending the outpoint, or invalid for any other reason) the
      report is invalid.

    The carried transactions must be exactly those named by entries whose
    outpoint is in the overlay (live entries, and entries shown dead by
    their body): validators reject a missing or an extra body.

    Parameters:
        reports: the reports the block carries, in strictly ascending voter
            key order (one per voter).
        reported_transactions: the reported transactions it carries in
            full, in strictly ascending txid order.
        voting_set: the outgoing voting set (the reports' epoch).
        prev_hash: the block's `prev_hash` (every report must name it).
        view: the UTXO set after the block.
        params, height: the chain parameters and the block's height.
        verifier: the consensus signature rule (reports).
        sig_cache: for the reported transactions' signatures.
        existing_locks: the reported locks in force before the block (after
            the releases it makes); an outpoint already locked keeps its
            lock, so it gets no new one.

    Returns:
        For each outpoint of a live entry not already locked: the unique
        txid the live entries name for it, or None when they name
        different txids. The outpoint may be an output of a carried
        transaction, not yet a coin.

    Raises:
        InvalidBlock: non-canonical-report (reports or transactions out of
            order, or repeated), bad-report (a report that does not verify,
            names another block, or has an entry that is neither live nor
            dead), unreported-transaction (a carried transaction that no
            entry with its outpoint in the overlay names),
            insufficient-reports (reporters' weight is not more than 2/3).
    """
    voter_keys = [report.voter for report in reports]
    if any(a >= b for a, b in itertools.pairwise(voter_keys)):
        raise InvalidBlock(
            REJECT_NON_CANONICAL_REPORT,
            "reports: expected strictly ascending voter keys (one report per voter)",
        )
    carried_txids = [compute_txid(tx) for tx in reported_transactions]
    if any(a >= b for a, b in itertools.pairwise(carried_txids)):
        raise InvalidBlock(
            REJECT_NON_CANONICAL_REPORT,
            "reported transactions: expected strictly ascending txids",
        )
    overlay = _ReportedOverlay(
        dict(zip(carried_txids, reported_transactions, strict=True)),
        view,
        params,
        height,
        sig_cache,
    )
    needed: set[bytes] = set()
    weight = 0
    candidates: dict[OutPoint, set[bytes]] = {}
    for number, report in enumerate(reports):
        voter = _verify_report_for_block(number, report, voting_set, prev_hash, params, verifier)
        weight += voter.weight
        live = overlay.check_report(number, report, needed)
        for entry in live:
            candidates.setdefault(entry.outpoint, set()).add(entry.txid)
    for txid in carried_txids:
        if txid not in needed:
            raise InvalidBlock(
                REJECT_UNREPORTED_TRANSACTION,
                f"carried transaction {txid.hex()} is needed by no report entry (none names "
                "it on an outpoint of the overlay)",
            )
    total = voting_set.total_weight
    if not is_quorum(weight, total):
        raise InvalidBlock(
            REJECT_INSUFFICIENT_REPORTS,
            f"reports of weight {weight} of {total}, expected more than 2/3",
        )
    locked = existing_locks or {}
    return {
        outpoint: (next(iter(txids)) if len(txids) == 1 else None)
        for outpoint, txids in candidates.items()
        if outpoint not in locked
    }


def select_epoch_reports(
    reports: Iterable[EpochReport],
    transactions: Iterable[Transaction],
    voting_set: VotingSet,
    prev_hash: bytes,
    view: UtxoView,
    params: ChainParams,
    height: int,
    verifier: Verifier,
    *,
    sig_cache: SignatureCache | None = None,
) -> tuple[list[EpochReport], list[Transaction]]:
    """What the proposer of an epoch's last block carries: the valid reports
    among `reports` and exactly the reported transactions they need, so
    that `compute_reported_locks` accepts the pair whenever the kept
    reports hold more than 2/3 of the weight.

    A report is first kept when it verifies against `voting_set` and names
    `prev_hash` (a second report of one voter is left out). Then, as a
    fixpoint: the carried set starts as every body in `transactions` that a
    kept report names; the overlay is built from it as
    `compute_reported_locks` does; a report with an entry that is neither
    live nor dead there is dropped; the carried set becomes the bodies the
    remaining reports need (entries whose outpoint is in the overlay); this
    repeats until neither changes. Both only shrink, so it ends, after at
    most one round per dropped report or body; shrinking the overlay only
    turns live entries dead, never a kept report invalid. Whether the kept
    reports reach more than 2/3 of the weight is left to the caller.

    Parameters:
        reports: the reports received for the epoch, any order.
        transactions: bodies the proposer holds (final, voted or pooled),
            any order; only those the kept reports need are returned.
        voting_set, prev_hash, view, params, height, verifier, sig_cache: as
            for `compute_reported_locks` (`view` is the UTXO set the block's
            transactions leave; the tip's gives a superset of the bodies,
            since the block's transactions only make entries dead).

    Returns:
        (kept reports in ascending voter key order, the transactions they
        need in ascending txid order).
    """
    bodies = {compute_txid(tx): tx for tx in transactions}
    kept: dict[bytes, EpochReport] = {}
    for number, report in enumerate(reports):
        if report.voter in kept:
            continue
        try:
            _verify_report_for_block(number, report, voting_set, prev_hash, params, verifier)
        except InvalidBlock:
            continue
        kept[report.voter] = report
    offered = {
        entry.txid for report in kept.values() for entry in report.entries if entry.txid in bodies
    }
    while True:
        overlay = _ReportedOverlay(
            {txid: bodies[txid] for txid in offered}, view, params, height, sig_cache
        )
        remaining: dict[bytes, EpochReport] = {}
        needed: set[bytes] = set()
        for number, (voter, report) in enumerate(kept.items()):
            needs: set[bytes] = set()
            try:
                overlay.check_report(number, report, needs)
            except InvalidBlock:
                continue
            remaining[voter] = report
            needed |= needs
        if len(remaining) == len(kept) and needed == offered:
            break
        kept, offered = remaining, needed
    selected = [kept[key] for key in sorted(kept)]
    return selected, [bodies[txid] for txid in sorted(offered)]


def select_report_quorum(
    reports: Sequence[EpochReport], voting_set: VotingSet
) -> list[EpochReport]:
    """The reports a proposer carries to keep the report table small: any
    set of more than 2/3 of the weight gives the guarantee of
    docs/spec/finality.md section 10.3, so the cheapest one will do.

    Greedy: repeatedly take the report adding the fewest entries not yet in
    the table per unit of weight (ties by ascending voter key) until the
    taken reports hold more than 2/3 of the weight. Honest reports mostly
    list the same entries, so after the first each adds little; a report
    padded with entries no other lists comes last and is left out when the
    others suffice. Cost: linear in the entries, plus one pass over the
    remaining reports per report taken.

    Parameters:
        reports: valid reports of distinct voters of `voting_set`
            (`select_epoch_reports` keeps such).
        voting_set: the outgoing voting set.

    Returns:
        The taken reports in ascending voter key order: all of them when
        they do not reach more than 2/3 of the weight.
    """
    weights = [_voter_weight(voting_set, report.voter) for report in reports]
    holders: dict[ReportEntry, list[int]] = {}
    for number, report in enumerate(reports):
        for entry in report.entries:
            holders.setdefault(entry, []).append(number)
    new_entries = [len(report.entries) for report in reports]
    in_table: set[ReportEntry] = set()
    remaining = set(range(len(reports)))
    taken: list[EpochReport] = []
    weight = 0
    total = voting_set.total_weight
    while remaining and not is_quorum(weight, total):
        best = min(
            remaining,
            key=lambda n: (new_entries[n] / max(weights[n], 1), reports[n].voter),
        )
        remaining.discard(best)
        report = reports[best]
        taken.append(report)
        weight += weights[best]
        for entry in report.entries:
            if entry not in in_table:
                in_table.add(entry)
                for holder in holders[entry]:
                    new_entries[holder] -= 1
    return sorted(taken, key=lambda r: r.voter)


def _voter_weight(voting_set: VotingSet, operator_key: bytes) -> int:
    index = voting_set.index_of(operator_key)
    return 0 if index is None else voting_set.voters[index].weight


def _verify_report_for_block(
    number: int,
    report: EpochReport,
    voting_set: VotingSet,
    prev_hash: bytes,
    params: ChainParams,
    verifier: Verifier,
) -> Voter:
    """`verify_epoch_report` (with `max_report_entries`), and the report
    names the block's parent."""
    try:
        voter = verify_epoch_report(
            report,
            voting_set,
            params.chain_id,
            verifier,
            max_entries=params.sizes.max_report_entries,
        )
    except InvalidVote as exc:
        raise InvalidBlock(REJECT_BAD_REPORT, f"report {number}: {exc.message}") from exc
    if report.prev_hash != prev_hash:
        raise InvalidBlock(
            REJECT_BAD_REPORT,
            f"report {number}: expected a report naming block {prev_hash.hex()}, got "
            f"{report.prev_hash.hex()}",
        )
    return voter


def compute_carried_order(bodies: Mapping[bytes, Transaction]) -> list[bytes]:
    """The txids of `bodies` in the order they are validated into the overlay:
    each transaction after those of `bodies` it spends from, ties in
    ascending txid order (Kahn's algorithm over a heap)."""
    children: dict[bytes, list[bytes]] = {}
    waiting: dict[bytes, int] = {}
    for txid, tx in bodies.items():
        parents = {txin.prevout.txid for txin in tx.inputs} & bodies.keys()
        waiting[txid] = len(parents)
        for parent in parents:
            children.setdefault(parent, []).append(txid)
    ready = [txid for txid, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[bytes] = []
    while ready:
        txid = heapq.heappop(ready)
        order.append(txid)
        for child in children.get(txid, ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    if len(order) < len(bodies):
        # A cycle needs a transaction spending an output of its own
        # descendant: impossible with txids that hash the inputs. Kept
        # deterministic anyway; such transactions find their inputs missing.
        placed = set(order)
        order.extend(sorted(txid for txid in bodies if txid not in placed))
    return order


class _ReportedOverlay:
    """The UTXO set after the block plus the outputs of the valid carried
    transactions, and the outcome of each carried transaction's validation
    against it (`compute_reported_locks`)."""

    __slots__ = ("_added", "_base", "_bodies", "_failures")

    def __init__(
        self,
        bodies: Mapping[bytes, Transaction],
        view: UtxoView,
        params: ChainParams,
        height: int,
        sig_cache: SignatureCache | None,
    ) -> None:
        self._bodies = bodies
        self._base = view
        self._added: dict[OutPoint, Coin] = {}
        self._failures: dict[bytes, str] = {}
        for txid in compute_carried_order(bodies):
            tx = bodies[txid]
            try:
                check_transaction(tx, params)
                validate_transaction(tx, txid, self, params, height, sig_cache=sig_cache)
            except InvalidTransaction as exc:
                self._failures[txid] = exc.reject_code
                continue
            for index, txout in enumerate(tx.outputs):
                self._added[OutPoint(txid=txid, index=index)] = Coin(
                    amount=txout.amount, address=txout.address, height=height
                )

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The coin at `outpoint` in the overlay, or None."""
        coin = self._added.get(outpoint)
        return coin if coin is not None else self._base.get_coin(outpoint)

    def check_report(
        self, number: int, report: EpochReport, needed: set[bytes]
    ) -> list[ReportEntry]:
        """The live entries of `report`; adds to `needed` the txids whose
        bodies it needs (entries whose outpoint is in the overlay). Raises
        InvalidBlock (bad-report) for an entry neither live nor dead."""
        live: list[ReportEntry] = []
        for entry in report.entries:
            if self.get_coin(entry.outpoint) is None:
                continue  # dead: spent, or not an output of a placed transaction
            if self._check_entry(number, entry):
                live.append(entry)
            needed.add(entry.txid)
        return live

    def _check_entry(self, number: int, entry: ReportEntry) -> bool:
        """Whether an entry whose outpoint is in the overlay is live (False:
        dead, its transaction misses another input)."""
        outpoint = entry.outpoint
        tx = self._bodies.get(entry.txid)
        if tx is None:
            raise InvalidBlock(
                REJECT_BAD_REPORT,
                f"report {number}: transaction {entry.txid.hex()} is not carried in full",
            )
        if not any(txin.prevout == outpoint for txin in tx.inputs):
            raise InvalidBlock(
                REJECT_BAD_REPORT,
                f"report {number}: transaction {entry.txid.hex()} does not spend "
                f"{outpoint.txid.hex()}:{outpoint.index}",
            )
        failure = self._failures.get(entry.txid)
        if failure is None:
            return True
        if failure == ledger_errors.REJECT_MISSING_INPUT:
            return False
        raise InvalidBlock(
            REJECT_BAD_REPORT,
            f"report {number}: transaction {entry.txid.hex()} is invalid: {failure}",
        )
