"""Merkle trees: vectors, the odd-node rule, proofs and their rejection."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from timecoin.crypto import MerkleProof, merkle_proof, merkle_root, sha256, verify_merkle_proof

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "crypto_merkle.json").read_text()
)


def _leaf(i: int) -> bytes:
    return sha256(b"TIMECOIN/test/leaf" + i.to_bytes(4, "big"))


@pytest.mark.parametrize("case", VECTORS["roots"], ids=lambda case: str(case["leaf_count"]))
def test_root_vectors(case: dict[str, Any]) -> None:
    leaves = [bytes.fromhex(leaf) for leaf in case["leaves"]]
    assert leaves == [_leaf(i) for i in range(case["leaf_count"])]
    assert merkle_root(leaves).hex() == case["root"]


def test_proof_vectors() -> None:
    for case in VECTORS["proofs"]:
        leaves = [_leaf(i) for i in range(case["leaf_count"])]
        proof = merkle_proof(leaves, case["index"])
        assert [s.hex() for s in proof.siblings] == case["siblings"]
        assert verify_merkle_proof(bytes.fromhex(case["root"]), bytes.fromhex(case["leaf"]), proof)


def test_empty_single_and_pair() -> None:
    a, b = _leaf(0), _leaf(1)
    assert merkle_root([]) == bytes(32)
    assert merkle_root([a]) == sha256(b"\x00" + a)
    assert merkle_root([a, b]) == sha256(b"\x01" + sha256(b"\x00" + a) + sha256(b"\x00" + b))


def test_odd_node_is_promoted_not_duplicated() -> None:
    a, b, c = _leaf(0), _leaf(1), _leaf(2)
    node = [sha256(b"\x00" + x) for x in (a, b, c)]
    assert merkle_root([a, b, c]) == sha256(b"\x01" + sha256(b"\x01" + node[0] + node[1]) + node[2])
    # CVE-2012-2459: duplicating the last leaf must change the root.
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    assert VECTORS["duplicate_leaf"]["abc"] != VECTORS["duplicate_leaf"]["abcc"]
    assert merkle_root([a, b, c]).hex() == VECTORS["duplicate_leaf"]["abc"]
    assert merkle_root([a, b, c, c]).hex() == VECTORS["duplicate_leaf"]["abcc"]
    leaves = [_leaf(i) for i in range(5)]
    assert merkle_root(leaves) != merkle_root([*leaves, leaves[-1]])
    assert merkle_root(leaves) != merkle_root([*leaves, *leaves[-1:], *leaves[-2:]])


def test_leaf_is_not_an_inner_node() -> None:
    a, b = _leaf(0), _leaf(1)
    inner = sha256(b"\x00" + a) + sha256(b"\x00" + b)
    # A 64-byte "leaf" is refused, and a single leaf never equals an inner hash.
    with pytest.raises(ValueError):
        merkle_root([inner])
    assert merkle_root([sha256(inner)]) != merkle_root([a, b])


@pytest.mark.parametrize("size", range(1, 18))
def test_proofs_for_every_index(size: int) -> None:
    leaves = [_leaf(i) for i in range(size)]
    root = merkle_root(leaves)
    for index in range(size):
        proof = merkle_proof(leaves, index)
        assert proof.index == index and proof.leaf_count == size
        assert verify_merkle_proof(root, leaves[index], proof)
        for other in range(size):
            if leaves[other] != leaves[index]:
                assert not verify_merkle_proof(root, leaves[other], proof)


def _path(index: int, leaf_count: int) -> tuple[str, ...]:
    """Hash steps from a leaf to the root: L/R = path node is the left/right child."""
    steps = []
    while leaf_count > 1:
        if index ^ 1 < leaf_count:
            steps.append("R" if index & 1 else "L")
        index >>= 1
        leaf_count = (leaf_count + 1) >> 1
    return tuple(steps)


@pytest.mark.parametrize("size", range(1, 65))
def test_index_is_bound_for_a_given_leaf_count(size: int) -> None:
    paths = {_path(index, size) for index in range(size)}
    assert len(paths) == size
    leaves = [_leaf(i) for i in range(size)]
    root = merkle_root(leaves)
    if size <= 17:
        for index in range(size):
            proof = merkle_proof(leaves, index)
            for other in range(size):
                moved = dataclasses.replace(proof, index=other)
                assert verify_merkle_proof(root, leaves[index], moved) is (other == index)


@pytest.mark.parametrize("size", range(1, 18))
def test_leaf_count_is_checked_against_the_path(size: int) -> None:
    """A different leaf_count is rejected unless it gives the very same hash path.

    The root does not commit to the number of leaves (docs/spec/crypto.md):
    a proof binds its leaf to the root, and its index only together with a
    leaf_count authenticated elsewhere.
    """
    leaves = [_leaf(i) for i in range(size)]
    root = merkle_root(leaves)
    for index in range(size):
        proof = merkle_proof(leaves, index)
        for count in range(1, 2 * size + 3):
            claimed = dataclasses.replace(proof, leaf_count=count)
            same_path = index < count and _path(index, count) == _path(index, size)
            assert verify_merkle_proof(root, leaves[index], claimed) is same_path


def _mutations(proof: MerkleProof) -> list[MerkleProof]:
    replace = dataclasses.replace
    out = [
        replace(proof, index=proof.index + 1),
        replace(proof, index=proof.index - 1),
        replace(proof, siblings=(*proof.siblings, bytes(32))),
        replace(proof, siblings=(bytes(32), *proof.siblings)),
    ]
    if proof.siblings:
        out.append(replace(proof, siblings=proof.siblings[:-1]))
        out.append(replace(proof, siblings=proof.siblings[1:]))
        out.append(replace(proof, siblings=proof.siblings[::-1]))
        for position, sibling in enumerate(proof.siblings):
            flipped = bytes([sibling[0] ^ 1]) + sibling[1:]
            siblings = list(proof.siblings)
            siblings[position] = flipped
            out.append(replace(proof, siblings=tuple(siblings)))
            siblings[position] = sibling[:31]
            out.append(replace(proof, siblings=tuple(siblings)))
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 17])
def test_mutated_proofs_fail(size: int) -> None:
    leaves = [_leaf(i) for i in range(size)]
    root = merkle_root(leaves)
    for index in range(size):
        proof = merkle_proof(leaves, index)
        for bad in _mutations(proof):
            if bad == proof:
                continue
            assert not verify_merkle_proof(root, leaves[index], bad), bad
        assert not verify_merkle_proof(root[:31], leaves[index], proof)
        assert not verify_merkle_proof(bytes(32), leaves[index], proof)
        assert not verify_merkle_proof(root, leaves[index][:31], proof)


def test_verify_never_raises_on_garbage() -> None:
    leaves = [_leaf(i) for i in range(4)]
    root = merkle_root(leaves)
    weird: list[Any] = [
        MerkleProof(index=0, leaf_count=4, siblings=("x" * 32, "y" * 32)),  # type: ignore[arg-type]
        MerkleProof(index="0", leaf_count=4, siblings=()),  # type: ignore[arg-type]
        MerkleProof(index=0, leaf_count=2**64, siblings=()),
        MerkleProof(index=-1, leaf_count=4, siblings=()),
        MerkleProof(index=0, leaf_count=0, siblings=()),
    ]
    for proof in weird:
        assert verify_merkle_proof(root, leaves[0], proof) is False
    assert verify_merkle_proof(root, "leaf", merkle_proof(leaves, 0)) is False  # type: ignore[arg-type]


def test_bad_inputs_raise_value_error() -> None:
    leaves = [_leaf(i) for i in range(3)]
    with pytest.raises(ValueError, match="leaf 1"):
        merkle_root([leaves[0], b"short", leaves[2]])
    with pytest.raises(ValueError, match="index"):
        merkle_proof(leaves, 3)
    with pytest.raises(ValueError, match="index"):
        merkle_proof(leaves, -1)
    with pytest.raises(ValueError, match="index"):
        merkle_proof([], 0)


def test_proof_is_frozen() -> None:
    proof = merkle_proof([_leaf(0), _leaf(1)], 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        proof.index = 1  # type: ignore[misc]


def test_large_tree_matches_proofs() -> None:
    leaves = [_leaf(i) for i in range(2000)]
    root = merkle_root(leaves)
    for index in (0, 1, 999, 1998, 1999):
        assert verify_merkle_proof(root, leaves[index], merkle_proof(leaves, index))
