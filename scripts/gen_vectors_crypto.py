"""Generate the JSON test vectors of ``timecoin.crypto`` in ``tests/vectors/``.

Deterministic: running it twice writes identical files, and
``tests/crypto/test_crypto_vectors_gen.py`` checks that the checked-in files
are exactly what ``build_vectors()`` returns. Expected values come from
published standards (RFC 8032, RFC 5869, RFC 4231, BIP-350) or from the
small independent reference implementations in this file (Edwards-curve
arithmetic, merkle tree, MuHash with Python integers, bech32m), never from
the code under test.

Usage: ``python scripts/gen_vectors_crypto.py [--check]``.
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

from timecoin.crypto.domains import DOMAIN_ADDRESS  # noqa: E402

# ---------------------------------------------------------------------------
# RFC 8032, section 7.1: Ed25519 test vectors (seed, public key, message,
# signature), transcribed from the RFC.
# ---------------------------------------------------------------------------

_MESSAGE_1024 = (
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
    "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
    "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
    "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
    "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
    "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
    "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
    "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
    "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
    "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
    "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
    "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
    "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
    "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
    "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
    "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
    "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
    "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
    "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
    "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
    "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
    "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0"
)

RFC8032_VECTORS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "TEST 1",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "TEST 2",
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "TEST 3",
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "TEST 1024",
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        _MESSAGE_1024,
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
        "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
    ),
    (
        "TEST SHA(abc)",
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
)

# ---------------------------------------------------------------------------
# Reference Edwards25519 arithmetic (RFC 8032, section 5.1), used to build
# and annotate the edge cases. Slow and variable-time: test use only.
# ---------------------------------------------------------------------------

Point = tuple[int, int, int, int]

FIELD_P = 2**255 - 19
GROUP_L = 2**252 + 27742317777372353535851937790883648493
CURVE_D = -121665 * pow(121666, -1, FIELD_P) % FIELD_P
SQRT_M1 = pow(2, (FIELD_P - 1) // 4, FIELD_P)
IDENTITY: Point = (0, 1, 1, 0)


def point_add(p: Point, q: Point) -> Point:
    """Add two points in extended coordinates."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % FIELD_P
    b = (y1 + x1) * (y2 + x2) % FIELD_P
    c = 2 * t1 * t2 * CURVE_D % FIELD_P
    d = 2 * z1 * z2 % FIELD_P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % FIELD_P, g * h % FIELD_P, f * g % FIELD_P, e * h % FIELD_P)


def point_mul(scalar: int, p: Point) -> Point:
    """Multiply a point by a non-negative integer."""
    result = IDENTITY
    while scalar:
        if scalar & 1:
            result = point_add(result, p)
        p = point_add(p, p)
        scalar >>= 1
    return result


def point_equal(p: Point, q: Point) -> bool:
    """Projective equality."""
    return (p[0] * q[2] - q[0] * p[2]) % FIELD_P == 0 and (p[1] * q[2] - q[1] * p[2]) % FIELD_P == 0


def point_encode(p: Point) -> bytes:
    """Canonical 32-byte encoding."""
    zinv = pow(p[2], -1, FIELD_P)
    x, y = p[0] * zinv % FIELD_P, p[1] * zinv % FIELD_P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def point_decode(data: bytes, *, canonical: bool) -> Point | None:
    """Decode 32 bytes; ``canonical=False`` also accepts y >= p and a negative zero x."""
    value = int.from_bytes(data, "little")
    sign, y = value >> 255, value & ((1 << 255) - 1)
    if y >= FIELD_P:
        if canonical:
            return None
        y -= FIELD_P
    x2 = (y * y - 1) * pow(CURVE_D * y * y + 1, -1, FIELD_P) % FIELD_P
    x = pow(x2, (FIELD_P + 3) // 8, FIELD_P)
    if (x * x - x2) % FIELD_P:
        x = x * SQRT_M1 % FIELD_P
    if (x * x - x2) % FIELD_P:
        return None
    if x == 0 and sign and canonical:
        return None
    if x & 1 != sign:
        x = -x % FIELD_P
    return (x, y, 1, x * y % FIELD_P)


BASE = point_decode((4 * pow(5, -1, FIELD_P) % FIELD_P).to_bytes(32, "little"), canonical=True)
if BASE is None:  # pragma: no cover - constant
    raise RuntimeError("base point does not decode")
BASE_POINT: Point = BASE


def _sha512_int(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def secret_scalar(seed: bytes) -> tuple[int, bytes]:
    """Return the clamped secret scalar and the nonce prefix of an RFC 8032 seed."""
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def challenge(r_bytes: bytes, a_bytes: bytes, message: bytes) -> int:
    """The RFC 8032 challenge ``k = SHA-512(R || A || M) mod L``."""
    return _sha512_int(r_bytes, a_bytes, message) % GROUP_L


def ref_public_key(seed: bytes) -> bytes:
    """Public key of a seed."""
    return point_encode(point_mul(secret_scalar(seed)[0], BASE_POINT))


def ref_sign(seed: bytes, message: bytes, a_bytes: bytes | None = None) -> bytes:
    """RFC 8032 signature; ``a_bytes`` overrides the public key hashed into the challenge."""
    scalar, prefix = secret_scalar(seed)
    if a_bytes is None:
        a_bytes = point_encode(point_mul(scalar, BASE_POINT))
    r = _sha512_int(prefix, message) % GROUP_L
    r_bytes = point_encode(point_mul(r, BASE_POINT))
    s = (r + challenge(r_bytes, a_bytes, message) * scalar) % GROUP_L
    return r_bytes + s.to_bytes(32, "little")


def equations(public_key: bytes, message: bytes, signature: bytes) -> dict[str, bool]:
    """Which verification equations hold under permissive decoding.

    ``cofactorless``: ``[S]B == R + [k]A``; ``cofactored``:
    ``[8][S]B == [8]R + [8][k]A``. Both decode A and R permissively (y >= p,
    negative zero) and take S as an integer without range check, as the most
    lenient verifiers do; undecodable points make both false.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return {"cofactorless": False, "cofactored": False}
    a_point = point_decode(public_key, canonical=False)
    r_point = point_decode(signature[:32], canonical=False)
    if a_point is None or r_point is None:
        return {"cofactorless": False, "cofactored": False}
    s = int.from_bytes(signature[32:], "little")
    k = challenge(signature[:32], public_key, message)
    lhs = point_mul(s, BASE_POINT)
    rhs = point_add(r_point, point_mul(k, a_point))
    return {
        "cofactorless": point_equal(lhs, rhs),
        "cofactored": point_equal(point_mul(8, lhs), point_mul(8, rhs)),
    }


def torsion_points() -> list[Point]:
    """The 8 points of order dividing 8, as multiples of a generator of the torsion group."""
    y = 2
    while True:
        candidate = point_decode(y.to_bytes(32, "little"), canonical=True)
        if candidate is not None:
            torsion = point_mul(GROUP_L, candidate)
            if not point_equal(point_mul(4, torsion), IDENTITY):
                return [point_mul(i, torsion) for i in range(8)]
        y += 1


def _le(value: int) -> bytes:
    return value.to_bytes(32, "little")


def ed25519_rfc8032() -> dict[str, Any]:
    """RFC 8032 section 7.1 vectors, each re-derived by the reference code."""
    cases = []
    for name, seed, public_key, message, signature in RFC8032_VECTORS:
        seed_b, msg_b = bytes.fromhex(seed), bytes.fromhex(message)
        if ref_public_key(seed_b).hex() != public_key or ref_sign(seed_b, msg_b).hex() != signature:
            raise RuntimeError(f"reference Ed25519 disagrees with RFC 8032 {name}")
        cases.append(
            {
                "name": name,
                "seed": seed,
                "public_key": public_key,
                "message": message,
                "signature": signature,
            }
        )
    return {
        "description": "RFC 8032 section 7.1 Ed25519 test vectors (seed is the RFC's SECRET KEY)",
        "cases": cases,
    }


def ed25519_edge() -> dict[str, Any]:
    """Crafted Ed25519 cases with libsodium's verdict (``expected``)."""
    seed = hashlib.sha256(b"TIMECOIN/test/ed25519-edge-key").digest()
    scalar, _ = secret_scalar(seed)
    a_point = point_mul(scalar, BASE_POINT)
    public_key = point_encode(a_point)
    message = b"TIMECOIN ed25519 edge case"
    signature = ref_sign(seed, message)
    r_bytes, s_int = signature[:32], int.from_bytes(signature[32:], "little")
    torsion = torsion_points()
    identity_enc = point_encode(IDENTITY)
    identity_sig = identity_enc + bytes(32)
    high = 1 << 255
    cases: list[dict[str, Any]] = []

    def add(name: str, pk: bytes, msg: bytes, sig: bytes, expected: bool, reason: str) -> None:
        cases.append(
            {
                "name": name,
                "public_key": pk.hex(),
                "message": msg.hex(),
                "signature": sig.hex(),
                "expected": expected,
                "reason": reason,
                "equations": equations(pk, msg, sig),
            }
        )

    add("valid", public_key, message, signature, True, "honest signature")
    add("valid-empty-message", public_key, b"", ref_sign(seed, b""), True, "honest signature")

    for multiple, point in enumerate(torsion):
        order = next(n for n in (1, 2, 4, 8) if point_equal(point_mul(n, point), IDENTITY))
        add(
            f"small-order-public-key-{multiple}T-order-{order}",
            point_encode(point),
            message,
            identity_sig,
            False,
            f"public key {multiple}T (T generates the 8-torsion) of order {order}, "
            "R = identity, S = 0",
        )
    add(
        "small-order-public-key-and-R",
        point_encode(torsion[1]),
        message,
        point_encode(torsion[1]) + bytes(32),
        False,
        "public key and R the same order-8 point, S = 0",
    )

    non_canonical_small = [
        ("identity-y-p-plus-1", _le(FIELD_P + 1)),
        ("identity-y-p-plus-1-sign", _le(FIELD_P + 1 | high)),
        ("order-4-y-p", _le(FIELD_P)),
        ("order-4-y-p-sign", _le(FIELD_P | high)),
        ("identity-negative-zero", _le(1 | high)),
        ("order-2-negative-zero", _le(FIELD_P - 1 | high)),
    ]
    for name, encoded in non_canonical_small:
        add(
            f"non-canonical-small-order-public-key-{name}",
            encoded,
            message,
            identity_sig,
            False,
            "non-canonical encoding of a small-order public key, R = identity, S = 0",
        )

    y_large = next(
        y
        for y in range(2, 19)
        if (pt := point_decode(_le(y), canonical=True)) is not None
        and not point_equal(point_mul(8, pt), IDENTITY)
    )
    add(
        "non-canonical-public-key-y-ge-p",
        _le(y_large + FIELD_P),
        message,
        identity_sig,
        False,
        f"public key with y = p + {y_large} (>= p): non-canonical encoding",
    )

    mixed = point_add(a_point, torsion[1])
    mixed_enc = point_encode(mixed)
    found: dict[bool, tuple[bytes, bytes]] = {}
    counter = 0
    while len(found) < 2:
        msg = message + b" #" + str(counter).encode()
        sig = ref_sign(seed, msg, a_bytes=mixed_enc)
        found.setdefault(challenge(sig[:32], mixed_enc, msg) % 8 == 0, (msg, sig))
        counter += 1
    add(
        "mixed-order-public-key-k-not-multiple-of-8",
        mixed_enc,
        *found[False],
        False,
        "public key A + T (T of order 8): the cofactorless equation fails unless 8 | k",
    )
    add(
        "mixed-order-public-key-k-multiple-of-8",
        mixed_enc,
        *found[True],
        True,
        "public key A + T (T of order 8) and 8 | k: the cofactorless equation holds; "
        "libsodium does not check the prime-order subgroup",
    )

    k_identity = challenge(identity_enc, public_key, message)
    add(
        "small-order-R",
        public_key,
        message,
        identity_enc + _le(k_identity * scalar % GROUP_L),
        False,
        "R = identity with S = k*a: the equation holds but R has small order",
    )
    r_non_canonical = _le(FIELD_P + 1)
    k_non_canonical = challenge(r_non_canonical, public_key, message)
    add(
        "non-canonical-small-order-R",
        public_key,
        message,
        r_non_canonical + _le(k_non_canonical * scalar % GROUP_L),
        False,
        "R = identity encoded with y = p + 1, S = k*a",
    )
    add(
        "non-canonical-S-plus-L",
        public_key,
        message,
        r_bytes + _le(s_int + GROUP_L),
        False,
        "S + L of a valid signature: S >= L is not canonical",
    )
    add(
        "non-canonical-S-plus-8L",
        public_key,
        message,
        r_bytes + _le(s_int + 8 * GROUP_L),
        False,
        "S + 8L of a valid signature",
    )

    y_off = next(y for y in range(2, 100) if point_decode(_le(y), canonical=False) is None)
    add(
        "public-key-not-on-curve",
        _le(y_off),
        message,
        signature,
        False,
        f"y = {y_off} has no x on the curve",
    )
    add(
        "R-not-on-curve",
        public_key,
        message,
        _le(y_off) + signature[32:],
        False,
        f"R with y = {y_off} has no x on the curve",
    )
    add(
        "negated-public-key",
        _le(int.from_bytes(public_key, "little") ^ high),
        message,
        signature,
        False,
        "public key with the sign bit of x flipped (-A)",
    )
    add(
        "modified-message",
        public_key,
        message[:-1] + bytes([message[-1] ^ 1]),
        signature,
        False,
        "one message bit flipped",
    )
    add(
        "modified-R",
        public_key,
        message,
        bytes([signature[0] ^ 1]) + signature[1:],
        False,
        "one bit of R flipped",
    )
    add(
        "modified-S",
        public_key,
        message,
        signature[:32] + bytes([signature[32] ^ 1]) + signature[33:],
        False,
        "one bit of S flipped",
    )
    add("zero-signature", public_key, message, bytes(64), False, "all-zero signature")
    add("short-public-key", public_key[:31], message, signature, False, "31-byte public key")
    add("long-public-key", public_key + b"\x00", message, signature, False, "33-byte public key")
    add("short-signature", public_key, message, signature[:63], False, "63-byte signature")
    add("long-signature", public_key, message, signature + b"\x00", False, "65-byte signature")
    add("empty-signature", public_key, message, b"", False, "empty signature")
    return {
        "description": (
            "Ed25519 edge cases. expected: the verdict of timecoin.crypto.verify "
            "(libsodium crypto_sign_verify_detached). equations: whether the "
            "cofactorless and cofactored equations hold under permissive decoding, "
            "showing which cases a lenient verifier would accept."
        ),
        "cases": cases,
    }


# ---------------------------------------------------------------------------
# Merkle trees: reference implementation of the rule in docs/spec/crypto.md.
# ---------------------------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_merkle_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """All levels of the tree, leaf nodes first."""
    levels = [[_sha256(b"\x00" + leaf) for leaf in leaves]]
    while len(levels[-1]) > 1:
        nodes = levels[-1]
        parents = []
        for i in range(0, len(nodes), 2):
            pair = nodes[i : i + 2]
            parents.append(_sha256(b"\x01" + pair[0] + pair[1]) if len(pair) == 2 else pair[0])
        levels.append(parents)
    return levels


def ref_merkle_root(leaves: list[bytes]) -> bytes:
    """Merkle root (32 zero bytes when empty)."""
    return ref_merkle_levels(leaves)[-1][0] if leaves else bytes(32)


def ref_merkle_siblings(leaves: list[bytes], index: int) -> list[bytes]:
    """Siblings on the path of leaf ``index``, bottom up."""
    siblings = []
    for level in ref_merkle_levels(leaves)[:-1]:
        if index ^ 1 < len(level):
            siblings.append(level[index ^ 1])
        index >>= 1
    return siblings


def merkle_leaf(i: int) -> bytes:
    """Deterministic test leaf ``i``."""
    return _sha256(b"TIMECOIN/test/leaf" + i.to_bytes(4, "big"))


def merkle() -> dict[str, Any]:
    """Merkle roots for several sizes, proofs for size 7, and the CVE-2012-2459 pair."""
    roots = []
    for size in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33):
        leaves = [merkle_leaf(i) for i in range(size)]
        roots.append(
            {
                "leaf_count": size,
                "leaves": [leaf.hex() for leaf in leaves],
                "root": ref_merkle_root(leaves).hex(),
            }
        )
    seven = [merkle_leaf(i) for i in range(7)]
    proofs = [
        {
            "index": index,
            "leaf_count": len(seven),
            "leaf": seven[index].hex(),
            "siblings": [s.hex() for s in ref_merkle_siblings(seven, index)],
            "root": ref_merkle_root(seven).hex(),
        }
        for index in range(len(seven))
    ]
    a, b, c = merkle_leaf(0), merkle_leaf(1), merkle_leaf(2)
    return {
        "description": (
            "leaf node = sha256(0x00 || leaf), inner node = sha256(0x01 || left || right), "
            "odd last node promoted unchanged; empty root = 32 zero bytes. "
            "leaf i = sha256('TIMECOIN/test/leaf' || i as 4 bytes big-endian)."
        ),
        "roots": roots,
        "proofs": proofs,
        "duplicate_leaf": {
            "abc": ref_merkle_root([a, b, c]).hex(),
            "abcc": ref_merkle_root([a, b, c, c]).hex(),
        },
    }


# ---------------------------------------------------------------------------
# MuHash3072 with Python integers.
# ---------------------------------------------------------------------------

MUHASH_P = 2**3072 - 1103717


def ref_muhash_element(data: bytes) -> int:
    """Element residue: SHAKE-256(SHA-256(data)) to 384 bytes, little-endian, mod p, 0 -> 1."""
    value = int.from_bytes(hashlib.shake_256(_sha256(data)).digest(384), "little") % MUHASH_P
    return value or 1


def ref_muhash_state(ops: list[tuple[str, bytes]]) -> int:
    """Normalized state after applying ``("insert" | "remove", data)`` operations."""
    numerator = denominator = 1
    for op, data in ops:
        if op == "insert":
            numerator = numerator * ref_muhash_element(data) % MUHASH_P
        else:
            denominator = denominator * ref_muhash_element(data) % MUHASH_P
    return numerator * pow(denominator, -1, MUHASH_P) % MUHASH_P


def muhash() -> dict[str, Any]:
    """MuHash3072 digests of a few operation sequences."""
    sequences: list[tuple[str, list[tuple[str, bytes]]]] = [
        ("empty", []),
        ("one-empty-element", [("insert", b"")]),
        ("one-element", [("insert", b"timecoin")]),
        ("three-elements", [("insert", b"a"), ("insert", b"b"), ("insert", b"c")]),
        ("three-elements-reordered", [("insert", b"c"), ("insert", b"a"), ("insert", b"b")]),
        (
            "insert-then-remove",
            [("insert", b"a"), ("insert", b"b"), ("insert", b"c"), ("remove", b"b")],
        ),
        ("two-elements", [("insert", b"a"), ("insert", b"c")]),
        ("duplicate-element", [("insert", b"a"), ("insert", b"a")]),
        ("remove-only", [("remove", b"a")]),
        (
            "many-elements",
            [("insert", i.to_bytes(4, "big") * 9) for i in range(40)]
            + [("remove", i.to_bytes(4, "big") * 9) for i in range(0, 40, 3)],
        ),
    ]
    cases = []
    for name, ops in sequences:
        state = ref_muhash_state(ops).to_bytes(384, "little")
        cases.append(
            {
                "name": name,
                "ops": [[op, data.hex()] for op, data in ops],
                "state": state.hex(),
                "digest": _sha256(state).hex(),
            }
        )
    elements = [
        {"data": data.hex(), "residue": f"{ref_muhash_element(data):x}"}
        for data in (b"", b"a", b"timecoin")
    ]
    return {
        "description": (
            "MuHash3072 over p = 2**3072 - 1103717; element = SHAKE-256(SHA-256(data)) "
            "expanded to 384 bytes, little-endian, mod p; state = normalized value as "
            "384 little-endian bytes; digest = sha256(state). residue in hex."
        ),
        "elements": elements,
        "cases": cases,
    }


# ---------------------------------------------------------------------------
# Bech32m (BIP-350) and TimeCoin addresses.
# ---------------------------------------------------------------------------

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3


def ref_polymod(values: list[int]) -> int:
    """BIP-173 checksum polynomial remainder."""
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def ref_bech32_encode(hrp: str, data: list[int], const: int = BECH32M_CONST) -> str:
    """Encode with the bech32 (const 1) or bech32m checksum."""
    expanded = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    mod = ref_polymod(expanded + data + [0] * 6) ^ const
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)


def ref_to_5bit(payload: bytes) -> list[int]:
    """Bytes to 5-bit groups, zero padded."""
    bits = "".join(f"{byte:08b}" for byte in payload)
    bits += "0" * (-len(bits) % 5)
    return [int(bits[i : i + 5], 2) for i in range(0, len(bits), 5)]


BIP350_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11" + "l" * 83 + "udsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

BIP350_INVALID = [
    ("\x201xj0phk", "HRP character out of range"),
    ("\x7f1g6xzxy", "HRP character out of range"),
    ("\x801vctc34", "HRP character out of range"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "overall max length exceeded",
    ),
    ("qyrz8wqd2c9m", "no separator character"),
    ("1qyrz8wqd2c9m", "empty HRP"),
    ("y1b0jsk6g", "invalid data character"),
    ("lt1igcx5c0", "invalid data character"),
    ("in1muywd", "too short checksum"),
    ("mm1crxm3i", "invalid character in checksum"),
    ("au1s5cgom", "invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
]


def address() -> dict[str, Any]:
    """BIP-350 checksum vectors plus TimeCoin address vectors."""
    networks = ("time", "ttime", "dtime")
    addresses = []
    for _name, _seed, public_key, _msg, _sig in RFC8032_VECTORS:
        payload = _sha256(DOMAIN_ADDRESS + bytes.fromhex(public_key))[:20]
        for hrp in networks:
            addresses.append(
                {
                    "hrp": hrp,
                    "public_key": public_key,
                    "payload": payload.hex(),
                    "address": ref_bech32_encode(hrp, ref_to_5bit(payload)),
                }
            )
    valid = addresses[0]["address"]
    payload = bytes.fromhex(addresses[0]["payload"])
    last = valid[-1]
    swapped = BECH32_CHARSET[(BECH32_CHARSET.index(last) + 1) % 32]
    invalid = [
        (valid.upper(), "time", None, "upper case is accepted"),
        (valid[:6] + valid[6].upper() + valid[7:], "time", "AddressFormatError", "mixed case"),
        (addresses[1]["address"], "time", "AddressNetworkError", "testnet address on mainnet"),
        (valid, "ttime", "AddressNetworkError", "mainnet address on testnet"),
        (valid[:-1] + swapped, "time", "AddressChecksumError", "last character changed"),
        (
            ref_bech32_encode("time", ref_to_5bit(payload), BECH32_CONST),
            "time",
            "AddressChecksumError",
            "bech32 (BIP-173) checksum instead of bech32m",
        ),
        (valid[:10] + "b" + valid[11:], "time", "AddressFormatError", "'b' is not in the alphabet"),
        (
            ref_bech32_encode("time", ref_to_5bit(payload[:19])),
            "time",
            "AddressFormatError",
            "19-byte payload",
        ),
        (
            ref_bech32_encode("time", ref_to_5bit(payload + b"\x00")),
            "time",
            "AddressFormatError",
            "21-byte payload",
        ),
        (
            ref_bech32_encode("time", [*ref_to_5bit(payload), 0]),
            "time",
            "AddressFormatError",
            "33 data characters (extra padding group)",
        ),
        (valid.replace("1", "", 1), "time", "AddressFormatError", "no separator"),
        ("time1" + "q" * 90, "time", "AddressFormatError", "longer than 90 characters"),
        ("time1qqqqq", "time", "AddressFormatError", "checksum too short"),
    ]
    return {
        "description": (
            "bip350_valid / bip350_invalid: BIP-350 bech32m checksum test vectors. "
            "addresses: payload = sha256('TIMECOIN/addr/v1' || public_key)[:20] in "
            "bech32m with the network hrp. decode_cases: error is the exception "
            "class raised by decode_address(text, expected_hrp), or null if valid."
        ),
        "bip350_valid": BIP350_VALID,
        "bip350_invalid": [{"text": text, "reason": reason} for text, reason in BIP350_INVALID],
        "addresses": addresses,
        "decode_cases": [
            {"text": text, "expected_hrp": hrp, "error": error, "reason": reason}
            for text, hrp, error, reason in invalid
        ],
    }


# ---------------------------------------------------------------------------
# HMAC-SHA256 (RFC 4231) and HKDF-SHA256 (RFC 5869, appendix A).
# ---------------------------------------------------------------------------


def kdf() -> dict[str, Any]:
    """Published HMAC-SHA256 and HKDF-SHA256 test cases."""
    return {
        "description": "RFC 4231 HMAC-SHA-256 test cases 1-2; RFC 5869 A.1-A.3 HKDF-SHA256",
        "hmac_sha256": [
            {
                "name": "RFC 4231 test case 1",
                "key": "0b" * 20,
                "data": b"Hi There".hex(),
                "mac": "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            },
            {
                "name": "RFC 4231 test case 2",
                "key": b"Jefe".hex(),
                "data": b"what do ya want for nothing?".hex(),
                "mac": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            },
        ],
        "hkdf_sha256": [
            {
                "name": "RFC 5869 test case 1",
                "ikm": "0b" * 22,
                "salt": bytes(range(0x00, 0x0D)).hex(),
                "info": bytes(range(0xF0, 0xFA)).hex(),
                "length": 42,
                "prk": "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
                "okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                "34007208d5b887185865",
            },
            {
                "name": "RFC 5869 test case 2",
                "ikm": bytes(range(0x00, 0x50)).hex(),
                "salt": bytes(range(0x60, 0xB0)).hex(),
                "info": bytes(range(0xB0, 0x100)).hex(),
                "length": 82,
                "prk": "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
                "okm": "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                "cc30c58179ec3e87c14c01d5c1f3434f1d87",
            },
            {
                "name": "RFC 5869 test case 3",
                "ikm": "0b" * 22,
                "salt": "",
                "info": "",
                "length": 42,
                "prk": "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
                "okm": "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                "9d201395faa4b61a96c8",
            },
        ],
    }


def build_vectors() -> dict[str, Any]:
    """Return ``{file name: JSON object}`` for every crypto vector file."""
    return {
        "crypto_ed25519_rfc8032.json": ed25519_rfc8032(),
        "crypto_ed25519_edge.json": ed25519_edge(),
        "crypto_merkle.json": merkle(),
        "crypto_muhash.json": muhash(),
        "crypto_address.json": address(),
        "crypto_kdf.json": kdf(),
    }


def render(obj: Any) -> str:
    """The exact text written for one vector file."""
    return json.dumps(obj, indent=2, ensure_ascii=True) + "\n"


def main() -> int:
    """Write the vector files, or with ``--check`` report whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    stale = []
    for name, obj in build_vectors().items():
        path = VECTOR_DIR / name
        text = render(obj)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    for name in stale:
        print(f"stale: {name}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
