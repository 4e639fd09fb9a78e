"""Generate the JSON test vectors of the ledger rules in ``tests/vectors/``.

- ``ledger_transactions.json``: a UTXO set, a transaction (canonical bytes)
  and a height, with the expected outcome: the fee, or the reject code of
  the first rule broken (docs/spec/ledger.md gives the order).
- ``ledger_utxo_commitment.json``: UTXO commitment elements of coins and the
  MuHash3072 digest of sets built from them.
- ``ledger_genesis.json``: a genesis spec and the block it builds.

Keys are derived from fixed seeds and Ed25519 signing is deterministic, so
the files are reproducible; ``tests/ledger/test_ledger_vectors.py`` checks
that the checked-in files are exactly what ``build_vectors()`` returns.

Usage: ``python scripts/gen_vectors_ledger.py [--check]``.
"""

from __future__ import annotations

import argparse
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

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis_state  # noqa: E402
from timecoin.crypto import SigningKey, address_from_public_key, sha256  # noqa: E402
from timecoin.encoding import encode  # noqa: E402
from timecoin.ledger import (  # noqa: E402
    MemoryUtxoSet,
    check_transaction,
    compute_utxo_commitment,
    encode_utxo_element,
    validate_transaction,
)
from timecoin.params import COIN, MINIMAL, Tier  # noqa: E402
from timecoin.testing import signed_transaction  # noqa: E402
from timecoin.types import (  # noqa: E402
    NO_COLLATERAL,
    Coin,
    InvalidTransaction,
    MasternodeRegistration,
    OutPoint,
    Payload,
    Transaction,
    compute_block_hash,
    compute_txid,
)

PARAMS = MINIMAL
HEIGHT = 100
FEE = 10_000


def key(n: int) -> SigningKey:
    return SigningKey.from_seed(bytes([n]) * 32)


ALICE, BOB, CAROL = key(1), key(2), key(3)


def addr(k: SigningKey) -> bytes:
    return address_from_public_key(k.public_key)


def outpoint(n: int) -> OutPoint:
    return OutPoint(txid=sha256(b"vector-funding" + bytes([n])), index=n % 3)


def sign(
    spends: list[tuple[OutPoint, SigningKey]],
    outputs: list[tuple[int, bytes]],
    *,
    lock_time: int = 0,
    payload: Payload | None = None,
    owner: SigningKey | None = None,
) -> Transaction:
    return signed_transaction(
        spends, outputs, PARAMS.chain_id, lock_time=lock_time, payload=payload, owner=owner
    )


def utxo_json(coins: dict[OutPoint, Coin]) -> list[dict[str, Any]]:
    return [
        {
            "txid": op.txid.hex(),
            "index": op.index,
            "amount": c.amount,
            "address": c.address.hex(),
            "height": c.height,
        }
        for op, c in coins.items()
    ]


def outcome(tx: Transaction, coins: dict[OutPoint, Coin], height: int) -> dict[str, Any]:
    try:
        check_transaction(tx, PARAMS)
        fee = validate_transaction(tx, compute_txid(tx), MemoryUtxoSet(coins), PARAMS, height)
    except InvalidTransaction as exc:
        return {"reject_code": exc.reject_code}
    return {"fee": fee}


def transaction_cases() -> list[dict[str, Any]]:
    ten = 10 * COIN
    bronze = PARAMS.tier_params(Tier.BRONZE).collateral
    alice_coins = {outpoint(i): Coin(amount=ten, address=addr(ALICE), height=i) for i in range(3)}
    big = {outpoint(9): Coin(amount=bronze + FEE, address=addr(ALICE), height=1)}
    reg = MasternodeRegistration(
        tier=Tier.BRONZE,
        collateral_index=0,
        owner_key=BOB.public_key,
        operator_key=CAROL.public_key,
        reward_address=addr(CAROL),
        network_address=b"198.51.100.1:24300",
    )
    free = msgspec.structs.replace(reg, tier=Tier.FREE, collateral_index=NO_COLLATERAL)
    op0, op1 = outpoint(0), outpoint(1)
    transfer = sign([(op0, ALICE)], [(ten // 2, addr(BOB)), (ten // 2 - FEE, addr(ALICE))])
    cases: list[tuple[str, Transaction, dict[OutPoint, Coin], int]] = [
        ("valid-transfer", transfer, alice_coins, HEIGHT),
        (
            "valid-two-inputs",
            sign([(op0, ALICE), (op1, ALICE)], [(2 * ten - FEE, addr(BOB))]),
            alice_coins,
            HEIGHT,
        ),
        (
            "valid-registration",
            sign([(outpoint(9), ALICE)], [(bronze, addr(BOB))], payload=reg, owner=BOB),
            big,
            HEIGHT,
        ),
        (
            "valid-free-registration",
            sign([(op0, ALICE)], [(ten - FEE, addr(ALICE))], payload=free, owner=BOB),
            alice_coins,
            HEIGHT,
        ),
        (
            "valid-min-fee",
            sign([(op0, ALICE)], [(ten - PARAMS.min_fee, addr(BOB))]),
            alice_coins,
            HEIGHT,
        ),
        (
            "valid-lock-time-at-height",
            sign([(op0, ALICE)], [(ten - FEE, addr(BOB))], lock_time=HEIGHT),
            alice_coins,
            HEIGHT,
        ),
        ("bad-version", msgspec.structs.replace(transfer, version=2), alice_coins, HEIGHT),
        (
            "duplicate-input",
            sign([(op0, ALICE), (op0, ALICE)], [(ten, addr(BOB))]),
            alice_coins,
            HEIGHT,
        ),
        (
            "signature-count",
            msgspec.structs.replace(transfer, signatures=[]),
            alice_coins,
            HEIGHT,
        ),
        ("dust-output", sign([(op0, ALICE)], [(545, addr(BOB))]), alice_coins, HEIGHT),
        (
            "owner-signature-without-payload",
            msgspec.structs.replace(transfer, owner_signature=bytes(64)),
            alice_coins,
            HEIGHT,
        ),
        (
            "bad-collateral",
            sign([(outpoint(9), ALICE)], [(bronze - 1, addr(BOB))], payload=reg, owner=BOB),
            big,
            HEIGHT,
        ),
        (
            "lock-time",
            sign([(op0, ALICE)], [(ten - FEE, addr(BOB))], lock_time=HEIGHT + 1),
            alice_coins,
            HEIGHT,
        ),
        ("missing-input", transfer, {}, HEIGHT),
        ("wrong-key", sign([(op0, BOB)], [(ten - FEE, addr(BOB))]), alice_coins, HEIGHT),
        ("insufficient-funds", sign([(op0, ALICE)], [(ten + 1, addr(BOB))]), alice_coins, HEIGHT),
        (
            "fee-too-low",
            sign([(op0, ALICE)], [(ten - PARAMS.min_fee + 1, addr(BOB))]),
            alice_coins,
            HEIGHT,
        ),
        (
            "bad-signature",
            msgspec.structs.replace(transfer, signatures=[bytes(64)]),
            alice_coins,
            HEIGHT,
        ),
        (
            "bad-owner-signature",
            sign([(outpoint(9), ALICE)], [(bronze, addr(BOB))], payload=reg, owner=CAROL),
            big,
            HEIGHT,
        ),
    ]
    return [
        {
            "name": name,
            "height": height,
            "utxo": utxo_json(coins),
            "transaction": encode(tx).hex(),
            "txid": compute_txid(tx).hex(),
            "expected": outcome(tx, coins, height),
        }
        for name, tx, coins, height in cases
    ]


def commitment_vectors() -> dict[str, Any]:
    coins = [
        (OutPoint(txid=bytes(32), index=0), Coin(amount=0, address=bytes(20), height=0)),
        (
            OutPoint(txid=sha256(b"a"), index=1),
            Coin(amount=50 * COIN, address=addr(ALICE), height=7),
        ),
        (
            OutPoint(txid=sha256(b"b"), index=0xFFFF_FFFF),
            Coin(amount=1, address=addr(BOB), height=2**63 - 1),
        ),
    ]
    return {
        "description": (
            "UTXO commitment elements (outpoint key || encode(coin)) and MuHash3072 "
            "digests of sets of them (docs/spec/ledger.md)."
        ),
        "elements": [
            {**utxo_json({op: coin})[0], "element": encode_utxo_element(op, coin).hex()}
            for op, coin in coins
        ],
        "sets": [
            {
                "members": list(members),
                "commitment": compute_utxo_commitment([coins[i] for i in members]).hex(),
            }
            for members in ((), (0,), (1, 2), (0, 1, 2))
        ],
    }


def genesis_spec() -> GenesisSpec:
    def mn(n: int, tier: Tier) -> GenesisMasternode:
        return GenesisMasternode(
            tier=tier,
            owner_key=key(100 + n).public_key,
            operator_key=key(200 + n).public_key,
            reward_address=addr(key(100 + n)),
            network_address=f"127.0.0.1:{24300 + n}".encode(),
        )

    return GenesisSpec(
        params=PARAMS,
        timestamp_ms=1_767_225_600_000,
        allocations=((addr(ALICE), 1_000 * COIN), (addr(BOB), 250 * COIN)),
        masternodes=(mn(0, Tier.GOLD), mn(1, Tier.BRONZE), mn(2, Tier.FREE)),
    )


def genesis_vectors() -> dict[str, Any]:
    spec = genesis_spec()
    state = build_genesis_state(spec)
    block = state.block
    return {
        "description": "A genesis spec and the block build_genesis makes of it.",
        "spec": {
            "network": spec.params.name,
            "timestamp_ms": spec.timestamp_ms,
            "allocations": [{"address": a.hex(), "amount": v} for a, v in spec.allocations],
            "masternodes": [
                {
                    "tier": int(m.tier),
                    "owner_key": m.owner_key.hex(),
                    "operator_key": m.operator_key.hex(),
                    "reward_address": m.reward_address.hex(),
                    "network_address": m.network_address.hex(),
                }
                for m in spec.masternodes
            ],
        },
        "block": encode(block).hex(),
        "block_hash": compute_block_hash(block.header).hex(),
        "txids": [compute_txid(tx).hex() for tx in block.transactions],
        "utxo_commitment": block.header.utxo_commitment.hex(),
    }


def build_vectors() -> dict[str, str]:
    """File name -> exact file content of every ledger vector file."""
    contents = {
        "ledger_transactions.json": {
            "description": (
                "Transactions checked by check_transaction then validate_transaction "
                f"on the {PARAMS.name} parameters (chain id {PARAMS.chain_id:#x}): "
                "the fee, or the reject code of the first broken rule."
            ),
            "network": PARAMS.name,
            "cases": transaction_cases(),
        },
        "ledger_utxo_commitment.json": commitment_vectors(),
        "ledger_genesis.json": genesis_vectors(),
    }
    return {name: json.dumps(value, indent=1) + "\n" for name, value in contents.items()}


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
