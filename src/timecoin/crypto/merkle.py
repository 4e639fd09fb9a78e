"""Domain-separated binary merkle trees over 32-byte digests.

Rule (see ``docs/spec/crypto.md``):

- a leaf node is ``sha256(0x00 || leaf)``, an inner node is
  ``sha256(0x01 || left || right)``, so a leaf can never pass for an inner
  node (no second-preimage by tree reinterpretation);
- a level with an odd number of nodes promotes its last node unchanged to
  the next level; nodes are never duplicated, so the CVE-2012-2459
  ambiguity (``[a, b, c]`` and ``[a, b, c, c]`` sharing a root) cannot occur;
- the root of an empty list is 32 zero bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from timecoin.crypto.hashes import HASH_SIZE, ZERO_HASH

__all__ = [
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "MerkleProof",
    "merkle_proof",
    "merkle_root",
    "verify_merkle_proof",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

_sha256 = hashlib.sha256


def _leaf_level(leaves: Sequence[bytes]) -> list[bytes]:
    for position, leaf in enumerate(leaves):
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf {position} must be {HASH_SIZE} bytes, got {len(leaf)}")
    return [_sha256(LEAF_PREFIX + leaf).digest() for leaf in leaves]


def _next_level(level: list[bytes]) -> list[bytes]:
    count = len(level)
    parents = [
        _sha256(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, count - 1, 2)
    ]
    if count & 1:
        parents.append(level[-1])
    return parents


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Return the merkle root of ``leaves`` (32-byte digests, e.g. txids).

    Raises ``ValueError`` if a leaf is not 32 bytes long.
    """
    if not leaves:
        return ZERO_HASH
    level = _leaf_level(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


@dataclass(frozen=True, slots=True)
class MerkleProof:
    """Inclusion proof of the leaf at ``index`` in a tree of ``leaf_count`` leaves.

    ``siblings`` lists the sibling node at each level from the leaf up,
    skipping levels where the path node was promoted without a sibling.
    """

    index: int
    leaf_count: int
    siblings: tuple[bytes, ...]


def merkle_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    """Return the proof that ``leaves[index]`` is in ``merkle_root(leaves)``.

    Raises ``ValueError`` if ``index`` is out of range or a leaf is not 32 bytes.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"index must be in [0, {len(leaves)}), got {index}")
    level = _leaf_level(leaves)
    siblings: list[bytes] = []
    position = index
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            siblings.append(level[sibling])
        level = _next_level(level)
        position >>= 1
    return MerkleProof(index=index, leaf_count=len(leaves), siblings=tuple(siblings))


def verify_merkle_proof(root: bytes, leaf: bytes, proof: MerkleProof) -> bool:
    """Return whether ``proof`` shows that ``leaf`` is in the tree with root ``root``.

    The hash path is derived from ``(index, leaf_count)`` and must match the
    proof exactly: an index outside ``[0, leaf_count)``, a sibling count
    other than the one the tree shape requires, or a sibling or leaf that is
    not 32 bytes make it invalid. Never raises.

    A valid proof always shows that ``leaf`` is a leaf of the tree. The root
    does not commit to the number of leaves, so a ``leaf_count`` giving the
    same hash path verifies too; for a ``leaf_count`` authenticated elsewhere
    (e.g. signed next to the root) the index is bound as well.
    """
    try:
        return _verify_path(root, leaf, proof)
    except TypeError:
        return False


def _verify_path(root: bytes, leaf: bytes, proof: MerkleProof) -> bool:
    index, count, siblings = proof.index, proof.leaf_count, proof.siblings
    if (
        not isinstance(index, int)
        or not isinstance(count, int)
        or not 0 <= index < count
        or len(leaf) != HASH_SIZE
        or len(root) != HASH_SIZE
    ):
        return False
    node = _sha256(LEAF_PREFIX + leaf).digest()
    used = 0
    position = index
    while count > 1:
        if position ^ 1 < count:
            if used == len(siblings):
                return False
            sibling = siblings[used]
            used += 1
            if len(sibling) != HASH_SIZE:
                return False
            if position & 1:
                node = _sha256(NODE_PREFIX + sibling + node).digest()
            else:
                node = _sha256(NODE_PREFIX + node + sibling).digest()
        position >>= 1
        count = (count + 1) >> 1
    return used == len(siblings) and node == root
