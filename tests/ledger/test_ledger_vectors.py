"""The ledger vectors: checked-in files match the generator, and the rules match them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis
from timecoin.encoding import decode, encode
from timecoin.ledger import (
    MemoryUtxoSet,
    check_transaction,
    compute_utxo_commitment,
    encode_utxo_element,
    validate_transaction,
)
from timecoin.params import Tier, get_preset
from timecoin.types import (
    Coin,
    InvalidTransaction,
    OutPoint,
    Transaction,
    compute_block_hash,
    compute_txid,
)

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIR = ROOT / "tests" / "vectors"


def load_generator() -> ModuleType:
    path = ROOT / "scripts" / "gen_vectors_ledger.py"
    spec = importlib.util.spec_from_file_location("gen_vectors_ledger", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> Any:
    return json.loads((VECTOR_DIR / name).read_text())


def coins_of(rows: list[dict[str, Any]]) -> dict[OutPoint, Coin]:
    return {
        OutPoint(txid=bytes.fromhex(r["txid"]), index=r["index"]): Coin(
            amount=r["amount"], address=bytes.fromhex(r["address"]), height=r["height"]
        )
        for r in rows
    }


def test_generator_reproduces_checked_in_files() -> None:
    expected = load_generator().build_vectors()
    on_disk = sorted(p.name for p in VECTOR_DIR.glob("ledger_*.json"))
    assert sorted(expected) == on_disk
    for name, content in expected.items():
        assert (VECTOR_DIR / name).read_text() == content, f"{name} is stale"


CASES = load("ledger_transactions.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_transaction_vector(case: dict[str, Any]) -> None:
    params = get_preset(load("ledger_transactions.json")["network"])
    data = bytes.fromhex(case["transaction"])
    tx = decode(data, Transaction, params.sizes.max_tx_bytes)
    txid = compute_txid(tx)
    assert txid.hex() == case["txid"]
    view = MemoryUtxoSet(coins_of(case["utxo"]))
    try:
        check_transaction(tx, params, size_bytes=len(data))
        outcome = {"fee": validate_transaction(tx, txid, view, params, case["height"])}
    except InvalidTransaction as exc:
        outcome = {"reject_code": exc.reject_code}
    assert outcome == case["expected"]
    if case["name"].startswith("valid"):
        assert "fee" in outcome
    else:
        assert case["name"].startswith(outcome["reject_code"])


def test_commitment_vectors() -> None:
    content = load("ledger_utxo_commitment.json")
    items = []
    for row in content["elements"]:
        ((op, coin),) = coins_of([row]).items()
        assert encode_utxo_element(op, coin).hex() == row["element"]
        assert row["element"].endswith(encode(coin).hex())
        items.append((op, coin))
    for row in content["sets"]:
        members = [items[i] for i in row["members"]]
        assert compute_utxo_commitment(members).hex() == row["commitment"]


def test_genesis_vector() -> None:
    content = load("ledger_genesis.json")
    raw = content["spec"]
    spec = GenesisSpec(
        params=get_preset(raw["network"]),
        timestamp_ms=raw["timestamp_ms"],
        allocations=tuple((bytes.fromhex(a["address"]), a["amount"]) for a in raw["allocations"]),
        masternodes=tuple(
            GenesisMasternode(
                tier=Tier(m["tier"]),
                owner_key=bytes.fromhex(m["owner_key"]),
                operator_key=bytes.fromhex(m["operator_key"]),
                reward_address=bytes.fromhex(m["reward_address"]),
                network_address=bytes.fromhex(m["network_address"]),
            )
            for m in raw["masternodes"]
        ),
    )
    block = build_genesis(spec)
    assert encode(block).hex() == content["block"]
    assert compute_block_hash(block.header).hex() == content["block_hash"]
    assert [compute_txid(tx).hex() for tx in block.transactions] == content["txids"]
    assert block.header.utxo_commitment.hex() == content["utxo_commitment"]
