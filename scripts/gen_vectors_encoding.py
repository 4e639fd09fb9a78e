"""Generate the JSON test vectors of the consensus encoding in ``tests/vectors/``.

One file per type, ``encoding_<type>.json``, each with a few objects (all
fields at their minimum, at their maximum, and typical values), their
canonical bytes, and the identifiers derived from them (txid and witness
hash of a transaction, block hash of a header or block, hash of a voting
set). The bytes come from a small MessagePack writer in this file, written
from docs/spec/encoding.md, and are cross-checked against
``timecoin.encoding.encode``; the hashes are hashlib's SHA-256.

Deterministic: ``tests/encoding/test_encoding_vectors.py`` checks that the
checked-in files are exactly what ``build_vectors()`` returns.

Usage: ``python scripts/gen_vectors_encoding.py [--check]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VECTOR_DIR = ROOT / "tests" / "vectors"

if importlib.util.find_spec("timecoin") is None:
    sys.path.insert(0, str(ROOT / "src"))

import msgspec  # noqa: E402

from timecoin.encoding import encode  # noqa: E402
from timecoin.params import MAX_MONEY  # noqa: E402
from timecoin.types import (  # noqa: E402
    NO_COLLATERAL,
    AttestedHeartbeat,
    Block,
    BlockHeader,
    BlockUndo,
    Certificate,
    Coin,
    CommitSignature,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    EpochReport,
    FinalityProof,
    Heartbeat,
    InputProof,
    MasternodeRegistration,
    OperatorUpdate,
    OutPoint,
    PackedReport,
    ProofVote,
    Proposal,
    ReportedLock,
    ReportEntry,
    SpentCoin,
    Transaction,
    TxInput,
    TxOutput,
    TxVote,
    TxVoteBatch,
    TxVoteEquivocationEvidence,
    Vote,
    VoteLeaf,
    Voter,
    VotingSet,
    WitnessSignature,
)

U64_MAX = 2**63 - 1
U32_MAX = 0xFFFF_FFFF


# ---------------------------------------------------------------------------
# An independent canonical MessagePack writer (the subset the types use).
# ---------------------------------------------------------------------------


def pack(value: Any) -> bytes:
    """Canonical MessagePack of ints, bytes, None, lists and Structs (as arrays)."""
    if isinstance(value, msgspec.Struct):
        tag = value.__struct_config__.tag
        fields = [getattr(value, name) for name in value.__struct_fields__]
        return pack(([tag] if tag is not None else []) + fields)
    if value is None:
        return b"\xc0"
    if isinstance(value, bool):
        raise TypeError("booleans are not part of the consensus encoding")
    if isinstance(value, int):
        return _pack_int(value)
    if isinstance(value, bytes):
        n = len(value)
        if n < 2**8:
            return b"\xc4" + n.to_bytes(1, "big") + value
        if n < 2**16:
            return b"\xc5" + n.to_bytes(2, "big") + value
        return b"\xc6" + n.to_bytes(4, "big") + value
    if isinstance(value, list):
        n = len(value)
        if n < 16:
            head = bytes([0x90 | n])
        elif n < 2**16:
            head = b"\xdc" + n.to_bytes(2, "big")
        else:
            head = b"\xdd" + n.to_bytes(4, "big")
        return head + b"".join(pack(item) for item in value)
    raise TypeError(f"cannot pack {type(value).__name__}")


def _pack_int(n: int) -> bytes:
    if 0 <= n < 128:
        return bytes([n])
    if -32 <= n < 0:
        return (n & 0xFF).to_bytes(1, "big")
    if n >= 0:
        for code, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
            if n < 2 ** (8 * size):
                return bytes([code]) + n.to_bytes(size, "big")
    for code, size in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
        if n >= -(2 ** (8 * size - 1)):
            return bytes([code]) + n.to_bytes(size, "big", signed=True)
    raise ValueError(f"integer out of range: {n}")


def to_json(value: Any) -> Any:
    """A readable JSON form: structs as objects (with "kind" for tagged ones), bytes as hex."""
    if isinstance(value, msgspec.Struct):
        out: dict[str, Any] = {}
        if value.__struct_config__.tag is not None:
            out["kind"] = type(value).__name__
        for name in value.__struct_fields__:
            out[name] = to_json(getattr(value, name))
        return out
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def fill(label: str, size: int) -> bytes:
    """Deterministic filler bytes of `size` derived from `label`."""
    out = b""
    counter = 0
    while len(out) < size:
        out += sha256(f"{label}/{counter}".encode())
        counter += 1
    return out[:size]


# ---------------------------------------------------------------------------
# Sample objects.
# ---------------------------------------------------------------------------


def _outpoint(label: str, index: int = 1) -> OutPoint:
    return OutPoint(txid=fill(label, 32), index=index)


def _registration(tier: int = 1, index: int = 0) -> MasternodeRegistration:
    return MasternodeRegistration(
        tier=tier,
        collateral_index=index,
        owner_key=fill("owner", 32),
        operator_key=fill("operator", 32),
        reward_address=fill("reward", 20),
        network_address=b"203.0.113.7:24100",
    )


def _update() -> OperatorUpdate:
    return OperatorUpdate(
        masternode_id=fill("mn", 32),
        operator_key=fill("operator2", 32),
        reward_address=fill("reward2", 20),
        network_address=b"[2001:db8::1]:24100",
    )


def _transfer() -> Transaction:
    return Transaction(
        version=1,
        inputs=[TxInput(prevout=_outpoint("prev", 0), public_key=fill("alice", 32))],
        outputs=[
            TxOutput(amount=150_000_000, address=fill("bob", 20)),
            TxOutput(amount=849_990_000, address=fill("alice-change", 20)),
        ],
        lock_time=0,
        payload=None,
        signatures=[fill("sig", 64)],
        owner_signature=None,
    )


def _empty_tx(lock_time: int = 0) -> Transaction:
    return Transaction(
        version=0,
        inputs=[],
        outputs=[],
        lock_time=lock_time,
        payload=None,
        signatures=[],
        owner_signature=None,
    )


def _vote(label: str) -> Vote:
    return Vote(
        vote_type=2,
        height=1_000,
        round=0,
        block_hash=fill(label, 32),
        voter=fill("voter", 32),
        signature=fill(label + "-sig", 64),
    )


def _tx_vote(label: str) -> TxVote:
    return TxVote(
        voter=fill("voter", 32),
        epoch=7,
        root=fill(label + "-root", 32),
        count=5,
        signature=fill(label + "-sig", 64),
        txid=fill(label + "-txid", 32),
        inputs_root=fill(label + "-inputs", 32),
        index=2,
        branch=[fill(f"{label}-b{i}", 32) for i in range(3)],
    )


def _input_proof(label: str) -> InputProof:
    return InputProof(index=1, count=2, branch=[fill(label + "-ib", 32)])


def _proposal(label: str, pol_round: int = -1) -> Proposal:
    return Proposal(
        height=1_000,
        round=1,
        pol_round=pol_round,
        block_hash=fill(label, 32),
        timestamp_ms=1_767_225_600_000,
        proposer=fill("proposer", 32),
        signature=fill(label + "-sig", 64),
    )


def _header(zero: bool = False) -> BlockHeader:
    if zero:
        return BlockHeader(0, 0, 0, 0, *([bytes(32)] + [0] + [bytes(32)] * 9))
    return BlockHeader(
        version=1,
        chain_id=0x44544D45,
        height=1_000,
        epoch=50,
        prev_hash=fill("prev-block", 32),
        timestamp_ms=1_767_225_600_000,
        proposer=fill("proposer", 32),
        tx_root=fill("tx-root", 32),
        witness_root=fill("witness-root", 32),
        prev_certificate_hash=fill("cert", 32),
        evidence_hash=fill("evidence", 32),
        attestations_hash=fill("attestations", 32),
        utxo_commitment=fill("utxo", 32),
        next_voting_set_hash=fill("voting-set", 32),
        reports_hash=fill("reports", 32),
    )


def _heartbeat() -> Heartbeat:
    return Heartbeat(
        masternode_id=fill("mn", 32),
        sequence=42,
        timestamp_ms=1_767_225_605_000,
        signature=fill("hb-sig", 64),
    )


def _certificate() -> Certificate:
    return Certificate(
        height=999,
        round=0,
        block_hash=fill("prev-block", 32),
        signatures=[
            CommitSignature(voter_index=i, signature=fill(f"commit-{i}", 64)) for i in range(3)
        ],
    )


def samples() -> dict[type[Any], list[tuple[str, Any]]]:
    """The sample objects of every consensus type, by type, in a fixed order."""
    max32 = b"\xff" * 32
    return {
        OutPoint: [
            ("zero", OutPoint(txid=bytes(32), index=0)),
            ("max", OutPoint(txid=max32, index=U32_MAX)),
            ("typical", _outpoint("prev", 1)),
        ],
        TxInput: [("typical", TxInput(prevout=_outpoint("prev", 0), public_key=fill("alice", 32)))],
        TxOutput: [
            ("dust", TxOutput(amount=546, address=fill("bob", 20))),
            ("max-money", TxOutput(amount=MAX_MONEY, address=b"\xff" * 20)),
        ],
        MasternodeRegistration: [
            ("bronze", _registration()),
            ("free", _registration(tier=0, index=NO_COLLATERAL)),
        ],
        OperatorUpdate: [("typical", _update())],
        Transaction: [
            ("empty", _empty_tx()),
            ("coinbase", _empty_tx(lock_time=1_000)),
            ("transfer", _transfer()),
            (
                "registration",
                msgspec.structs.replace(
                    _transfer(), payload=_registration(), owner_signature=fill("owner-sig", 64)
                ),
            ),
            (
                "operator-update",
                msgspec.structs.replace(
                    _transfer(), payload=_update(), owner_signature=fill("owner-sig", 64)
                ),
            ),
            (
                "twenty-inputs",
                Transaction(
                    version=1,
                    inputs=[
                        TxInput(prevout=_outpoint(f"p{i}", i), public_key=fill("k", 32))
                        for i in range(20)
                    ],
                    outputs=[TxOutput(amount=U32_MAX + 1, address=fill("to", 20))],
                    lock_time=U64_MAX,
                    payload=None,
                    signatures=[fill(f"s{i}", 64) for i in range(20)],
                    owner_signature=None,
                ),
            ),
        ],
        Coin: [
            ("zero", Coin(amount=0, address=bytes(20), height=0)),
            ("max", Coin(amount=MAX_MONEY, address=b"\xff" * 20, height=U64_MAX)),
            ("typical", Coin(amount=150_000_000, address=fill("bob", 20), height=1_000)),
        ],
        SpentCoin: [
            (
                "typical",
                SpentCoin(
                    outpoint=_outpoint("prev", 0),
                    coin=Coin(amount=999_990_000, address=fill("alice", 20), height=7),
                ),
            )
        ],
        BlockUndo: [
            ("empty", BlockUndo(spent=[], utxo_state_before=b"\x01" + bytes(383))),
            (
                "two-spent",
                BlockUndo(
                    spent=[
                        SpentCoin(
                            outpoint=_outpoint(f"u{i}", i),
                            coin=Coin(amount=10**8 * (i + 1), address=fill("a", 20), height=i),
                        )
                        for i in range(2)
                    ],
                    utxo_state_before=fill("muhash", 384),
                ),
            ),
            (
                "locks",
                BlockUndo(
                    spent=[],
                    utxo_state_before=fill("muhash", 384),
                    released_locks=[
                        ReportedLock(outpoint=_outpoint("r0", 0), txid=fill("locked", 32)),
                        ReportedLock(outpoint=_outpoint("r1", 1), txid=None),
                    ],
                    created_locks=[_outpoint("c0", 2)],
                ),
            ),
        ],
        ReportedLock: [
            ("unique", ReportedLock(outpoint=_outpoint("prev", 0), txid=fill("locked", 32))),
            ("none", ReportedLock(outpoint=_outpoint("prev", 1), txid=None)),
        ],
        BlockHeader: [("zero", _header(zero=True)), ("typical", _header())],
        Vote: [
            ("precommit", _vote("block")),
            (
                "nil-prevote",
                msgspec.structs.replace(_vote("nil"), vote_type=1, block_hash=bytes(32)),
            ),
        ],
        Proposal: [("no-pol", _proposal("block")), ("pol-round", _proposal("block", 0))],
        CommitSignature: [
            ("typical", CommitSignature(voter_index=0xFFFF, signature=fill("c", 64)))
        ],
        Certificate: [("three-signatures", _certificate())],
        DuplicateVoteEvidence: [
            ("typical", DuplicateVoteEvidence(vote_a=_vote("a"), vote_b=_vote("b")))
        ],
        DuplicateProposalEvidence: [
            (
                "typical",
                DuplicateProposalEvidence(proposal_a=_proposal("a"), proposal_b=_proposal("b")),
            )
        ],
        Heartbeat: [("typical", _heartbeat())],
        WitnessSignature: [
            ("typical", WitnessSignature(witness=fill("w", 32), signature=fill("w-sig", 64)))
        ],
        AttestedHeartbeat: [
            (
                "three-witnesses",
                AttestedHeartbeat(
                    heartbeat=_heartbeat(),
                    attestations=[
                        WitnessSignature(witness=fill(f"w{i}", 32), signature=fill(f"ws{i}", 64))
                        for i in range(3)
                    ],
                ),
            )
        ],
        Block: [
            (
                "empty",
                Block(
                    header=_header(zero=True),
                    transactions=[],
                    prev_certificate=None,
                    evidence=[],
                    attestations=[],
                ),
            ),
            (
                "full",
                Block(
                    header=_header(),
                    transactions=[_empty_tx(lock_time=1_000), _transfer()],
                    prev_certificate=_certificate(),
                    evidence=[
                        DuplicateVoteEvidence(vote_a=_vote("a"), vote_b=_vote("b")),
                        DuplicateProposalEvidence(
                            proposal_a=_proposal("a"), proposal_b=_proposal("b")
                        ),
                    ],
                    attestations=[AttestedHeartbeat(heartbeat=_heartbeat(), attestations=[])],
                ),
            ),
            (
                "epoch-last",
                Block(
                    header=_header(),
                    transactions=[_empty_tx(lock_time=1_000)],
                    prev_certificate=_certificate(),
                    evidence=[],
                    attestations=[],
                    report_entries=[
                        ReportEntry(outpoint=_outpoint("prev", 0), txid=fill("txid", 32))
                    ],
                    reports=[
                        PackedReport(
                            voter=fill("voter", 32),
                            signature=fill("report-sig", 64),
                            selection=b"\x01",
                        )
                    ],
                    reported_transactions=[_transfer()],
                ),
            ),
        ],
        Voter: [
            (
                "typical",
                Voter(masternode_id=fill("mn", 32), operator_key=fill("op", 32), weight=100),
            )
        ],
        VotingSet: [
            (
                "two-voters",
                VotingSet(
                    epoch=50,
                    voters=[
                        Voter(
                            masternode_id=fill(f"mn{i}", 32),
                            operator_key=fill(f"op{i}", 32),
                            weight=w,
                        )
                        for i, w in enumerate((100, 10))
                    ],
                ),
            )
        ],
        TxVoteBatch: [
            (
                "typical",
                TxVoteBatch(
                    voter=fill("voter", 32),
                    epoch=7,
                    root=fill("root", 32),
                    count=1_024,
                    signature=fill("batch-sig", 64),
                ),
            )
        ],
        VoteLeaf: [("typical", VoteLeaf(txid=fill("txid", 32), inputs_root=fill("inputs", 32)))],
        TxVote: [("three-siblings", _tx_vote("a"))],
        ProofVote: [
            (
                "typical",
                ProofVote(
                    voter_index=3,
                    root=fill("root", 32),
                    count=5,
                    index=2,
                    branch=[fill(f"b{i}", 32) for i in range(3)],
                    signature=fill("sig", 64),
                ),
            )
        ],
        FinalityProof: [
            (
                "two-votes",
                FinalityProof(
                    txid=fill("txid", 32),
                    inputs_root=fill("inputs", 32),
                    epoch=7,
                    votes=[
                        ProofVote(
                            voter_index=i,
                            root=fill(f"root{i}", 32),
                            count=1,
                            index=0,
                            branch=[],
                            signature=fill(f"sig{i}", 64),
                        )
                        for i in (0, 2)
                    ],
                ),
            )
        ],
        ReportEntry: [
            ("typical", ReportEntry(outpoint=_outpoint("prev", 1), txid=fill("txid", 32)))
        ],
        EpochReport: [
            (
                "two-entries",
                EpochReport(
                    epoch=7,
                    prev_hash=fill("prev-block", 32),
                    entries=[
                        ReportEntry(outpoint=_outpoint(f"prev{i}", i), txid=fill(f"txid{i}", 32))
                        for i in range(2)
                    ],
                    voter=fill("voter", 32),
                    signature=fill("report-sig", 64),
                ),
            ),
            (
                "empty",
                EpochReport(
                    epoch=0,
                    prev_hash=bytes(32),
                    entries=[],
                    voter=fill("voter", 32),
                    signature=fill("report-sig", 64),
                ),
            ),
        ],
        PackedReport: [
            (
                "nine-entry-table",
                PackedReport(
                    voter=fill("voter", 32),
                    signature=fill("report-sig", 64),
                    selection=b"\x05\x01",
                ),
            ),
            (
                "empty-table",
                PackedReport(
                    voter=fill("voter", 32), signature=fill("report-sig", 64), selection=b""
                ),
            ),
        ],
        InputProof: [("typical", _input_proof("a"))],
        TxVoteEquivocationEvidence: [
            (
                "typical",
                TxVoteEquivocationEvidence(
                    outpoint=_outpoint("prev", 0),
                    vote_a=_tx_vote("a"),
                    input_a=_input_proof("a"),
                    vote_b=_tx_vote("b"),
                    input_b=_input_proof("b"),
                ),
            )
        ],
    }


def snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def identifiers(obj: Any) -> dict[str, str]:
    """The hashes derived from an object's encoding (independently of timecoin)."""
    if isinstance(obj, Transaction):
        body = pack([obj.version, obj.inputs, obj.outputs, obj.lock_time, obj.payload])
        return {"txid": sha256(body).hex(), "witness_hash": sha256(pack(obj)).hex()}
    if isinstance(obj, BlockHeader):
        return {"block_hash": sha256(pack(obj)).hex()}
    if isinstance(obj, Block):
        return {"block_hash": sha256(pack(obj.header)).hex()}
    if isinstance(obj, VotingSet):
        return {"hash": sha256(pack(obj)).hex()}
    return {}


def build_vectors() -> dict[str, str]:
    """File name -> exact file content of every encoding vector file."""
    files: dict[str, str] = {}
    for type_, items in samples().items():
        vectors = []
        for name, obj in items:
            data = pack(obj)
            if encode(obj) != data:
                raise AssertionError(f"{type_.__name__}/{name}: timecoin.encoding disagrees")
            vectors.append(
                {"name": name, "object": to_json(obj), "encoding": data.hex(), **identifiers(obj)}
            )
        content = {
            "type": type_.__name__,
            "description": (
                f"Canonical encodings of {type_.__name__} (docs/spec/encoding.md); bytes as hex."
            ),
            "vectors": vectors,
        }
        files[f"encoding_{snake_case(type_.__name__)}.json"] = json.dumps(content, indent=1) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    stale = []
    for name, content in build_vectors().items():
        path = VECTOR_DIR / name
        if args.check:
            if not path.exists() or path.read_text() != content:
                stale.append(name)
        else:
            path.write_text(content)
    if stale:
        print("stale vector files: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
