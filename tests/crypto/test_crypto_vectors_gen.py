"""The checked-in vector files are exactly what the generator produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_vectors_crypto", ROOT / "scripts" / "gen_vectors_crypto.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("scripts/gen_vectors_crypto.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
BUILT = GENERATOR.build_vectors()


def test_expected_files() -> None:
    assert sorted(BUILT) == sorted(
        [
            "crypto_address.json",
            "crypto_ed25519_edge.json",
            "crypto_ed25519_rfc8032.json",
            "crypto_kdf.json",
            "crypto_merkle.json",
            "crypto_muhash.json",
        ]
    )


@pytest.mark.parametrize("name", sorted(BUILT))
def test_file_is_reproduced_byte_for_byte(name: str) -> None:
    assert (VECTORS / name).read_bytes() == GENERATOR.render(BUILT[name]).encode("utf-8")


def test_generation_is_deterministic() -> None:
    again = GENERATOR.build_vectors()
    for name, obj in BUILT.items():
        assert GENERATOR.render(again[name]) == GENERATOR.render(obj)
