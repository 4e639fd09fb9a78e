"""The encoding vectors: checked-in files match the generator, and the code matches them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from encoding_strategies import CONSENSUS_TYPES

import timecoin.types
from timecoin.encoding import decode, encode
from timecoin.types import (
    Block,
    BlockHeader,
    Transaction,
    VotingSet,
    compute_block_hash,
    compute_txid,
    compute_witness_hash,
)

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIR = ROOT / "tests" / "vectors"
VECTOR_FILES = sorted(VECTOR_DIR.glob("encoding_*.json"))


def load_generator() -> ModuleType:
    path = ROOT / "scripts" / "gen_vectors_encoding.py"
    spec = importlib.util.spec_from_file_location("gen_vectors_encoding", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()


def test_generator_reproduces_checked_in_files() -> None:
    expected = GENERATOR.build_vectors()
    assert sorted(expected) == [p.name for p in VECTOR_FILES]
    for name, content in expected.items():
        assert (VECTOR_DIR / name).read_text() == content, f"{name} is stale"


def test_every_consensus_type_has_vectors() -> None:
    named = {json.loads(p.read_text())["type"] for p in VECTOR_FILES}
    assert named == {t.__name__ for t in CONSENSUS_TYPES}


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vectors_decode_and_hash(path: Path) -> None:
    content = json.loads(path.read_text())
    type_: type[Any] = getattr(timecoin.types, content["type"])
    for vector in content["vectors"]:
        data = bytes.fromhex(vector["encoding"])
        obj = decode(data, type_, len(data))
        assert encode(obj) == data
        assert GENERATOR.to_json(obj) == vector["object"], vector["name"]
        if isinstance(obj, Transaction):
            assert compute_txid(obj).hex() == vector["txid"]
            assert compute_witness_hash(obj).hex() == vector["witness_hash"]
        elif isinstance(obj, BlockHeader):
            assert compute_block_hash(obj).hex() == vector["block_hash"]
        elif isinstance(obj, Block):
            assert compute_block_hash(obj.header).hex() == vector["block_hash"]
        elif isinstance(obj, VotingSet):
            assert obj.compute_hash().hex() == vector["hash"]


def test_independent_writer_matches_on_edges() -> None:
    pack = GENERATOR.pack
    for n in (0, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**63 - 1, -1, -32, -33):
        assert pack(n) == encode(n)
    for size in (0, 255, 256, 65_535, 65_536):
        assert pack(b"x" * size) == encode(b"x" * size)
    for size in (0, 15, 16, 65_535, 65_536):
        assert pack([0] * size) == encode([0] * size)
